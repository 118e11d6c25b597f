// Training curves straight from what the trainer logs: pick metrics by the
// names in its records (loss, eval_loss, mean_token_accuracy, rewards/margins,
// ...) for one run or several overlaid. Metrics named eval_ are read from the
// evaluations and drawn as points. With several runs a colour is a run and a
// dash is a metric, so both can be told apart at a glance.
import { readMetrics, metricSeries, type MetricsSource } from './columns';
import { curveChart, type Curve, type CurveChartOptions, type Dash } from './curves';
import { ChartError, colorAt } from './theme';
import type { PlotlyFigure } from '../plotly';

/** A run to overlay, under the name the legend gives it. */
export interface NamedRun {
  name: string;
  log: MetricsSource;
}

export interface MetricChartOptions extends CurveChartOptions {
  /** Metrics on the left y axis, as the records name them. */
  metrics: string[];
  /** Metrics on the right y axis (another scale: accuracy beside a loss). */
  right?: string[];
  /** Legend names for metrics, e.g. `{ eval_loss: 'held-out loss' }`; default the metric's own name. */
  names?: Record<string, string>;
  /** The x column; default 'step'. */
  x?: string;
}

const LEFT_DASHES: Dash[] = ['solid', 'dash', 'longdash', 'dashdot'];
const RIGHT_DASHES: Dash[] = ['dot', 'dashdot'];

const isNamedRuns = (runs: unknown): runs is NamedRun[] =>
  Array.isArray(runs) && runs.length > 0 && runs.every((r) => !!r && typeof r === 'object' && 'log' in r && typeof (r as NamedRun).name === 'string');

/** The axis title for a set of metrics: their names without eval_, when they share one. */
const titleFor = (metrics: string[], names: Record<string, string>): string | undefined => {
  const bare = [...new Set(metrics.map((m) => m.replace(/^eval_/, '')))];
  return bare.length === 1 ? names[bare[0]] ?? bare[0] : undefined;
};

/**
 * Curves of a run's metrics, or of several runs' (`[{ name, log }, ...]`).
 * A log is the trainer's result, its records, or a metrics file (JSONL from
 * jsonlMetrics, Arrow from arrowMetrics): see MetricsSource.
 */
export function metricChart(runs: MetricsSource | NamedRun[], options: MetricChartOptions): PlotlyFigure {
  const named: NamedRun[] = isNamedRuns(runs) ? runs : [{ name: '', log: runs as MetricsSource }];
  const right = options.right ?? [];
  const all = [...options.metrics, ...right];
  if (all.length === 0) throw new ChartError('charts: metricChart got no metrics; name at least one in `metrics`');
  const names = options.names ?? {};
  const several = named.length > 1;
  const curves: Curve[] = [];
  named.forEach((run, r) => {
    const log = readMetrics(run.log, run.name ? `run "${run.name}"` : undefined);
    all.forEach((metric, m) => {
      const onRight = m >= options.metrics.length;
      const dashes = onRight ? RIGHT_DASHES : LEFT_DASHES;
      const k = onRight ? m - options.metrics.length : m;
      const label = names[metric] ?? metric;
      curves.push({
        name: several ? (all.length > 1 ? `${run.name}: ${label}` : run.name) : label,
        ...metricSeries(log, metric, options.x ?? 'step'),
        axis: onRight ? 'right' : 'left',
        kind: metric.startsWith('eval_') ? 'points' : 'line',
        color: colorAt(several ? r : m),
        dash: several ? dashes[k % dashes.length] : onRight ? 'dot' : 'solid',
      });
    });
  });
  return curveChart(curves, {
    ...options,
    yTitle: options.yTitle ?? titleFor(options.metrics, names),
    y2Title: options.y2Title ?? (right.length ? titleFor(right, names) : undefined),
  });
}
