// A progress line that updates in place in a notebook: one output, replaced
// through its display id at a bounded rate, so a saved notebook holds the
// final line instead of one line per update. The output also carries the
// state as JSON under PROGRESS_MIME, which front ends ignore and the headless
// runner reads to print progress during a long cell.
import { randomUUID } from 'node:crypto';
import { displayBundle, escapeHtml, inKernel } from './display';

/** The MIME type of a progress output's machine-readable state. */
export const PROGRESS_MIME = 'application/vnd.workbook.progress+json';

export interface ProgressState {
  /** What is running: 'sft', 'dpo', 'compare: base'. */
  label: string;
  done: number;
  total: number;
  /** The rest of the line: 'loss 1.234 · 5,120 tok/s · eta 2m10s'. */
  detail: string;
  /** Seconds left, when known. */
  etaSeconds: number | null;
  finished: boolean;
}

export interface ProgressLine {
  /** Shows `state`; skipped when the last update was under the interval ago, unless forced or finished. */
  update(state: ProgressState, force?: boolean): void;
}

/** The one-line text of a state: 'sft 120/300 · loss 1.234 · eta 2m10s'. */
export function progressText(state: ProgressState): string {
  return `${state.label} ${state.done}/${state.total}${state.detail ? ` · ${state.detail}` : ''}${state.finished ? ' · done' : ''}`;
}

/** The output: text, a bar drawn with inline styles (sanitisers keep them), and the state. */
export function progressBundle(state: ProgressState): Record<string, unknown> {
  const fraction = state.total > 0 ? Math.min(1, Math.max(0, state.done / state.total)) : 0;
  const colour = state.finished ? '#2ca02c' : '#1f77b4';
  const html =
    `<div style="font-family:monospace;font-size:12px;display:flex;align-items:center;gap:8px">` +
    `<div style="width:160px;height:10px;background:#e5e7eb;border-radius:3px;overflow:hidden;flex:none">` +
    `<div style="width:${(fraction * 100).toFixed(1)}%;height:100%;background:${colour}"></div></div>` +
    `<span>${escapeHtml(progressText(state))}</span></div>`;
  return { [PROGRESS_MIME]: state, 'text/html': html, 'text/plain': progressText(state) };
}

/** A progress line in the running notebook cell; null outside a kernel. */
export function progressLine(options: { intervalMs?: number } = {}): ProgressLine | null {
  if (!inKernel()) return null;
  const id = `progress-${randomUUID()}`;
  const interval = options.intervalMs ?? 500;
  let shown = false;
  let last = 0;
  return {
    update(state, force = false) {
      const now = Date.now();
      if (shown && !force && !state.finished && now - last < interval) return;
      last = now;
      displayBundle(progressBundle(state), { displayId: id, update: shown });
      shown = true;
    },
  };
}
