// One look for every chart the workbook draws: the same font, colour order,
// margins, grid, hover format, height and legend place, so that figures from
// different notebooks read alike and a colour means the same thing within a
// figure. Builders take their layout skeleton from here and add only what
// their kind needs.
import type { PlotlyFigure } from '../plotly';

/** Thrown for input a chart cannot draw; the message names the chart, the series or column, expected and got. */
export class ChartError extends Error {
  override readonly name = 'ChartError';
}

/**
 * Colours in the order series take them. Based on Okabe and Ito's palette,
 * which stays distinguishable under the common colour-vision deficiencies;
 * its yellow is left out (too faint on white).
 */
export const COLORS: readonly string[] = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#8E6C4A', '#555555'];

/** The chart's constants, in one place so a change of look is one edit. */
export const THEME = {
  font: { family: '"Helvetica Neue", Helvetica, Arial, "Liberation Sans", sans-serif', size: 13, color: '#262626' },
  titleSize: 16,
  /** Figure height in pixels when a builder is not told one (the notebook div and the static PNG both use it). */
  height: 380,
  /** Left, right, top, bottom: room for tick labels and axis titles; the right grows when a second y axis is drawn. */
  margin: { l: 64, r: 24, t: 56, b: 48 },
  rightAxisMargin: 72,
  grid: '#e5e5e5',
  axisLine: '#8c8c8c',
  /** Reference lines, error bars and bars not highlighted. */
  muted: '#9a9a9a',
  /** Bars that are highlighted (e.g. the right answer). */
  accent: '#009E73',
  /** d3 format of numbers in hover labels: four significant digits, trailing zeros trimmed. */
  hoverFormat: '.4~g',
  /** Opacity of overlaid histograms, and of the raw curve drawn under a smoothed one. */
  overlayOpacity: 0.55,
  rawOpacity: 0.22,
  /** Light to dark in one hue: cell annotations stay readable, and more means darker. */
  sequentialScale: [[0, '#f3f7fb'], [0.5, '#69a3cf'], [1, '#0b3f73']] as [number, string][],
  /** Two hues through white, centred on zero. */
  divergingScale: [[0, '#b2432f'], [0.5, '#f7f7f7'], [1, '#1f66a6']] as [number, string][],
};

/** The colour of the i-th series (wrapping round). */
export const colorAt = (i: number): string => COLORS[((i % COLORS.length) + COLORS.length) % COLORS.length];

/** An axis with the theme's grid, line and hover format; `extra` overrides any key. */
export function axis(title: string | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...(title ? { title: { text: title } } : {}),
    showgrid: true,
    gridcolor: THEME.grid,
    zeroline: false,
    showline: true,
    linecolor: THEME.axisLine,
    ticks: 'outside',
    tickcolor: THEME.axisLine,
    automargin: true,
    hoverformat: THEME.hoverFormat,
    ...extra,
  };
}

/** Where the legend goes (see frame). */
export const LEGEND: Readonly<Record<string, unknown>> = { orientation: 'h', x: 0, xanchor: 'left', yref: 'container', y: 0, yanchor: 'bottom', bgcolor: 'rgba(255,255,255,0)' };

export interface FrameOptions {
  title?: string;
  height?: number;
  /** Leave room on the right for a second y axis. */
  rightAxis?: boolean;
  /** Show the legend (builders turn it off for a single unnamed series). */
  legend?: boolean;
  /** Plotly's hovermode: 'x unified' for curves over steps, 'closest' elsewhere. */
  hovermode?: string;
}

/**
 * The layout every chart starts from. The title sits top left. The legend is
 * a row (or rows) along the bottom of the figure, under the x axis title:
 * Plotly's default, a column at the right edge, collides with a second y
 * axis, and a legend above the plot collides with the title once it wraps.
 * Anchored to the figure ('container') rather than the plot area, it pushes
 * the bottom margin by its own height, however many rows it takes.
 */
export function frame(options: FrameOptions): Record<string, unknown> {
  return {
    ...(options.title ? { title: { text: options.title, x: 0, xref: 'paper', xanchor: 'left', y: 1, yref: 'container', yanchor: 'top', pad: { t: 14 }, font: { size: THEME.titleSize } } } : {}),
    font: THEME.font,
    colorway: COLORS,
    height: options.height ?? THEME.height,
    margin: { ...THEME.margin, r: options.rightAxis ? THEME.rightAxisMargin : THEME.margin.r, t: options.title ? THEME.margin.t : 24 },
    paper_bgcolor: '#ffffff',
    plot_bgcolor: '#ffffff',
    showlegend: options.legend ?? true,
    legend: LEGEND,
    hovermode: options.hovermode ?? 'closest',
    hoverlabel: { font: { family: THEME.font.family, size: 12 } },
  };
}

/** A figure with the theme's config (no Plotly logo in the toolbar). */
export function figure(data: Record<string, unknown>[], layout: Record<string, unknown>): PlotlyFigure {
  return { data, layout, config: { displaylogo: false, responsive: true } };
}
