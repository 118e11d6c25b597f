// A loss curve that redraws in place while a model trains: one notebook
// output, replaced every few steps through Jupyter's display ids, so the
// saved notebook holds only the final figure. Outside a kernel it does
// nothing (the loop's progress line is the terminal's view).
import { randomUUID } from 'node:crypto';
import { displayBundle, inKernel } from './display';
import { plotlyBundle, plotlyLibraryBundle } from './plotly';

/** Structural match for the training loop's callback (viz does not depend on train). */
export interface LivePlotCallback {
  onStep(record: { step: number; loss: number }): void;
  onEval(record: { step: number; eval_loss: number }): void;
  onEnd(): void;
}

export interface LivePlotOptions {
  title?: string;
  /** Redraw at most this often (ms); default 2000. */
  intervalMs?: number;
  /** Plot perplexity (exp of the loss) on a second axis. */
  perplexity?: boolean;
}

/** A training callback that draws train (and eval) loss as the run goes. */
export function liveLossPlot(options: LivePlotOptions = {}): LivePlotCallback {
  const id = `live-${randomUUID()}`;
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
    const data: Record<string, unknown>[] = [
      { type: 'scatter', mode: 'lines', name: 'train loss', x: steps, y: losses },
      { type: 'scatter', mode: 'lines+markers', name: 'eval loss', x: evalSteps, y: evalLosses },
    ];
    if (options.perplexity) data.push({ type: 'scatter', mode: 'lines+markers', name: 'eval perplexity', x: evalSteps, y: evalLosses.map(Math.exp), yaxis: 'y2' });
    const layout: Record<string, unknown> = {
      title: { text: options.title ?? 'Loss while training' },
      xaxis: { title: { text: 'step' } },
      yaxis: { title: { text: 'loss (nats/token)' } },
      height: 360,
    };
    if (options.perplexity) layout.yaxis2 = { title: { text: 'perplexity' }, overlaying: 'y', side: 'right', type: 'log' };
    if (!shown) {
      const library = plotlyLibraryBundle();
      if (library['text/html']) displayBundle(library);
    }
    displayBundle(plotlyBundle({ data, layout }, false), { displayId: id, update: shown });
    shown = true;
  };
  return {
    onStep(r) {
      steps.push(r.step);
      losses.push(r.loss);
      draw(false);
    },
    onEval(r) {
      evalSteps.push(r.step);
      evalLosses.push(r.eval_loss);
      draw(false);
    },
    onEnd() {
      draw(true);
    },
  };
}
