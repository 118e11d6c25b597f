// What the runner prints while a long cell runs: the progress lines the
// notebook shows (kernel-lib's progress outputs, read from their JSON state)
// at most every `everyMs`, each finished one at once; and, when a cell has
// printed nothing for `quietMs`, a line saying it is still running.
import { PROGRESS_MIME, progressText, type ProgressState } from '../../kernel-lib/viz/progress_line';
import type { MimeBundle } from './notebook';

export interface CellProgressOptions {
  log: (line: string) => void;
  /** Prefix of every line (the notebook's name). */
  name: string;
  everyMs: number;
  quietMs: number;
  formatSeconds: (s: number) => string;
}

function isProgressState(v: unknown): v is ProgressState {
  const s = v as ProgressState;
  return !!s && typeof s.label === 'string' && typeof s.done === 'number' && typeof s.total === 'number' && typeof s.detail === 'string';
}

export class CellProgress {
  private cell = 0;
  private started = 0;
  private lastLine = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: CellProgressOptions) {}

  cellStarted(cell: number): void {
    this.cellDone();
    this.cell = cell;
    this.started = Date.now();
    this.lastLine = this.started;
    const tick = Math.max(50, Math.min(this.options.quietMs, 5000));
    this.timer = setInterval(() => this.heartbeat(), tick);
    this.timer.unref();
  }

  display(data: MimeBundle): void {
    const state = data[PROGRESS_MIME];
    if (!isProgressState(state)) return;
    const now = Date.now();
    if (!state.finished && now - this.lastLine < this.options.everyMs) return;
    this.print(`cell ${this.cell}: ${progressText(state)}`);
  }

  cellDone(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private heartbeat(): void {
    if (Date.now() - this.lastLine < this.options.quietMs) return;
    this.print(`cell ${this.cell} still running (${this.options.formatSeconds((Date.now() - this.started) / 1000)})`);
  }

  private print(text: string): void {
    this.lastLine = Date.now();
    this.options.log(`  ${this.options.name}: ${text}`);
  }
}
