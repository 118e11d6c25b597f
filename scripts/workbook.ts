// npm run workbook -- [notebook ...] [--mode quick|full] [-p name=value ...]
// Executes the workbook's notebooks headlessly in the real tslab kernel.
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { displayPath, figuresTable } from './workbook/figures';
import { KernelClient } from './workbook/kernel';
import { parseParameter, type ParameterValue } from './workbook/notebook';
import { REPORT_FILE } from './workbook/report';
import { runWorkbook, selectNotebooks, summaryTable, type Mode } from './workbook/run';

/** Signals this close together are one press of Ctrl-C, relayed more than once. */
const SAME_PRESS_MS = 1500;
const USAGE = `usage: npm run workbook -- [notebook ...] [options]

Runs each notebook (all of notebooks/ by default, or those named: '04-sft',
'04') in a fresh tslab kernel and writes the executed copies, manifest.json
and report.html (the run in one offline page: status, times, figures against
their bands, every chart) to the output folder. Figures a notebook records
(recordFigure) go into the manifest and are checked against their band for
the mode (notebooks/bands.json): a figure outside its band, or a banded figure
never recorded, fails the notebook. Exits non-zero if any notebook failed.
Ctrl-C (or SIGTERM) ends the running kernel and what its cells started, and
writes the manifest marked interrupted (exit 130, or 143); a second one exits
at once.

options:
  --mode quick|full     run size, injected as the parameter 'mode' (default quick)
  -p, --param name=val  set a parameter (JSON value, else a string); repeatable
  --seed N              injected as the parameter 'seed' (default 0)
  --timeout SECONDS     per-cell limit (default 900 in quick mode, 3600 in full mode,
                        where one cell trains for tens of minutes)
  --out DIR             output folder (default out/workbook)
  --notebooks DIR       notebooks folder (default notebooks)
  --bands FILE          expected bands of figures (default bands.json in the notebooks folder)
  --no-bands            record and list figures, check none against bands
  --no-images           keep figures interactive only (no static images drawn in Chromium)
  --list                list the notebooks that would run, and exit
  -h, --help            this text`;

async function main(): Promise<number> {
  const root = path.resolve(__dirname, '..');
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      mode: { type: 'string', default: 'quick' },
      param: { type: 'string', short: 'p', multiple: true, default: [] },
      seed: { type: 'string', default: '0' },
      timeout: { type: 'string' },
      out: { type: 'string', default: path.join(root, 'out', 'workbook') },
      notebooks: { type: 'string', default: path.join(root, 'notebooks') },
      bands: { type: 'string' },
      'no-bands': { type: 'boolean', default: false },
      'no-images': { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.mode !== 'quick' && values.mode !== 'full') throw new Error(`--mode must be quick or full, got '${values.mode}'`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got '${values.seed}'`);
  const timeout = Number(values.timeout ?? (values.mode === 'full' ? 3600 : 900));
  if (!(timeout > 0)) throw new Error(`--timeout must be a positive number of seconds, got '${values.timeout}'`);
  if (values['no-bands'] && values.bands !== undefined) throw new Error('--bands and --no-bands contradict each other: give one');
  const parameters: Record<string, ParameterValue> = {};
  for (const assignment of values.param) {
    const [name, value] = parseParameter(assignment);
    parameters[name] = value;
  }
  if (values.list) {
    selectNotebooks(values.notebooks, positionals).forEach((f) => console.log(f));
    return 0;
  }
  // Ctrl-C or SIGTERM: end the running kernel (and what its cells started),
  // remove its connection file, write the manifest marked interrupted, exit
  // 130/143. A second signal does not wait: kernels are killed and we exit.
  // One Ctrl-C often arrives more than once: the terminal signals the whole
  // process group, and wrappers (npm, tsx) relay it to us as well; so a
  // repeat within a moment counts as the same press.
  const stop = new AbortController();
  let signalled: NodeJS.Signals | null = null;
  let signalledAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      if (Date.now() - signalledAt < SAME_PRESS_MS) return;
      KernelClient.killAllNow();
      process.exit(128 + (os.constants.signals[signal] ?? 0));
    }
    signalled = signal;
    signalledAt = Date.now();
    console.error(`workbook: ${signal}: stopping the kernel and writing the manifest (again to stop at once)`);
    stop.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const manifest = await runWorkbook({
    notebooksDir: values.notebooks,
    outDir: values.out,
    select: positionals,
    mode: values.mode,
    seed,
    parameters,
    cellTimeoutSeconds: timeout,
    log: (line) => console.error(line),
    signal: stop.signal,
    bandsFile: values['no-bands'] ? null : values.bands,
    images: !values['no-images'],
  });
  console.log('\n' + summaryTable(manifest.notebooks));
  const figures = figuresTable(manifest.notebooks, manifest.mode);
  if (figures) console.log(`\nfigures${manifest.bands.file ? ` (bands: ${displayPath(manifest.bands.file)})` : ' (no bands checked)'}:\n${figures}`);
  console.log(`\nexecuted notebooks and manifest.json in ${path.resolve(values.out)} (${manifest.totalSeconds.toFixed(1)}s)`);
  console.log(`report: ${path.join(path.resolve(values.out), REPORT_FILE)}`);
  if (manifest.interrupted) {
    console.log(`interrupted by ${manifest.interrupted}`);
    return 128 + (os.constants.signals[manifest.interrupted as NodeJS.Signals] ?? 0);
  }
  if (!manifest.ok) console.log(`${manifest.notebooks.filter((n) => n.status !== 'ok').length} notebook(s) failed`);
  return manifest.ok ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(`workbook: ${(err as Error).message}`);
    process.exitCode = 2;
  },
);
