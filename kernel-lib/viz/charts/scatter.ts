// Points of one or more series: one value against another (reward margin
// against length difference, one model's score against another's). Labels
// name the points in the hover, or beside them when there are few; a y = x
// line shows at a glance which points lie above or below equality.
import { axis, ChartError, colorAt, figure, frame, THEME } from './theme';
import type { PlotlyFigure } from '../plotly';

export interface PointSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** A label a point, shown in the hover (and beside the point with `showLabels`). */
  labels?: ArrayLike<string>;
  color?: string;
}

export interface ScatterOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Draw the line y = x across the points' range (for two measures of the same thing). */
  identityLine?: boolean;
  /** Write each point's label beside it (readable up to a few dozen points). */
  showLabels?: boolean;
  logX?: boolean;
  logY?: boolean;
  /** Marker size in pixels (default 7) and opacity (default 0.75, so piled-up points show as darker). */
  markerSize?: number;
  opacity?: number;
  height?: number;
}

function checked(s: PointSeries): { x: number[]; y: number[]; labels?: string[] } {
  if (s.x.length !== s.y.length) throw new ChartError(`charts: point series "${s.name}" has ${s.x.length} x values and ${s.y.length} y values; expected as many of each`);
  if (s.labels && s.labels.length !== s.x.length) throw new ChartError(`charts: point series "${s.name}" has ${s.labels.length} labels for ${s.x.length} points; expected one a point`);
  const read = (xs: ArrayLike<number>, axisName: string) =>
    Array.from(xs, (v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ChartError(`charts: point series "${s.name}", ${axisName}[${i}] is ${v}; expected a finite number`);
      return v;
    });
  return { x: read(s.x, 'x'), y: read(s.y, 'y'), labels: s.labels ? Array.from(s.labels, String) : undefined };
}

/** A scatter plot of one or more series. */
export function scatterChart(series: PointSeries | PointSeries[], options: ScatterOptions = {}): PlotlyFigure {
  const list = Array.isArray(series) ? series : [series];
  if (list.length === 0) throw new ChartError('charts: scatterChart got no series');
  const points = list.map(checked);
  const data: Record<string, unknown>[] = list.map((s, i) => {
    const p = points[i];
    return {
      type: 'scatter',
      mode: options.showLabels && p.labels ? 'markers+text' : 'markers',
      name: s.name,
      x: p.x,
      y: p.y,
      ...(p.labels ? { text: p.labels, textposition: 'top center', textfont: { size: 11 }, hovertemplate: `%{text}<br>(%{x:${THEME.hoverFormat}}, %{y:${THEME.hoverFormat}})<extra>${s.name}</extra>` } : {}),
      marker: { color: s.color ?? colorAt(i), size: options.markerSize ?? 7, opacity: options.opacity ?? 0.75, line: { color: '#ffffff', width: 0.5 } },
    };
  });
  if (options.identityLine) {
    const all = points.flatMap((p) => [...p.x, ...p.y]).filter((v) => (options.logX || options.logY ? v > 0 : true));
    const lo = Math.min(...all);
    const hi = Math.max(...all);
    data.push({ type: 'scatter', mode: 'lines', name: 'y = x', x: [lo, hi], y: [lo, hi], hoverinfo: 'skip', line: { color: THEME.muted, width: 1.5, dash: 'dash' } });
  }
  return figure(data, {
    ...frame({ title: options.title, height: options.height, legend: list.length > 1 || !!options.identityLine }),
    xaxis: axis(options.xTitle, options.logX ? { type: 'log' } : {}),
    yaxis: axis(options.yTitle, options.logY ? { type: 'log' } : {}),
  });
}
