// How values spread: histograms, one series or several overlaid (chosen vs
// rejected rewards, reply lengths), and box plots of several groups side by
// side. Overlaid histograms share their bins, computed here from all the
// values: left to Plotly, each trace gets its own bins, and bars of different
// widths cannot be compared by height.
import { axis, ChartError, colorAt, figure, frame, THEME } from './theme';
import type { PlotlyFigure } from '../plotly';

/** One series of values, named for the legend. */
export interface Distribution {
  name: string;
  values: ArrayLike<number>;
  color?: string;
}

/** Bin edges: start, start + size, ... up to end (Plotly's xbins). */
export interface Bins {
  start: number;
  end: number;
  size: number;
}

export interface HistogramOptions {
  title?: string;
  xTitle?: string;
  /** Default from `normalize`: 'count', 'percent', 'share' or 'density'. */
  yTitle?: string;
  /** A bin count to aim at (the size is rounded to 1, 2, 2.5 or 5 times a power of ten), or the bins themselves. Default: √n, between 10 and 50. */
  bins?: number | Bins;
  /**
   * What a bar's height is: a count (default), a percent or share of its own
   * series, or a density (share per unit of x). Series of different sizes are
   * compared by shape only when normalised.
   */
  normalize?: 'count' | 'percent' | 'probability' | 'density';
  /** Stack the series instead of overlaying them. */
  stacked?: boolean;
  height?: number;
}

const round12 = (v: number) => Number(v.toPrecision(12));

/** Checks every value is finite (a NaN reward is a bug upstream, not a value to hide). */
function finite(d: Distribution): number[] {
  return Array.from(d.values, (v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ChartError(`charts: series "${d.name}", value ${i} is ${v}; expected a finite number`);
    return v;
  });
}

/**
 * Bins covering every value of every series: a round size near
 * (max - min) / target, edges on multiples of it. Integer data (token
 * counts) gets a whole-number size and edges at half-integers, so each bar
 * is centred on the integers it counts.
 */
export function sharedBins(series: ArrayLike<number>[], target?: number): Bins {
  const all = series.flatMap((s) => Array.from(s));
  if (all.length === 0) throw new ChartError('charts: no values to bin');
  let min = Infinity;
  let max = -Infinity;
  for (const v of all) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const count = target ?? Math.min(50, Math.max(10, Math.ceil(Math.sqrt(Math.max(...series.map((s) => s.length))))));
  const integers = all.every(Number.isInteger);
  const raw = max > min ? (max - min) / count : Math.abs(min) / 10 || 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  let size = ([1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * power);
  if (integers) size = Math.max(1, Math.round(size));
  const start = round12(Math.floor(min / size) * size - (integers ? 0.5 : 0));
  // The last bin holds max: edges run to the first one above it.
  const end = round12(start + (Math.floor((max - start) / size) + 1) * size);
  return { start, end, size: round12(size) };
}

const Y_TITLES = { count: 'count', percent: 'percent', probability: 'share', density: 'density' } as const;

/** Histograms of one series or several overlaid on shared bins. */
export function histogramChart(series: Distribution | Distribution[], options: HistogramOptions = {}): PlotlyFigure {
  const list = Array.isArray(series) ? series : [series];
  if (list.length === 0) throw new ChartError('charts: histogramChart got no series');
  const values = list.map(finite);
  const bins = typeof options.bins === 'object' ? options.bins : sharedBins(values, options.bins);
  if (!(bins.size > 0 && bins.end > bins.start)) throw new ChartError(`charts: bins ${JSON.stringify(bins)}; expected size > 0 and end > start`);
  const normalize = options.normalize ?? 'count';
  const histnorm = { count: '', percent: 'percent', probability: 'probability', density: 'probability density' }[normalize];
  const overlaid = list.length > 1 && !options.stacked;
  const data = list.map((d, i) => ({
    type: 'histogram',
    name: d.name,
    x: values[i],
    xbins: bins,
    histnorm,
    opacity: overlaid ? THEME.overlayOpacity : 0.9,
    marker: { color: d.color ?? colorAt(i), line: { color: '#ffffff', width: overlaid ? 0 : 0.5 } },
  }));
  return figure(data, {
    ...frame({ title: options.title, height: options.height, legend: list.length > 1 }),
    barmode: options.stacked ? 'stack' : 'overlay',
    bargap: 0.04,
    xaxis: axis(options.xTitle),
    yaxis: axis(options.yTitle ?? Y_TITLES[normalize]),
  });
}

export interface BoxChartOptions {
  title?: string;
  /** The axis the values run along. */
  valueTitle?: string;
  groupTitle?: string;
  /** Draw every value beside its box ('all'), only the outliers (default), or none. */
  points?: 'all' | 'outliers' | 'none';
  horizontal?: boolean;
  height?: number;
}

/** A box (median, quartiles, whiskers to 1.5 IQR) per group, side by side. */
export function boxChart(groups: Distribution[], options: BoxChartOptions = {}): PlotlyFigure {
  if (groups.length === 0) throw new ChartError('charts: boxChart got no groups');
  const h = !!options.horizontal;
  const data = groups.map((g, i) => ({
    type: 'box',
    name: g.name,
    [h ? 'x' : 'y']: finite(g),
    orientation: h ? 'h' : 'v',
    boxpoints: options.points === 'none' ? false : options.points === 'all' ? 'all' : 'outliers',
    marker: { color: g.color ?? colorAt(i), size: 4 },
    line: { width: 1.5 },
  }));
  return figure(data, {
    ...frame({ title: options.title, height: options.height, legend: false }),
    [h ? 'xaxis' : 'yaxis']: axis(options.valueTitle),
    [h ? 'yaxis' : 'xaxis']: axis(options.groupTitle, { showgrid: false, ticks: '', type: 'category', ...(h ? { autorange: 'reversed' } : {}) }),
  });
}
