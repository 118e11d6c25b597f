// Runs a set of notebooks headlessly, one fresh kernel each, writes the
// executed notebooks and a run manifest, and reports a summary.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIGURES_FILE_ENV } from '../../kernel-lib/runtime/figures';
import { loadBands, type Bands } from './bands';
import { CellProgress } from './cell_progress';
import { executeNotebook, type CellFailure } from './execute';
import { checkFigures, FigureLog, figuresSummary, type FigureRecord } from './figures';
import { checkKernelspec, injectParameters, readNotebook, writeNotebook, type ParameterValue } from './notebook';
import { writeReport } from './report';
import { addStaticFigures, chromiumImager, findChromium, hasFigures, type FigureImager } from './static_figures';

export type Mode = 'quick' | 'full';

export interface RunOptions {
  notebooksDir: string;
  outDir: string;
  /** Names or prefixes ('04-sft', '04'); empty means every notebook. */
  select: string[];
  mode: Mode;
  seed: number;
  parameters: Record<string, ParameterValue>;
  cellTimeoutSeconds: number;
  log: (line: string) => void;
  /**
   * Aborting it (with the signal's name as reason, e.g. 'SIGINT') ends the
   * running kernel, skips the notebooks not yet run and writes the manifest
   * marked interrupted.
   */
  signal?: AbortSignal;
  /**
   * The figures' expected bands: a bands file, null to check none (figures are
   * still recorded and listed), or undefined for bands.json in the notebooks
   * folder when there is one.
   */
  bandsFile?: string | null;
  /**
   * Static images for the figures of the executed notebooks, drawn in
   * Chromium (default true). Where no Chromium is found the run says so once
   * and keeps the interactive figures (with plotly.js inlined).
   */
  images?: boolean;
  /**
   * While a cell runs: print the notebook's progress lines at most this often
   * (default 15 s; finished ones at once), and say a cell is still running
   * after this many quiet seconds (default 60).
   */
  progressSeconds?: number;
  quietSeconds?: number;
}

export interface NotebookRecord {
  name: string;
  source: string;
  output: string;
  status: 'ok' | 'failed';
  seconds: number;
  codeCellsRun: number;
  codeCellCount: number;
  failure: CellFailure | null;
  /** What kernel-lib/runtime reported from inside the kernel, when the notebook initialised it. */
  runtime: unknown;
  warnings: string[];
  /** What the notebook recorded with recordFigure, and each figure's band and check (empty when it did not run). */
  figures?: Record<string, FigureRecord>;
  /** Figure outputs given a static image (0 where images were off or no Chromium was found). */
  images?: number;
}

export interface Manifest {
  createdAt: string;
  command: string[];
  mode: Mode;
  seed: number;
  parameters: Record<string, ParameterValue>;
  cellTimeoutSeconds: number;
  git: { commit: string | null; dirty: boolean | null };
  versions: Record<string, string>;
  platform: { os: string; arch: string; cpus: number; cpuModel: string; memoryGiB: number };
  backends: string[];
  /** The bands file the figures were checked against (null: none), and what it names that is not in the notebooks folder. */
  bands: { file: string | null; warnings: string[] };
  notebooks: NotebookRecord[];
  totalSeconds: number;
  ok: boolean;
  /** Why the run stopped early (the signal's name), or null when it ran to the end. */
  interrupted: string | null;
}

/** Notebooks of `dir`, in file-name order, filtered by exact name or prefix. */
export function selectNotebooks(dir: string, select: string[]): string[] {
  if (!fs.existsSync(dir)) throw new Error(`notebooks folder not found: ${dir}`);
  const all = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb'))
    .sort();
  if (select.length === 0) return all;
  const chosen = new Set<string>();
  for (const want of select) {
    const base = want.replace(/\.ipynb$/, '');
    const matches = all.filter((f) => f === `${base}.ipynb` || f.startsWith(base));
    if (matches.length === 0) {
      throw new Error(`no notebook matches '${want}' in ${dir}; available: ${all.map((f) => f.replace(/\.ipynb$/, '')).join(', ') || '(none)'}`);
    }
    matches.forEach((m) => chosen.add(m));
  }
  return all.filter((f) => chosen.has(f));
}

function git(args: string[], cwd: string): string | null {
  try {
    return execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return null;
  }
}

// Read from node_modules directly: some packages' export maps hide package.json.
function packageVersion(name: string): string {
  try {
    const file = path.resolve(__dirname, '..', '..', 'node_modules', name, 'package.json');
    return JSON.parse(fs.readFileSync(file, 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

function versions(): Record<string, string> {
  const names = ['tslab', '@tslab/typescript-for-tslab', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'danfojs-node', 'apache-arrow', 'plotly.js-dist-min', 'zeromq'];
  const own = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8'));
  const out: Record<string, string> = { node: process.versions.node, workbook: own.version };
  for (const name of names) out[name] = packageVersion(name);
  return out;
}

/** 12.3s under a minute, else 5m07s (rounded to whole seconds first, so never 5m60s). */
export function formatSeconds(s: number): string {
  if (s < 59.95) return `${s.toFixed(1)}s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)}m${(whole % 60).toString().padStart(2, '0')}s`;
}

/** A plain-text table: one row per notebook, with the first line of each failure in full (it is the last column). */
export function summaryTable(records: NotebookRecord[]): string {
  const rows = [['notebook', 'status', 'cells', 'time', 'figures', 'failure']];
  for (const r of records) {
    const f = r.failure;
    const where = f && f.cell > 0 ? `cell ${f.cell}${f.cellId ? ` [${f.cellId}]` : ''}: ` : '';
    const failure = f ? `${where}${f.ename}: ${f.evalue}`.split('\n')[0] : '';
    rows.push([r.name, r.status, `${r.codeCellsRun}/${r.codeCellCount}`, formatSeconds(r.seconds), figuresSummary(r.figures), failure]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((v, c) => v.padEnd(widths[c])).join('  ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Notebooks the bands name that the folder does not hold: a typo, or a notebook still to be written. */
function unknownNotebooks(bands: Bands, notebooksDir: string): string[] {
  const present = new Set(selectNotebooks(notebooksDir, []).map((f) => f.replace(/\.ipynb$/, '')));
  return Object.keys(bands.notebooks)
    .filter((n) => !present.has(n))
    .map((n) => `${bands.file} has bands for '${n}', which is not a notebook in ${notebooksDir}: they are not checked`);
}

/** Starts Chromium once for the run, on the first notebook that needs it; null (said once) where there is none. */
function imagerForRun(options: RunOptions): { get(): Promise<FigureImager | null>; close(): Promise<void> } {
  let pending: Promise<FigureImager | null> | null = null;
  return {
    get() {
      if (options.images === false) return Promise.resolve(null);
      pending ??= (async () => {
        const chromium = findChromium();
        if (!chromium) {
          options.log('note: no Chromium found (set CHROMIUM_PATH, or install Debian\'s chromium): executed notebooks keep interactive figures only, which untrusted front ends show blank');
          return null;
        }
        try {
          return await chromiumImager(chromium);
        } catch (err) {
          options.log(`note: Chromium at ${chromium} did not start (${(err as Error).message.split('\n')[0]}): executed notebooks keep interactive figures only`);
          return null;
        }
      })();
      return pending;
    },
    async close() {
      const imager = pending ? await pending : null;
      await imager?.close();
    },
  };
}

export async function runWorkbook(options: RunOptions): Promise<Manifest> {
  const notebooksDir = path.resolve(options.notebooksDir);
  const outDir = path.resolve(options.outDir);
  if (outDir === notebooksDir) throw new Error(`output folder ${outDir} is the notebooks folder; executed notebooks never overwrite their sources`);
  const names = selectNotebooks(notebooksDir, options.select);
  const bands = loadBands(options.bandsFile, notebooksDir);
  const bandWarnings = bands ? unknownNotebooks(bands, notebooksDir) : [];
  bandWarnings.forEach((w) => options.log(`warning: ${w}`));
  fs.mkdirSync(outDir, { recursive: true });
  const runtimeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'workbook-runtime-'));
  const started = Date.now();
  const records: NotebookRecord[] = [];
  const parameters = { mode: options.mode, seed: options.seed, ...options.parameters };
  const note = [`--mode ${options.mode}`, `--seed ${options.seed}`, ...Object.entries(options.parameters).map(([k, v]) => `-p ${k}=${JSON.stringify(v)}`)].join(' ');

  const interrupted = () => (options.signal?.aborted ? String(options.signal.reason ?? 'aborted') : null);
  const imager = imagerForRun(options);
  try {
    for (const [i, file] of names.entries()) {
      if (interrupted()) break;
      const name = file.replace(/\.ipynb$/, '');
      const source = path.join(notebooksDir, file);
      const output = path.join(outDir, file);
      const t0 = Date.now();
      const warnings: string[] = [];
      const elapsed = () => formatSeconds((Date.now() - t0) / 1000);
      options.log(`[${i + 1}/${names.length}] ${name}: starting kernel`);
      let sourceNotebook;
      try {
        sourceNotebook = readNotebook(source);
      } catch (err) {
        // An unreadable notebook fails alone; the others still run.
        const failure: CellFailure = { cell: 0, cellId: null, kind: 'read', ename: 'NotebookReadError', evalue: (err as Error).message };
        options.log(`  ${name}: FAILED (read): ${failure.evalue}`);
        records.push({ name, source, output: '', status: 'failed', seconds: 0, codeCellsRun: 0, codeCellCount: 0, failure, runtime: null, warnings, figures: {} });
        continue;
      }
      const kernelspec = checkKernelspec(sourceNotebook, source);
      if (kernelspec.error) {
        const failure: CellFailure = { cell: 0, cellId: null, kind: 'kernelspec', ename: 'KernelspecError', evalue: kernelspec.error };
        options.log(`  ${name}: FAILED (kernelspec): ${failure.evalue}`);
        records.push({ name, source, output: '', status: 'failed', seconds: 0, codeCellsRun: 0, codeCellCount: 0, failure, runtime: null, warnings, figures: {} });
        continue;
      }
      if (kernelspec.warning) warnings.push(kernelspec.warning);
      const { notebook, injection } = injectParameters(sourceNotebook, parameters, note);
      if (!injection.hadParametersCell) warnings.push('no cell tagged "parameters": parameters injected as the first cell');
      const unknown = injection.undeclared.filter((n) => n in options.parameters);
      if (unknown.length) warnings.push(`parameters not declared in the "parameters" cell: ${unknown.join(', ')}`);
      warnings.forEach((w) => options.log(`  ${name}: warning: ${w}`));
      const runtimeFile = path.join(runtimeDir, `${name}.json`);
      const figureLog = new FigureLog(path.join(runtimeDir, `${name}.figures.jsonl`));
      const progress = new CellProgress({
        log: options.log,
        name,
        everyMs: (options.progressSeconds ?? 15) * 1000,
        quietMs: (options.quietSeconds ?? 60) * 1000,
        formatSeconds,
      });
      const result = await executeNotebook(notebook, {
        cwd: notebooksDir,
        cellTimeoutMs: options.cellTimeoutSeconds * 1000,
        env: {
          WORKBOOK_RUNTIME_REPORT: runtimeFile,
          [FIGURES_FILE_ENV]: figureLog.file,
          WORKBOOK_MODE: options.mode,
          WORKBOOK_SEED: String(options.seed),
        },
        onCell: (k, n, cell) => {
          options.log(`  ${name}: code cell ${k}/${n} (cell ${cell}) ${elapsed()}`);
          progress.cellStarted(cell);
        },
        onCellDone: (cell, cellId) => {
          progress.cellDone();
          figureLog.cellDone(cell, cellId);
        },
        onDisplay: (data) => progress.display(data),
        signal: options.signal,
      }).finally(() => progress.cellDone());
      const seconds = (Date.now() - t0) / 1000;
      const checked = checkFigures(figureLog, name, bands, options.mode);
      warnings.push(...checked.warnings);
      checked.warnings.forEach((w) => options.log(`  ${name}: warning: ${w}`));
      // A cell's own failure comes first: the figures it did not get to record are listed, not blamed.
      const failure = result.failure ?? checked.failure;
      const status = failure ? 'failed' : 'ok';
      // Shown where a reader of the executed notebook looks: under the cell that recorded the figure.
      for (const { cell, message } of checked.outOfBand) {
        const target = result.notebook.cells[cell - 1];
        if (target?.cell_type === 'code') target.outputs.push({ output_type: 'error', ename: 'FigureOutOfBand', evalue: message, traceback: [`FigureOutOfBand: ${message}`] });
      }
      result.notebook.metadata.workbook = {
        mode: options.mode,
        seed: options.seed,
        parameters,
        status,
        failure,
        figures: checked.figures,
        seconds: Number(seconds.toFixed(3)),
        executedAt: new Date(t0).toISOString(),
      };
      let images = 0;
      if (hasFigures(result.notebook)) {
        const im = await imager.get();
        if (im) {
          try {
            images = (await addStaticFigures(result.notebook, im)).figures;
          } catch (err) {
            const w = `static images not added: ${(err as Error).message.split('\n')[0]}`;
            warnings.push(w);
            options.log(`  ${name}: warning: ${w}`);
          }
        }
      }
      writeNotebook(output, result.notebook);
      let runtime: unknown = null;
      if (fs.existsSync(runtimeFile)) runtime = JSON.parse(fs.readFileSync(runtimeFile, 'utf8'));
      records.push({ name, source, output, status, seconds, codeCellsRun: result.codeCellsRun, codeCellCount: result.codeCellCount, failure, runtime, warnings, figures: checked.figures, images });
      if (failure) {
        const f = failure;
        const at = f.cell > 0 ? ` at cell ${f.cell}${f.cellId ? ` [id ${f.cellId}]` : ''}` : '';
        options.log(`  ${name}: FAILED${at} (${f.kind}): ${f.ename}: ${f.evalue.split('\n')[0]}`);
      } else {
        options.log(`  ${name}: ok in ${formatSeconds(seconds)}`);
      }
    }
  } finally {
    await imager.close();
  }
  fs.rmSync(runtimeDir, { recursive: true, force: true });

  const root = path.resolve(__dirname, '..', '..');
  const commit = git(['rev-parse', 'HEAD'], root);
  const dirty = commit === null ? null : (git(['status', '--porcelain', '--untracked-files=no'], root) ?? '') !== '';
  const backends = [...new Set(records.map((r) => (r.runtime as { backend?: string } | null)?.backend).filter((b): b is string => !!b))];
  const manifest: Manifest = {
    createdAt: new Date(started).toISOString(),
    command: process.argv.slice(2),
    mode: options.mode,
    seed: options.seed,
    parameters: options.parameters,
    cellTimeoutSeconds: options.cellTimeoutSeconds,
    git: { commit, dirty },
    versions: versions(),
    platform: { os: `${os.type()} ${os.release()}`, arch: os.arch(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(os.totalmem() / 2 ** 30) },
    backends,
    bands: { file: bands?.file ?? null, warnings: bandWarnings },
    notebooks: records,
    totalSeconds: Number(((Date.now() - started) / 1000).toFixed(3)),
    ok: records.every((r) => r.status === 'ok') && !interrupted(),
    interrupted: interrupted(),
  };
  fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  const report = writeReport(manifest, outDir);
  options.log(`report: ${report}`);
  return manifest;
}
