// A matrix as coloured cells: attention weights (query rows, key columns),
// a confusion matrix, a batch's mask. Row 0 is drawn at the top, as a matrix
// is written. Cells sit at integer positions with the labels as tick text,
// so repeated labels (the same token twice in a sequence) stay separate
// columns instead of merging into one category.
import { axis, ChartError, figure, frame, THEME } from './theme';
import type { PlotlyFigure } from '../plotly';

export interface HeatmapOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** A label a column (e.g. key tokens, predicted class); default the column index. */
  xLabels?: ArrayLike<string | number>;
  /** A label a row (e.g. query tokens, true class); default the row index. */
  yLabels?: ArrayLike<string | number>;
  /**
   * 'sequential' (default: light to dark, for weights and counts),
   * 'diverging' (two hues through white at zero, for signed values), or
   * Plotly colour stops such as [[0, '#ffffff'], [1, '#009E73']].
   */
  colorscale?: 'sequential' | 'diverging' | [number, string][];
  zmin?: number;
  zmax?: number;
  /** Write each cell's value in it: true for four significant digits, or a d3 format such as '.2f' or 'd'. */
  annotate?: boolean | string;
  /** The colour bar (default shown); its title. */
  showScale?: boolean;
  colorTitle?: string;
  height?: number;
}

/** Tick labels for one axis: all of them, or the index when none are given. */
function ticks(labels: ArrayLike<string | number> | undefined, n: number, what: string): Record<string, unknown> {
  if (!labels) return {};
  if (labels.length !== n) throw new ChartError(`charts: heatmap has ${n} ${what}s and ${labels.length} ${what} labels; expected one a ${what}`);
  return { tickmode: 'array', tickvals: Array.from({ length: n }, (_, i) => i), ticktext: Array.from(labels, String) };
}

/** A heatmap of `z`, given row by row (z[row][column]); null is an empty cell. */
export function heatmapChart(z: ArrayLike<number | null>[], options: HeatmapOptions = {}): PlotlyFigure {
  if (z.length === 0 || z[0].length === 0) throw new ChartError('charts: heatmapChart got an empty matrix');
  const cols = z[0].length;
  const rows = z.map((row, r) => {
    if (row.length !== cols) throw new ChartError(`charts: heatmap row ${r} has ${row.length} cells, row 0 has ${cols}; expected a rectangular matrix`);
    return Array.from(row, (v, c) => {
      if (v === null || v === undefined) return null;
      if (typeof v !== 'number' || Number.isNaN(v)) throw new ChartError(`charts: heatmap cell [${r}][${c}] is ${v}; expected a number or null`);
      return v;
    });
  });
  const scale = options.colorscale ?? 'sequential';
  const colorscale = scale === 'sequential' ? THEME.sequentialScale : scale === 'diverging' ? THEME.divergingScale : scale;
  const xl = options.xLabels ? Array.from(options.xLabels, String) : undefined;
  const yl = options.yLabels ? Array.from(options.yLabels, String) : undefined;
  // Hover names the cell by its labels, which the numeric positions alone would not show.
  const where = rows.map((row, r) => row.map((_, c) => `${yl ? yl[r] : `row ${r}`} · ${xl ? xl[c] : `column ${c}`}`));
  const format = typeof options.annotate === 'string' ? options.annotate : THEME.hoverFormat;
  const trace: Record<string, unknown> = {
    type: 'heatmap',
    z: rows,
    x: Array.from({ length: cols }, (_, i) => i),
    y: rows.map((_, i) => i),
    colorscale,
    ...(scale === 'diverging' && options.zmin === undefined && options.zmax === undefined ? { zmid: 0 } : {}),
    ...(options.zmin !== undefined ? { zmin: options.zmin } : {}),
    ...(options.zmax !== undefined ? { zmax: options.zmax } : {}),
    showscale: options.showScale ?? true,
    ...(options.colorTitle ? { colorbar: { title: { text: options.colorTitle } } } : {}),
    customdata: where,
    hovertemplate: `%{customdata}: %{z:${format}}<extra></extra>`,
    // Thin white lines between cells while cells are large enough to spare them.
    ...(cols <= 60 && rows.length <= 60 ? { xgap: 1, ygap: 1 } : {}),
    ...(options.annotate ? { texttemplate: `%{z:${format}}`, textfont: { size: 11 } } : {}),
  };
  return figure([trace], {
    ...frame({ title: options.title, height: options.height, legend: false }),
    xaxis: axis(options.xTitle, { showgrid: false, showline: false, ticks: '', ...ticks(options.xLabels, cols, 'column') }),
    yaxis: axis(options.yTitle, { showgrid: false, showline: false, ticks: '', autorange: 'reversed', ...ticks(options.yLabels, rows.length, 'row') }),
  });
}
