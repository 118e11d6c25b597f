// Typed builders of Plotly figures with one look (theme.ts). Each returns a
// PlotlyFigure, plain data a test can inspect; a notebook shows it with
// showPlot. Inputs are plain arrays; columns.ts reads tables (rows, danfojs,
// Arrow) and training metrics (the trainer's result or its files) into them.
export { barChart } from './bars';
export type { BarChartOptions, BarSeries } from './bars';
export { columnsOf, metricSeries, readMetrics } from './columns';
export type { ArrowTableLike, ColumnRecord, Columns, DataFrameLike, MetricsLog, MetricsSource, Rows, TableSource } from './columns';
export { curveChart, ema } from './curves';
export type { Curve, CurveChartOptions, Dash } from './curves';
export { boxChart, histogramChart, sharedBins } from './distributions';
export type { Bins, BoxChartOptions, Distribution, HistogramOptions } from './distributions';
export { heatmapChart } from './heatmap';
export type { HeatmapOptions } from './heatmap';
export { metricChart } from './metrics';
export type { MetricChartOptions, NamedRun } from './metrics';
export { scatterChart } from './scatter';
export type { PointSeries, ScatterOptions } from './scatter';
export { ChartError, COLORS, THEME } from './theme';
