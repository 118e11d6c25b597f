// The headless runner, end to end: the real CLI, the real tslab kernel, real
// notebooks on disk, and each way a notebook can fail.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorFromStderr } from '../../scripts/workbook/execute';
import type { CodeCell, Notebook, Output } from '../../scripts/workbook/notebook';
import { parseParameter, sourceText } from '../../scripts/workbook/notebook';
import { runWorkbook, selectNotebooks, type Manifest } from '../../scripts/workbook/run';
import { findChromium } from '../../scripts/workbook/static_figures';
import { root, fixtures, tempDir, runCli } from './helpers';

function read(file: string): Notebook {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function codeCells(nb: Notebook): CodeCell[] {
  return nb.cells.filter((c): c is CodeCell => c.cell_type === 'code');
}

function cellById(nb: Notebook, id: string): CodeCell {
  const cell = nb.cells.find((c) => c.id === id);
  assert.ok(cell && cell.cell_type === 'code', `code cell ${id}`);
  return cell as CodeCell;
}

function streamText(cell: CodeCell, name = 'stdout'): string {
  return cell.outputs
    .filter((o): o is Extract<Output, { output_type: 'stream' }> => o.output_type === 'stream' && o.name === name)
    .map((o) => sourceText(o.text))
    .join('');
}

function quiet(): (line: string) => void {
  return () => {};
}

/** Validates with the reference nbformat implementation when /usr/bin/python3 has it. */
function nbformatValidate(file: string): string | null {
  const check = spawnSync('/usr/bin/python3', ['-c', 'import nbformat, sys; nbformat.validate(nbformat.read(sys.argv[1], as_version=4)); print("valid")', file], { encoding: 'utf8' });
  if (check.error || /No module named/.test(check.stderr)) return null;
  assert.equal(check.status, 0, `nbformat rejects ${file}:\n${check.stderr}`);
  return check.stdout.trim();
}

describe('workbook runner: 00-setup through the real kernel', () => {
  const out = tempDir('workbook-setup-');
  let result: ReturnType<typeof runCli>;
  const source = path.join(root, 'notebooks', '00-setup.ipynb');
  const sourceHash = crypto.createHash('sha256').update(fs.readFileSync(source)).digest('hex');

  before(function () {
    this.timeout(300_000);
    result = runCli(['00-setup', '--out', out]);
  });

  it('exits 0 and prints progress and a summary', () => {
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, /00-setup: code cell 1\/\d+/);
    assert.match(result.stdout, /00-setup\s+ok\s+9\/9/);
  });

  it('leaves the source notebook untouched', () => {
    const after = crypto.createHash('sha256').update(fs.readFileSync(source)).digest('hex');
    assert.equal(after, sourceHash);
  });

  it('writes a valid nbformat 4 notebook with outputs, counts and MIME bundles', function () {
    const file = path.join(out, '00-setup.ipynb');
    const nb = read(file);
    assert.equal(nb.nbformat, 4);
    const cells = codeCells(nb);
    assert.deepEqual(cells.map((c) => c.execution_count), cells.map((_, i) => i + 1));
    assert.ok(cells.every((c) => c.outputs.every((o) => o.output_type !== 'error')));
    const injected = nb.cells[nb.cells.findIndex((c) => c.metadata.tags?.includes('parameters')) + 1] as CodeCell;
    assert.deepEqual(injected.metadata.tags, ['injected-parameters']);
    assert.match(sourceText(injected.source), /const mode: string = "quick";\nconst seed: number = 0;/);

    assert.match(streamText(cellById(nb, 'backend')), /^backend: wasm \(tfjs 'wasm'\)/m);
    assert.match(streamText(cellById(nb, 'backend')), /skipped node-gpu: /);
    const loss = /loss: ([\d.]+) at step 1 -> ([\d.]+) at step 60/.exec(streamText(cellById(nb, 'train')));
    assert.ok(loss && Number(loss[2]) < Number(loss[1]) / 10, `loss falls: ${streamText(cellById(nb, 'train'))}`);
    assert.match(streamText(cellById(nb, 'leaks')), /live tensors after each step: (\d+), \1, \1/);

    const plot = cellById(nb, 'plot').outputs[0] as Extract<Output, { output_type: 'display_data' }>;
    assert.equal(plot.output_type, 'display_data');
    const fig = plot.data['application/vnd.plotly.v1+json'] as { data: { y: number[] }[] };
    assert.equal(typeof fig, 'object', 'Plotly JSON is stored as JSON, not as a string');
    assert.equal(fig.data[0].y.length, 60);
    assert.match(plot.data['text/html'] as string, /Plotly\.newPlot/);
    assert.match(plot.data['text/plain'] as string, /Plotly figure/);
    if (findChromium()) {
      // Static image first in the HTML (what an untrusted front end shows), and plotly.js no longer in the notebook.
      assert.match(plot.data['text/html'] as string, /^<div id="plotly-[^"]+"[^>]*><img src="data:image\/png;base64,/);
      assert.equal(Buffer.from(plot.data['image/png'] as string, 'base64').subarray(1, 4).toString('latin1'), 'PNG');
      assert.ok(!fs.readFileSync(file, 'utf8').includes('data-workbook-library'), 'plotly.js dropped');
      assert.ok(fs.statSync(file).size < 500_000, `executed notebook is ${fs.statSync(file).size} bytes`);
    } else {
      console.log('      (static images not checked: no Chromium found)');
    }

    const danfo = cellById(nb, 'danfo').outputs[0] as Extract<Output, { output_type: 'display_data' }>;
    assert.match(danfo.data['text/html'] as string, /<th>step<\/th><th>loss<\/th><th>drop<\/th>/);
    const arrow = cellById(nb, 'arrow');
    assert.match(streamText(arrow), /schema: step: Int32, loss: Float32; 6 rows/);
    assert.ok(arrow.outputs.some((o) => o.output_type === 'display_data' && /<td>60<\/td>/.test(o.data['text/html'] as string)));

    const verdict = nbformatValidate(file);
    if (verdict === null) console.log('      (nbformat schema check skipped: /usr/bin/python3 has no nbformat module)');
    else assert.equal(verdict, 'valid');
  });

  it('writes a manifest: versions, backend, seed, mode, parameters, git commit, timings', () => {
    const m: Manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    assert.equal(m.mode, 'quick');
    assert.equal(m.seed, 0);
    assert.deepEqual(m.parameters, {});
    assert.deepEqual(m.backends, ['wasm']);
    assert.match(m.git.commit ?? '', /^[0-9a-f]{40}$/);
    assert.equal(m.versions.tslab, '1.0.22');
    assert.equal(m.versions['@tensorflow/tfjs'], '4.22.0');
    assert.equal(m.versions.node, process.versions.node);
    assert.equal(m.ok, true);
    assert.equal(m.notebooks.length, 1);
    assert.equal(m.notebooks[0].name, '00-setup');
    assert.ok(m.notebooks[0].seconds > 0);
    assert.equal((m.notebooks[0].runtime as { backend: string }).backend, 'wasm');
  });
});

describe('workbook runner: failures', () => {
  it('a failing cell: exit code 1, the cell named, the error kept, later cells not run, next notebook still run', function () {
    this.timeout(120_000);
    const out = tempDir('workbook-throws-');
    const r = runCli(['throws', 'params', '--notebooks', fixtures, '--out', out]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /throws: FAILED at cell 4 \[id c2\] \(error\): RangeError: deliberate failure, n = 2/);
    assert.match(r.stdout, /throws\s+failed\s+3\/4 .*cell 4 \[c2\]: RangeError: deliberate failure, n = 2/);
    assert.match(r.stdout, /params\s+ok/);
    const nb = read(path.join(out, 'throws.ipynb'));
    assert.equal(streamText(cellById(nb, 'c1')), 'before the failure\n');
    const failed = cellById(nb, 'c2');
    const error = failed.outputs.find((o) => o.output_type === 'error') as Extract<Output, { output_type: 'error' }>;
    assert.equal(error.ename, 'RangeError');
    assert.equal(error.evalue, 'deliberate failure, n = 2');
    assert.ok(error.traceback.some((l) => l.includes('RangeError')));
    assert.ok(failed.execution_count !== null);
    const skipped = cellById(nb, 'c3');
    assert.equal(skipped.execution_count, null);
    assert.deepEqual(skipped.outputs, []);
    assert.notEqual(nbformatValidate(path.join(out, 'throws.ipynb')), 'invalid');
    const m: Manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    assert.equal(m.ok, false);
    assert.deepEqual(m.notebooks.map((n) => [n.name, n.status]), [['params', 'ok'], ['throws', 'failed']]);
  });

  it('a cell over the time limit is stopped and recorded as CellTimeoutError', async function () {
    this.timeout(120_000);
    const out = tempDir('workbook-timeout-');
    const started = Date.now();
    const m = await runWorkbook({ notebooksDir: fixtures, outDir: out, select: ['timeout'], mode: 'quick', seed: 0, parameters: {}, cellTimeoutSeconds: 2, log: quiet() });
    assert.ok(Date.now() - started < 30_000, 'the runner did not hang');
    const f = m.notebooks[0].failure!;
    assert.equal(f.kind, 'timeout');
    assert.equal(f.cellId, 'c2');
    assert.equal(f.ename, 'CellTimeoutError');
    const nb = read(path.join(out, 'timeout.ipynb'));
    assert.equal(streamText(cellById(nb, 'c1')), 'start\n');
    assert.equal((cellById(nb, 'c2').outputs.at(-1) as Extract<Output, { output_type: 'error' }>).ename, 'CellTimeoutError');
    assert.equal(cellById(nb, 'c3').execution_count, null);
  });

  it('a kernel that exits is recorded as DeadKernelError with its exit code, output kept', async function () {
    this.timeout(120_000);
    const out = tempDir('workbook-exits-');
    const m = await runWorkbook({ notebooksDir: fixtures, outDir: out, select: ['exits'], mode: 'quick', seed: 0, parameters: {}, cellTimeoutSeconds: 60, log: quiet() });
    const f = m.notebooks[0].failure!;
    assert.equal(f.kind, 'dead-kernel');
    assert.equal(f.cellId, 'c2');
    assert.match(f.evalue, /exit code 3/);
    const nb = read(path.join(out, 'exits.ipynb'));
    assert.equal(streamText(cellById(nb, 'c1')), 'about to exit\n');
    assert.equal(cellById(nb, 'c3').execution_count, null);
  });

  it('a type error is reported as TypeScriptError with its position', async function () {
    this.timeout(120_000);
    const out = tempDir('workbook-type-');
    const m = await runWorkbook({ notebooksDir: fixtures, outDir: out, select: ['type-error'], mode: 'quick', seed: 0, parameters: {}, cellTimeoutSeconds: 60, log: quiet() });
    const f = m.notebooks[0].failure!;
    assert.equal(f.ename, 'TypeScriptError');
    assert.match(f.evalue, /1:7 - Type 'string' is not assignable to type 'number'/);
  });
});

describe('workbook runner: parameters and selection', () => {
  it('injects --mode and -p values after the parameters cell, with their declared types; live displays end as one output', async function () {
    this.timeout(120_000);
    const out = tempDir('workbook-params-');
    const logs: string[] = [];
    const m = await runWorkbook({
      notebooksDir: fixtures, outDir: out, select: ['params'], mode: 'full', seed: 7,
      parameters: { steps: 7, label: 'x y', unknown: true }, cellTimeoutSeconds: 60, log: (l) => logs.push(l),
    });
    assert.equal(m.ok, true, JSON.stringify(m.notebooks[0].failure));
    const nb = read(path.join(out, 'params.ipynb'));
    assert.equal(nb.cells[1].metadata.tags?.[0], 'parameters');
    assert.equal(nb.cells[2].metadata.tags?.[0], 'injected-parameters');
    assert.deepEqual(JSON.parse(streamText(cellById(nb, 'c1'))), { mode: 'full', steps: 7, label: 'x y', quick: false });
    const live = cellById(nb, 'c2').outputs;
    assert.equal(live.length, 1);
    assert.deepEqual((live[0] as Extract<Output, { output_type: 'display_data' }>).data, { 'text/html': '<b>second</b>' });
    const c3 = cellById(nb, 'c3');
    const json = c3.outputs.find((o) => o.output_type === 'display_data') as Extract<Output, { output_type: 'display_data' }>;
    assert.deepEqual(json.data['application/vnd.example+json'], { answer: 42 });
    assert.equal(streamText(c3, 'stderr'), 'to stderr\n');
    assert.ok(logs.some((l) => /parameters not declared in the "parameters" cell: unknown/.test(l)));
    assert.deepEqual(m.notebooks[0].warnings, ['parameters not declared in the "parameters" cell: unknown']);
    assert.equal((nb.metadata.workbook as { mode: string }).mode, 'full');
  });

  it('parses -p values as JSON when they parse, else as strings', () => {
    assert.deepEqual(parseParameter('steps=100'), ['steps', 100]);
    assert.deepEqual(parseParameter('fast=true'), ['fast', true]);
    assert.deepEqual(parseParameter('sizes=[1,2]'), ['sizes', [1, 2]]);
    assert.deepEqual(parseParameter('name=tiny model'), ['name', 'tiny model']);
    assert.deepEqual(parseParameter('eq=a=b'), ['eq', 'a=b']);
    assert.throws(() => parseParameter('novalue'), /expected name=value/);
    assert.throws(() => parseParameter('2x=1'), /not a valid identifier/);
  });

  it('selects notebooks by name or prefix, in order, and names the choices on a miss', () => {
    const all = ['charts', 'chatty', 'exits', 'figure-nan', 'figures', 'no-kernelspec', 'params', 'progress', 'python', 'rejects', 'spawns', 'throws', 'timeout', 'type-error'];
    assert.deepEqual(selectNotebooks(fixtures, []), all.map((n) => `${n}.ipynb`));
    assert.deepEqual(selectNotebooks(fixtures, ['t']), ['throws.ipynb', 'timeout.ipynb', 'type-error.ipynb']);
    assert.deepEqual(selectNotebooks(fixtures, ['timeout.ipynb', 'exits']), ['exits.ipynb', 'timeout.ipynb']);
    assert.throws(() => selectNotebooks(fixtures, ['04-sft']), new RegExp(`no notebook matches '04-sft' in .*; available: ${all.join(', ')}$`));
  });

  it('records an unreadable notebook as failed, naming the file and the problem, and runs the others', async function () {
    this.timeout(120_000);
    const dir = tempDir('workbook-broken-');
    fs.writeFileSync(path.join(dir, '01-broken.ipynb'), '{"nbformat": 4, "cells": [');
    fs.copyFileSync(path.join(fixtures, 'params.ipynb'), path.join(dir, '02-params.ipynb'));
    const m = await runWorkbook({ notebooksDir: dir, outDir: path.join(dir, 'out'), select: [], mode: 'quick', seed: 0, parameters: {}, cellTimeoutSeconds: 60, log: quiet() });
    assert.equal(m.ok, false);
    const [broken, params] = m.notebooks;
    assert.equal(broken.failure?.kind, 'read');
    assert.match(broken.failure!.evalue, /01-broken\.ipynb: not valid JSON/);
    assert.equal(params.status, 'ok');
  });

  it('refuses to write executed notebooks over the sources', async () => {
    await assert.rejects(
      runWorkbook({ notebooksDir: fixtures, outDir: fixtures, select: [], mode: 'quick', seed: 0, parameters: {}, cellTimeoutSeconds: 60, log: quiet() }),
      /is the notebooks folder/,
    );
  });

  it('recovers the error name and message tslab leaves only in stderr', () => {
    assert.deepEqual(errorFromStderr('evalmachine.<anonymous>:2\nthrow x;\n^\n\nTypeError: x is not a function\n    at ...'), { ename: 'TypeError', evalue: 'x is not a function' });
    assert.deepEqual(errorFromStderr('2:3 - Cannot find name \'y\'.\n'), { ename: 'TypeScriptError', evalue: "2:3 - Cannot find name 'y'." });
    assert.deepEqual(errorFromStderr(''), { ename: 'CellError', evalue: 'the cell failed and the kernel gave no message' });
  });
});
