// A loss curve that redraws in place while a model trains: one notebook
// output, replaced every few steps through Jupyter's display ids, so the
// saved notebook holds only the final figure. Outside a kernel it does
// nothing (the loop's progress line is the terminal's view).
import { randomUUID } from 'node:crypto';
import { displayBundle, inKernel } from './display';
import { curveChart, type Curve } from './charts/curves';
import { plotlyBundle, plotlyLibraryBundle } from './plotly';

/** Structural match for the training loop's callback (viz does not depend on train). */
export interface LivePlotCallback {
  onStep(record: { step: number; loss: number; [metric: string]: number }): void;
  onEval(record: { step: number; eval_loss: number }): void;
  onEnd(): void;
}

export interface LivePlotOptions {
  title?: string;
  /** Redraw at most this often (ms); default 2000. */
  intervalMs?: number;
  /** Plot perplexity (exp of the loss) on a second axis. */
  perplexity?: boolean;
  /**
   * A step metric to draw on a second axis from 0 to 1, by the name the
   * trainer logs it (TRL's: `mean_token_accuracy` for SFT, `accuracy` for a
   * reward model); its eval_ counterpart is drawn too when evaluations log it.
   */
  metric?: string;
}

/** A training callback that draws train (and eval) loss as the run goes. */
export function liveLossPlot(options: LivePlotOptions = {}): LivePlotCallback {
  if (options.perplexity && options.metric) throw new Error(`liveLossPlot: perplexity and metric "${options.metric}" both want the second axis; choose one`);
  const id = `live-${randomUUID()}`;
  const metric = options.metric;
  const metricSteps: number[] = [];
  const metricValues: number[] = [];
  const evalMetricSteps: number[] = [];
  const evalMetricValues: number[] = [];
  const steps: number[] = [];
  const losses: number[] = [];
  const evalSteps: number[] = [];
  const evalLosses: number[] = [];
  let shown = false;
  let last = 0;
  const draw = (force: boolean) => {
    if (!inKernel()) return;
    const now = Date.now();
    if (!force && now - last < (options.intervalMs ?? 2000)) return;
    last = now;
    // The charts' look (curveChart): train loss as a line, evaluations as points once there are any.
    const curves: Curve[] = [{ name: 'train loss', x: steps, y: losses }];
    if (evalSteps.length > 0) curves.push({ name: 'eval loss', x: evalSteps, y: evalLosses, kind: 'points' });
    if (options.perplexity && evalSteps.length > 0) curves.push({ name: 'eval perplexity', x: evalSteps, y: evalLosses.map(Math.exp), kind: 'points', axis: 'right' });
    if (metric) {
      curves.push({ name: metric, x: metricSteps, y: metricValues, axis: 'right' });
      if (evalMetricSteps.length > 0) curves.push({ name: `eval_${metric}`, x: evalMetricSteps, y: evalMetricValues, kind: 'points', axis: 'right' });
    }
    const chart = curveChart(curves, {
      title: options.title ?? 'Loss while training',
      yTitle: 'loss (nats/token)',
      y2Title: options.perplexity ? 'perplexity' : metric,
      logY2: options.perplexity,
      y2Range: metric ? [0, 1] : undefined,
      height: 360,
    });
    if (!shown) {
      const library = plotlyLibraryBundle();
      if (library['text/html']) displayBundle(library);
    }
    displayBundle(plotlyBundle(chart, false), { displayId: id, update: shown });
    shown = true;
  };
  return {
    onStep(r) {
      steps.push(r.step);
      losses.push(r.loss);
      if (metric && Number.isFinite(r[metric])) {
        metricSteps.push(r.step);
        metricValues.push(r[metric]);
      }
      draw(false);
    },
    onEval(r) {
      evalSteps.push(r.step);
      evalLosses.push(r.eval_loss);
      const value = metric ? (r as Record<string, number>)[`eval_${metric}`] : undefined;
      if (value !== undefined && Number.isFinite(value)) {
        evalMetricSteps.push(r.step);
        evalMetricValues.push(value);
      }
      draw(false);
    },
    onEnd() {
      draw(true);
    },
  };
}
