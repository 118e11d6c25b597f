// Bars by category: one series, or several grouped (accuracy by family,
// before and after a stage) or stacked (the parts of a whole), upright or
// lying down for long category names, with optional error bars. Categories
// are always categorical, so labels such as "3" or "10" keep their order and
// are not placed on a number line.
import { axis, ChartError, colorAt, figure, frame, THEME } from './theme';
import type { PlotlyFigure } from '../plotly';

export interface BarSeries {
  /** The legend's name (a legend is drawn for two series or more); a single series may leave it empty. */
  name: string;
  /** One value a category; null for a missing one (no bar). */
  values: ArrayLike<number | null>;
  /** Half-widths of error bars (e.g. a standard error), one a category; null for none. */
  errors?: ArrayLike<number | null>;
  color?: string;
}

export interface BarChartOptions {
  title?: string;
  categoryTitle?: string;
  valueTitle?: string;
  /** Bars lie along x, categories read down the y axis in their given order. */
  horizontal?: boolean;
  /** Stack the series (parts of a whole) instead of grouping them. */
  stacked?: boolean;
  /** The value axis's range, e.g. [0, 1] for shares, so charts of the same metric compare. */
  range?: [number, number];
  /** d3 format of value ticks and hover, e.g. '.0%' for shares. */
  valueFormat?: string;
  /** Categories drawn in the accent colour, the rest grey: for one series that marks an answer. */
  highlight?: (string | number)[];
  height?: number;
}

function column(series: BarSeries, what: 'values' | 'errors', n: number): (number | null)[] {
  const xs = series[what]!;
  if (xs.length !== n) throw new ChartError(`charts: bar series "${series.name}" has ${xs.length} ${what} for ${n} categories; expected one a category`);
  return Array.from(xs, (v, i) => {
    if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ChartError(`charts: bar series "${series.name}", ${what}[${i}] is ${v}; expected a finite number or null`);
    return v;
  });
}

/** Grouped (default) or stacked bars, a bar a category per series. */
export function barChart(categories: ArrayLike<string | number>, series: BarSeries | BarSeries[], options: BarChartOptions = {}): PlotlyFigure {
  const list = Array.isArray(series) ? series : [series];
  if (list.length === 0) throw new ChartError('charts: barChart got no series');
  const labels = Array.from(categories, String);
  const h = !!options.horizontal;
  const highlight = options.highlight?.map(String);
  const data = list.map((s, i) => {
    const values = column(s, 'values', labels.length);
    const color = highlight ? labels.map((c) => (highlight.includes(c) ? THEME.accent : THEME.muted)) : s.color ?? colorAt(i);
    const errors = s.errors ? { [h ? 'error_x' : 'error_y']: { type: 'data', array: column(s, 'errors', labels.length), visible: true, thickness: 1.2, width: 4, color: '#404040' } } : {};
    return { type: 'bar', name: s.name, orientation: h ? 'h' : 'v', [h ? 'y' : 'x']: labels, [h ? 'x' : 'y']: values, marker: { color }, ...errors };
  });
  const valueAxis = axis(options.valueTitle, {
    ...(options.range ? { range: options.range } : {}),
    ...(options.valueFormat ? { tickformat: options.valueFormat, hoverformat: options.valueFormat } : {}),
  });
  const categoryAxis = axis(options.categoryTitle, { type: 'category', showgrid: false, ticks: '', ...(h ? { autorange: 'reversed' } : {}) });
  return figure(data, {
    ...frame({ title: options.title, height: options.height, legend: list.length > 1 }),
    barmode: options.stacked ? 'stack' : 'group',
    bargap: 0.2,
    bargroupgap: 0.05,
    [h ? 'xaxis' : 'yaxis']: valueAxis,
    [h ? 'yaxis' : 'xaxis']: categoryAxis,
  });
}
