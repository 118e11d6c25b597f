// Curves over steps (or any x): several runs or metrics overlaid, optional
// smoothing, a log-scale y, and a second y axis on the right for a metric of
// another scale (accuracy next to a loss), whose curves are dotted and named
// "(right axis)" in the legend so a reader never reads one against the other's
// ticks. Evaluation results are drawn as points joined by a thin line: there
// are few of them, and each is a real measurement.
import { axis, ChartError, colorAt, figure, frame, LEGEND, THEME } from './theme';
import type { PlotlyFigure } from '../plotly';

export type Dash = 'solid' | 'dot' | 'dash' | 'longdash' | 'dashdot';

export interface Curve {
  name: string;
  x: ArrayLike<number>;
  /** NaN, null or a missing value is a point the run did not log: it is left out and the line joins its neighbours. */
  y: ArrayLike<number | null>;
  /** 'left' (default) or 'right', the second y axis. */
  axis?: 'left' | 'right';
  /** 'line' (default) for per-step values; 'points' for evaluations: markers joined by a thin line, never smoothed. */
  kind?: 'line' | 'points';
  /** Default: the next colour of the theme. */
  color?: string;
  /** Default: solid on the left axis, dotted on the right. */
  dash?: Dash;
}

export interface CurveChartOptions {
  title?: string;
  /** Default 'step'. */
  xTitle?: string;
  yTitle?: string;
  y2Title?: string;
  logX?: boolean;
  logY?: boolean;
  logY2?: boolean;
  yRange?: [number, number];
  y2Range?: [number, number];
  /**
   * Exponential moving average weight in [0, 1), as TensorBoard's smoothing
   * slider (0.6 is its default; 0.9 for noisy per-batch metrics): see `ema`.
   * Applies to 'line' curves; 0 or absent draws them raw.
   */
  smoothing?: number;
  /** Under a smoothed curve, draw the raw one faintly (default true), so smoothing hides no spike. */
  showRaw?: boolean;
  height?: number;
}

/**
 * TensorBoard's scalar smoothing: an exponential moving average started at 0
 * and divided by (1 - weight^n), n the count of values seen, so the first
 * points are not pulled toward 0 (the same debiasing as Adam's moments):
 *
 *   m_n = weight * m_(n-1) + (1 - weight) * y_n,   s_n = m_n / (1 - weight^n).
 *
 * s_1 is y_1 exactly. It runs over points, not steps: a log written every 10
 * steps smooths over 10 times as many steps for the same weight. Non-finite
 * values are passed through and do not move the average.
 */
export function ema(values: ArrayLike<number>, weight: number): number[] {
  if (!(weight >= 0 && weight < 1)) throw new ChartError(`charts: smoothing weight ${weight}; expected a number in [0, 1)`);
  let m = 0;
  let n = 0;
  return Array.from(values, (y) => {
    if (!Number.isFinite(y)) return y;
    m = weight * m + (1 - weight) * y;
    n += 1;
    return m / (1 - weight ** n);
  });
}

/** The curve's points with a finite y, in order; checks x and y line up and that a log axis gets only positive values. */
function points(c: Curve, log: { x: boolean; y: boolean }): { x: number[]; y: number[] } {
  if (c.x.length !== c.y.length) throw new ChartError(`charts: curve "${c.name}" has ${c.x.length} x values and ${c.y.length} y values; expected as many of each`);
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < c.x.length; i++) {
    const yi = c.y[i];
    if (yi === null || yi === undefined || !Number.isFinite(yi)) continue;
    if (!Number.isFinite(c.x[i])) throw new ChartError(`charts: curve "${c.name}", point ${i}: x is ${c.x[i]}; expected a finite number`);
    if (log.y && yi <= 0) throw new ChartError(`charts: curve "${c.name}", point ${i} (x ${c.x[i]}): y is ${yi} on a log axis; expected a positive number`);
    if (log.x && c.x[i] <= 0) throw new ChartError(`charts: curve "${c.name}", point ${i}: x is ${c.x[i]} on a log axis; expected a positive number`);
    x.push(c.x[i]);
    y.push(yi);
  }
  return { x, y };
}

/** Curves overlaid on one or two y axes; see Curve and CurveChartOptions. */
export function curveChart(curves: Curve[], options: CurveChartOptions = {}): PlotlyFigure {
  if (curves.length === 0) throw new ChartError('charts: curveChart got no curves');
  const smoothing = options.smoothing ?? 0;
  if (smoothing) ema([], smoothing); // checks the weight before any work
  const hasRight = curves.some((c) => c.axis === 'right');
  const data: Record<string, unknown>[] = [];
  curves.forEach((c, i) => {
    const right = c.axis === 'right';
    const p = points(c, { x: !!options.logX, y: right ? !!options.logY2 : !!options.logY });
    const color = c.color ?? colorAt(i);
    const yaxis = right ? 'y2' : 'y';
    const name = hasRight && right ? `${c.name} (right axis)` : c.name;
    const dash = c.dash ?? (right ? 'dot' : 'solid');
    const smooth = smoothing > 0 && (c.kind ?? 'line') === 'line';
    if (smooth && options.showRaw !== false) {
      // The raw values, faint and out of the legend and hover: the smoothed line is the one to read.
      data.push({ type: 'scatter', mode: 'lines', name, x: p.x, y: p.y, yaxis, legendgroup: name, showlegend: false, hoverinfo: 'skip', opacity: THEME.rawOpacity, line: { color, width: 1, dash } });
    }
    if (c.kind === 'points') {
      data.push({ type: 'scatter', mode: 'lines+markers', name, x: p.x, y: p.y, yaxis, legendgroup: name, line: { color, width: 1.5, dash }, marker: { color, size: 8, symbol: 'circle', line: { color: '#ffffff', width: 1 } } });
    } else {
      data.push({ type: 'scatter', mode: 'lines', name, x: p.x, y: smooth ? ema(p.y, smoothing) : p.y, yaxis, legendgroup: name, line: { color, width: 2, dash } });
    }
  });
  const layout: Record<string, unknown> = {
    // One raw curve needs no legend (Plotly's own default; the hover names it); a smoothed one shows it for the note on smoothing.
    ...frame({ title: options.title, height: options.height, rightAxis: hasRight, hovermode: 'x unified', legend: curves.length > 1 || smoothing > 0 }),
    ...(smoothing > 0 ? { legend: { ...LEGEND, title: { text: `smoothing (EMA) ${smoothing}:` } } } : {}),
    xaxis: axis(options.xTitle ?? 'step', options.logX ? { type: 'log' } : {}),
    yaxis: axis(options.yTitle, { ...(options.logY ? { type: 'log' } : {}), ...(options.yRange ? { range: options.logY ? options.yRange.map(Math.log10) : options.yRange } : {}) }),
  };
  if (hasRight) {
    // Overlaid on the first, ticks on the right, no grid of its own: two grids would not line up and would hide the first's.
    layout.yaxis2 = axis(options.y2Title, {
      overlaying: 'y', side: 'right', showgrid: false,
      ...(options.logY2 ? { type: 'log' } : {}),
      ...(options.y2Range ? { range: options.logY2 ? options.y2Range.map(Math.log10) : options.y2Range } : {}),
    });
  }
  return figure(data, layout);
}
