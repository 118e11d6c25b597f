export { displayBundle, escapeHtml, inKernel } from './display';
export type { MimeBundle } from './display';
export { plotlyBundle, plotlyLibraryBundle, showPlot } from './plotly';
export { liveLossPlot } from './live_plot';
export type { LivePlotCallback, LivePlotOptions } from './live_plot';
export type { PlotlyFigure } from './plotly';
export { showTable, tableBundle, toRows } from './table';
export type { Row } from './table';
