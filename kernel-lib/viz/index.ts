export { displayBundle, escapeHtml, inKernel } from './display';
export type { MimeBundle } from './display';
export { plotlyBundle, showPlot } from './plotly';
export type { PlotlyFigure } from './plotly';
export { showTable, tableBundle, toRows } from './table';
export type { Row } from './table';
