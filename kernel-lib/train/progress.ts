// Progress of a long run: a bar in a terminal (cli-progress), and in a
// notebook or a log (no TTY) a compact line every few percent, since a
// redrawn bar would fill a saved notebook with thousands of frames.
import cliProgress from 'cli-progress';

export type ProgressMode = 'auto' | 'bar' | 'line' | 'none';

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
      console.log(
        `${label} ${step}/${total} · loss ${fields.loss.toFixed(4)} · ${Math.round(fields.tokensPerSecond).toLocaleString('en-US')} tok/s · lr ${fields.lr.toExponential(2)} · eta ${formatDuration(eta)}`,
      );
      lastPrint = now;
    },
    stop() {},
  };
}

function barProgress(label: string): Progress {
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} · loss {loss} · {tps} tok/s · eta {eta_formatted}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  return {
    start: (total, from) => bar.start(total, from, { loss: '-', tps: '-' }),
    update: (step, f) => bar.update(step, { loss: f.loss.toFixed(4), tps: Math.round(f.tokensPerSecond) }),
    stop: () => bar.stop(),
  };
}

/** A progress reporter; 'auto' draws a bar on a terminal and prints lines otherwise. */
export function createProgress(mode: ProgressMode = 'auto', label = 'step'): Progress {
  if (mode === 'none') return { start() {}, update() {}, stop() {} };
  if (mode === 'bar' || (mode === 'auto' && process.stderr.isTTY)) return barProgress(label);
  return lineProgress(label);
}
