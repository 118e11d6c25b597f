// Runs one notebook, cell by cell, in a fresh tslab kernel and records what
// each cell produced as nbformat 4 outputs. Stops a notebook at its first
// failing cell (as nbclient does), recording why in that cell.
import * as path from 'node:path';
import { KernelClient, KernelDiedError } from './kernel';
import type { CodeCell, MimeBundle, Notebook, Output } from './notebook';
import { sourceText } from './notebook';
import type { Message } from './protocol';

export interface CellFailure {
  /** 1-based index among all cells of the executed notebook, as a front end shows it. */
  cell: number;
  /** The cell's nbformat id, when it has one: stable across injected cells. */
  cellId: string | null;
  /** 'figures': every cell ran, but a recorded figure left its band (or one was never recorded). */
  kind: 'error' | 'timeout' | 'dead-kernel' | 'start' | 'read' | 'kernelspec' | 'interrupted' | 'figures';
  ename: string;
  evalue: string;
}

export interface ExecuteOptions {
  /** Folder the kernel runs in (imports like '../kernel-lib' resolve from there). */
  cwd: string;
  /** Per-cell limit; the cell is interrupted, then the kernel killed. */
  cellTimeoutMs: number;
  env?: Record<string, string>;
  /** Called before each code cell runs. */
  onCell?: (codeCellIndex: number, codeCellCount: number, cellIndex: number) => void;
  /** Called after each code cell that ran, however it ended: 1-based index among all cells, and its id. */
  onCellDone?: (cellIndex: number, cellId: string | null) => void;
  /** Aborting it ends the kernel at once; the running cell is recorded as interrupted. */
  signal?: AbortSignal;
  /** Called with each display and display update a cell sends (progress lines among them). */
  onDisplay?: (data: MimeBundle) => void;
}

export interface ExecuteResult {
  notebook: Notebook;
  failure: CellFailure | null;
  codeCellsRun: number;
  codeCellCount: number;
}

/** After an interrupt, how long to wait for the kernel to give up the cell before killing it. */
const INTERRUPT_GRACE_MS = 3000;
/**
 * How long to wait, after a cell, for the kernel to answer a kernel_info
 * request. A kernel kept busy longer by work the cell left behind (a timer)
 * is not waited for: the next cell's time limit applies to it.
 */
const FLUSH_LIMIT_MS = 10_000;

// nbformat wants JSON MIME types stored as JSON, but tslab.display.raw sends
// them as strings; front ends then fail to render them. Parse them back.
function normaliseBundle(data: MimeBundle): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, value] of Object.entries(data)) {
    if (/(^application\/json$)|(\+json$)/.test(mime) && typeof value === 'string') {
      try {
        out[mime] = JSON.parse(value);
        continue;
      } catch {
        /* not JSON after all: keep the string */
      }
    }
    out[mime] = value;
  }
  return out;
}

/**
 * tslab answers a failed cell with status "error" but no ename/evalue and no
 * error output; the message is only in the cell's stderr. Recover it from
 * there so the executed notebook holds a real `error` output.
 */
export function errorFromStderr(stderr: string): { ename: string; evalue: string } {
  const lines = stderr.split('\n').map((l) => l.trimEnd());
  for (const line of lines) {
    const m = /^([A-Za-z_$][\w$.]*(?:Error|Exception)|Error)(?: \[[A-Z_0-9]+\])?: (.*)$/.exec(line);
    if (m) return { ename: m[1], evalue: m[2] };
  }
  const compile = lines.find((l) => /^\d+:\d+ - /.test(l));
  if (compile) return { ename: 'TypeScriptError', evalue: compile };
  const first = lines.find((l) => l.trim() !== '');
  return { ename: 'CellError', evalue: first ?? 'the cell failed and the kernel gave no message' };
}

/** Collects the outputs of one cell from its iopub messages. */
class OutputCollector {
  outputs: Output[] = [];
  stderr = '';
  private clearPending = false;

  constructor(
    private readonly displays: Map<string, Output[]>,
    private readonly onDisplay?: (data: MimeBundle) => void,
  ) {}

  /** Told the id of the request this cell's messages answer, once. */
  onFirstMessage: ((requestId: string) => void) | null = null;

  handle(msg: Message): void {
    if (this.onFirstMessage && msg.parent_header.msg_id) {
      this.onFirstMessage(msg.parent_header.msg_id);
      this.onFirstMessage = null;
    }
    const content = msg.content as Record<string, any>;
    switch (msg.header.msg_type) {
      case 'stream': {
        const name = content.name === 'stderr' ? 'stderr' : 'stdout';
        if (name === 'stderr') this.stderr += content.text;
        this.flushClear();
        const last = this.outputs[this.outputs.length - 1];
        if (last?.output_type === 'stream' && last.name === name) last.text = `${sourceText(last.text)}${content.text}`;
        else this.outputs.push({ output_type: 'stream', name, text: String(content.text) });
        break;
      }
      case 'display_data':
      case 'execute_result': {
        this.flushClear();
        const output: Output =
          msg.header.msg_type === 'display_data'
            ? { output_type: 'display_data', data: normaliseBundle(content.data ?? {}), metadata: content.metadata ?? {} }
            : {
                output_type: 'execute_result',
                execution_count: content.execution_count ?? null,
                data: normaliseBundle(content.data ?? {}),
                metadata: content.metadata ?? {},
              };
        this.outputs.push(output);
        this.onDisplay?.(output.data);
        const id = content.transient?.display_id;
        if (typeof id === 'string') {
          const list = this.displays.get(id) ?? [];
          list.push(output);
          this.displays.set(id, list);
        }
        break;
      }
      case 'update_display_data': {
        // Updates every output shown with this id, in any cell, as front ends do.
        const id = content.transient?.display_id;
        this.onDisplay?.(normaliseBundle(content.data ?? {}));
        for (const output of this.displays.get(id) ?? []) {
          if (output.output_type === 'display_data' || output.output_type === 'execute_result') {
            output.data = normaliseBundle(content.data ?? {});
            output.metadata = content.metadata ?? {};
          }
        }
        break;
      }
      case 'error':
        this.flushClear();
        this.outputs.push({
          output_type: 'error',
          ename: String(content.ename ?? 'Error'),
          evalue: String(content.evalue ?? ''),
          traceback: Array.isArray(content.traceback) ? content.traceback.map(String) : [],
        });
        break;
      case 'clear_output':
        if (content.wait) this.clearPending = true;
        else this.outputs = [];
        break;
      default:
        break; // status, execute_input and others carry no output
    }
  }

  private flushClear(): void {
    if (this.clearPending) {
      this.outputs = [];
      this.clearPending = false;
    }
  }

  hasError(): boolean {
    return this.firstError() !== undefined;
  }

  firstError(): Extract<Output, { output_type: 'error' }> | undefined {
    return this.outputs.find((o): o is Extract<Output, { output_type: 'error' }> => o.output_type === 'error');
  }

  addError(ename: string, evalue: string, traceback: string[]): void {
    this.outputs.push({ output_type: 'error', ename, evalue, traceback });
  }
}

type CellOutcome =
  | { kind: 'reply'; reply: Message }
  | { kind: 'timeout' }
  | { kind: 'interrupted'; reason: string }
  | { kind: 'dead'; error: KernelDiedError };

/** Why `signal` was aborted, as the runner's signal handler set it (e.g. 'SIGINT'). */
function abortReason(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? signal.reason : 'aborted';
}

/** Resolves when `signal` is aborted; `cancel` drops the listener. */
function whenAborted(signal: AbortSignal | undefined): { promise: Promise<CellOutcome>; cancel: () => void } {
  if (!signal) return { promise: new Promise(() => {}), cancel: () => {} };
  let onAbort = () => {};
  const promise = new Promise<CellOutcome>((resolve) => {
    onAbort = () => resolve({ kind: 'interrupted', reason: abortReason(signal) });
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, cancel: () => signal.removeEventListener('abort', onAbort) };
}

async function runCell(
  kernel: KernelClient,
  code: string,
  collector: OutputCollector,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<CellOutcome> {
  const request = kernel
    .request(
      'shell',
      'execute_request',
      { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
      (m) => collector.handle(m),
    )
    .then((reply): CellOutcome => ({ kind: 'reply', reply }))
    .catch((error): CellOutcome => {
      if (error instanceof KernelDiedError) return { kind: 'dead', error };
      throw error;
    });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CellOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
  });
  const aborted = whenAborted(signal);
  const first = await Promise.race([request, timeout, aborted.promise]);
  clearTimeout(timer);
  aborted.cancel();
  if (first.kind === 'interrupted') {
    await kernel.kill();
    await request;
    return first;
  }
  if (first.kind !== 'timeout') return first;
  // Interrupt first (an awaited cell stops); a busy loop never yields, so kill.
  kernel.interrupt();
  const grace = new Promise<'grace'>((resolve) => setTimeout(() => resolve('grace'), INTERRUPT_GRACE_MS).unref());
  if ((await Promise.race([request, grace])) === 'grace') {
    await kernel.kill();
    await request;
  }
  return first;
}

/** Waits until the kernel has answered a kernel_info request (and published its idle status), or `limitMs`, or an abort. */
async function flush(kernel: KernelClient, limitMs: number, signal: AbortSignal | undefined): Promise<void> {
  const answered = kernel.request('shell', 'kernel_info_request', {}).catch((err) => {
    if (!(err instanceof KernelDiedError)) throw err;
  });
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, limitMs)));
  const aborted = whenAborted(signal);
  await Promise.race([answered, limit, aborted.promise]);
  clearTimeout(timer);
  aborted.cancel();
}

/** Executes `nb` in a fresh kernel; never throws for a failing cell, only reports it. */
export async function executeNotebook(nb: Notebook, options: ExecuteOptions): Promise<ExecuteResult> {
  const notebook: Notebook = structuredClone(nb);
  const codeCells = notebook.cells
    .map((cell, index) => ({ cell, index }))
    .filter((c): c is { cell: CodeCell; index: number } => c.cell.cell_type === 'code');
  for (const { cell } of codeCells) {
    cell.outputs = [];
    cell.execution_count = null;
  }
  let kernel: KernelClient;
  const notRun = (failure: CellFailure): ExecuteResult => ({ notebook, failure, codeCellsRun: 0, codeCellCount: codeCells.length });
  try {
    kernel = await KernelClient.start({ cwd: path.resolve(options.cwd), env: options.env });
  } catch (err) {
    return notRun({ cell: 0, cellId: null, kind: 'start', ename: 'KernelStartError', evalue: (err as Error).message });
  }
  if (options.signal?.aborted) {
    await kernel.kill();
    const evalue = `the run was interrupted (${abortReason(options.signal)}) while the kernel started`;
    return notRun({ cell: 0, cellId: null, kind: 'interrupted', ename: 'Interrupted', evalue });
  }
  const displays = new Map<string, Output[]>();
  let failure: CellFailure | null = null;
  let run = 0;
  // Output that arrives after its cell's request was done (a timer's log, an
  // unhandled rejection) still belongs to that cell: found by its request id.
  const ran: { cell: CodeCell; index: number; collector: OutputCollector; requestId: string | null }[] = [];
  kernel.onUnclaimedIopub((m) => {
    const owner = ran.find((r) => r.requestId !== null && r.requestId === m.parent_header.msg_id);
    owner?.collector.handle(m);
  });
  const failAt = (cell: CodeCell, index: number, kind: CellFailure['kind'], ename: string, evalue: string): CellFailure =>
    ({ cell: index + 1, cellId: cell.id ?? null, kind, ename, evalue });
  /** The first cell that ran and holds an error output its reply did not report. */
  const lateError = (): CellFailure | null => {
    for (const r of ran) {
      const err = r.collector.firstError();
      if (err) return failAt(r.cell, r.index, 'error', err.ename, err.evalue);
    }
    return null;
  };
  try {
    for (const [k, { cell, index }] of codeCells.entries()) {
      const code = sourceText(cell.source);
      if (code.trim() === '') continue;
      if (options.signal?.aborted) {
        const evalue = `the run was interrupted (${abortReason(options.signal)}) before this cell ran`;
        failure = failAt(cell, index, 'interrupted', 'Interrupted', evalue);
        break;
      }
      options.onCell?.(k + 1, codeCells.length, index + 1);
      const collector = new OutputCollector(displays, options.onDisplay);
      const entry = { cell, index, collector, requestId: null as string | null };
      ran.push(entry);
      collector.onFirstMessage = (id) => (entry.requestId = id);
      const started = new Date().toISOString();
      const outcome = await runCell(kernel, code, collector, options.cellTimeoutMs, options.signal);
      run++;
      if (outcome.kind === 'reply') {
        const content = outcome.reply.content as { status?: string; execution_count?: number; ename?: string; evalue?: string; traceback?: string[] };
        cell.execution_count = content.execution_count ?? run;
        if (content.status !== 'ok') {
          if (!collector.hasError()) {
            const found = content.ename ? { ename: content.ename, evalue: content.evalue ?? '' } : errorFromStderr(collector.stderr);
            collector.addError(found.ename, found.evalue, content.traceback ?? collector.stderr.trimEnd().split('\n'));
          }
          const err = collector.firstError()!;
          failure = failAt(cell, index, 'error', err.ename, err.evalue);
        } else {
          // A round trip makes the kernel finish its pending work (unhandled
          // rejections are reported once the cell's microtasks have run), so
          // an error the cell caused shows up in this cell, not the next.
          await flush(kernel, Math.min(FLUSH_LIMIT_MS, options.cellTimeoutMs), options.signal);
          failure = lateError();
        }
      } else if (outcome.kind === 'timeout') {
        const evalue = `cell did not finish within ${options.cellTimeoutMs / 1000}s`;
        collector.addError('CellTimeoutError', evalue, [`CellTimeoutError: ${evalue}`]);
        failure = failAt(cell, index, 'timeout', 'CellTimeoutError', evalue);
      } else if (outcome.kind === 'interrupted') {
        const evalue = `the run was interrupted (${outcome.reason}) while this cell ran`;
        collector.addError('Interrupted', evalue, [`Interrupted: ${evalue}`]);
        failure = failAt(cell, index, 'interrupted', 'Interrupted', evalue);
      } else {
        const evalue = outcome.error.message;
        collector.addError('DeadKernelError', evalue, [`DeadKernelError: ${evalue}`]);
        failure = failAt(cell, index, 'dead-kernel', 'DeadKernelError', evalue);
      }
      cell.outputs = collector.outputs;
      cell.metadata.execution = { 'shell.execute_request': started, 'shell.execute_reply': new Date().toISOString() };
      options.onCellDone?.(index + 1, cell.id ?? null);
      if (failure) break;
    }
  } finally {
    await kernel.shutdown();
    kernel.onUnclaimedIopub(null);
  }
  // Late output may have replaced a collector's list (clear_output): take the final ones.
  for (const r of ran) r.cell.outputs = r.collector.outputs;
  return { notebook, failure, codeCellsRun: run, codeCellCount: codeCells.length };
}
