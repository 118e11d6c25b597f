// Progress of a long run: in a notebook one line updated in place (a display
// id, so the saved notebook keeps only the last state), in a terminal a bar
// (cli-progress), and in a log (no TTY) a compact line every few percent.
import cliProgress from 'cli-progress';
import { inKernel, progressLine } from '../viz';

export type ProgressMode = 'auto' | 'display' | 'bar' | 'line' | 'none';

export interface ProgressFields {
  loss: number;
  tokensPerSecond: number;
  lr: number;
}

export interface Progress {
  start(total: number, from: number): void;
  update(step: number, fields: ProgressFields): void;
  stop(): void;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function detail(f: ProgressFields, eta: number): string {
  return `loss ${f.loss.toFixed(4)} · ${Math.round(f.tokensPerSecond).toLocaleString('en-US')} tok/s · lr ${f.lr.toExponential(2)} · eta ${formatDuration(eta)}`;
}

function displayProgress(label: string): Progress {
  const line = progressLine();
  if (!line) return lineProgress(label);
  let total = 0;
  let from = 0;
  let started = 0;
  let last: { step: number; fields: ProgressFields } | null = null;
  return {
    start(t, f) {
      total = t;
      from = f;
      started = Date.now();
      line.update({ label, done: f, total, detail: 'starting', etaSeconds: null, finished: false }, true);
    },
    update(step, fields) {
      last = { step, fields };
      const done = step - from;
      const eta = done > 0 ? ((Date.now() - started) / 1000 / done) * (total - step) : NaN;
      line.update({ label, done: step, total, detail: detail(fields, eta), etaSeconds: Number.isFinite(eta) ? eta : null, finished: false });
    },
    stop() {
      const elapsed = formatDuration((Date.now() - started) / 1000);
      const text = last ? `loss ${last.fields.loss.toFixed(4)} · ${Math.round(last.fields.tokensPerSecond).toLocaleString('en-US')} tok/s · ${elapsed}` : elapsed;
      line.update({ label, done: last?.step ?? from, total, detail: text, etaSeconds: 0, finished: last?.step === total }, true);
    },
  };
}

function lineProgress(label: string): Progress {
  let total = 0;
  let from = 0;
  let started = 0;
  let lastPrint = 0;
  const every = () => Math.max(1, Math.round(total / 20));
  return {
    start(t, f) {
      total = t;
      from = f;
      started = Date.now();
      lastPrint = started;
    },
    update(step, fields) {
      const now = Date.now();
      if (step !== total && (step - from) % every() !== 0 && now - lastPrint < 15000) return;
      const done = step - from;
      const eta = done > 0 ? ((now - started) / 1000 / done) * (total - step) : NaN;
      console.log(`${label} ${step}/${total} · ${detail(fields, eta)}`);
      lastPrint = now;
    },
    stop() {},
  };
}

function barProgress(label: string, stream: NodeJS.WritableStream): Progress {
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} · loss {loss} · {tps} tok/s · eta {eta_formatted}`, stream, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  return {
    start: (total, from) => bar.start(total, from, { loss: '-', tps: '-' }),
    update: (step, f) => bar.update(step, { loss: f.loss.toFixed(4), tps: Math.round(f.tokensPerSecond) }),
    stop: () => bar.stop(),
  };
}

/**
 * A progress reporter; 'auto' updates one line in place in a notebook, draws
 * a bar on a terminal, and prints lines otherwise.
 */
export function createProgress(mode: ProgressMode = 'auto', label = 'step', stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr): Progress {
  if (mode === 'none') return { start() {}, update() {}, stop() {} };
  if (mode === 'display' || (mode === 'auto' && inKernel())) return displayProgress(label);
  if (mode === 'bar' || (mode === 'auto' && stream.isTTY)) return barProgress(label, stream);
  return lineProgress(label);
}
