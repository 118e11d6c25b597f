// Figures end to end: fixture notebooks record them through kernel-lib in the
// real tslab kernel, and the real runner (CLI and API) writes them into the
// manifest and fails a notebook, naming the figure, when one leaves its band.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CodeCell, Notebook, Output } from '../../scripts/workbook/notebook';
import { sourceText } from '../../scripts/workbook/notebook';
import { runWorkbook, type Manifest } from '../../scripts/workbook/run';
import { root, fixtures, tempDir, runCli } from './helpers';

function manifestIn(out: string): Manifest {
  return JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
}

function stdoutOf(nb: Notebook, id: string): string {
  const cell = nb.cells.find((c) => c.id === id) as CodeCell;
  return cell.outputs
    .filter((o): o is Extract<Output, { output_type: 'stream' }> => o.output_type === 'stream' && o.name === 'stdout')
    .map((o) => sourceText(o.text))
    .join('');
}

function quiet(): (line: string) => void {
  return () => {};
}

describe('workbook figures: recorded in the kernel, checked by the runner', () => {
  before(function () {
    // The fixtures import the compiled library, as the workbook's notebooks do.
    if (!fs.existsSync(path.join(root, 'build', 'kernel-lib', 'runtime', 'figures.js'))) {
      console.log('      skipped: build/kernel-lib has no runtime/figures.js; run `npm run build` first');
      this.skip();
    }
  });

  it('in band: exit 0, the figures in the manifest and the executed notebook, listed in a table (bands.json beside the notebooks)', function () {
    this.timeout(120_000);
    const out = tempDir('workbook-figures-ok-');
    const r = runCli(['figures', '--notebooks', fixtures, '--out', out]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^figures\s+ok\s+4\/4\s+\S+\s+2\/2 in band, 1 unbanded$/m);
    assert.match(r.stdout, /^figures\s+demo\/accuracy\s+0\.5\s+fraction\s+\[0\.4, 0\.6\]\s+in band$/m);
    assert.match(r.stdout, /^figures\s+demo\/unbanded\s+3\s+-\s+no band$/m);
    const m = manifestIn(out);
    assert.equal(m.bands.file, path.join(fixtures, 'bands.json'));
    assert.deepEqual(m.bands.warnings, []);
    // Cells: markdown, parameters, injected parameters, c1 (4), c2 (5).
    const expected = {
      'demo/accuracy': { value: 0.5, unit: 'fraction', note: 'a parameter', band: [0.4, 0.6], check: 'in band', ok: true, cell: 4, cellId: 'c1' },
      'demo/loss': { value: 1.25, unit: 'nats', band: [1, 1.5], check: 'in band', ok: true, cell: 5, cellId: 'c2' },
      'demo/unbanded': { value: 3, band: null, check: 'no band', ok: true, cell: 5, cellId: 'c2' },
    };
    assert.deepEqual(m.notebooks[0].figures, expected);
    assert.equal(m.ok, true);
    const nb: Notebook = JSON.parse(fs.readFileSync(path.join(out, 'figures.ipynb'), 'utf8'));
    assert.deepEqual((nb.metadata.workbook as { figures: unknown }).figures, expected);
    assert.equal(stdoutOf(nb, 'c1'), 'figure demo/accuracy = 0.5 (fraction): a parameter\n');
    assert.ok(nb.cells.every((c) => c.cell_type !== 'code' || c.outputs.every((o) => o.output_type !== 'error')), 'no figure error shown');
  });

  it('out of band: exit 1, the figure, value and band named in the summary; a NaN figure fails its cell, naming it', function () {
    this.timeout(120_000);
    const dir = tempDir('workbook-figures-out-');
    const bands = path.join(dir, 'bands.json');
    fs.writeFileSync(bands, JSON.stringify({
      notebooks: { figures: { 'demo/accuracy': { quick: [0.4, 0.6] } }, '99-not-yet-written': { 'future/score': { quick: [0, 1] } } },
    }));
    const out = path.join(dir, 'out');
    const r = runCli(['figures', 'figure-nan', '-p', 'accuracy=0.9', '--notebooks', fixtures, '--bands', bands, '--out', out]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const outside = "figure 'demo/accuracy' = 0.9 is outside its quick band [0.4, 0.6]";
    assert.match(r.stdout, new RegExp(`^figures\\s+failed\\s+4/4\\s+\\S+\\s+0/1 in band, 2 unbanded\\s+cell 4 \\[c1\\]: FigureOutOfBand: ${outside.replace(/[[\].]/g, '\\$&')}`, 'm'));
    assert.match(r.stdout, /^figures\s+demo\/accuracy\s+0\.9\s+fraction\s+\[0\.4, 0\.6\]\s+OUT OF BAND$/m);
    assert.match(r.stdout, /^figure-nan\s+failed\s+2\/3\s+.*cell 3 \[c1\]: Error: recordFigure: figure 'demo\/accuracy': value must be a finite number, got NaN$/m);
    assert.match(r.stderr, /figures: FAILED at cell 4 \[id c1\] \(figures\): FigureOutOfBand: figure 'demo\/accuracy' = 0\.9/);
    assert.match(r.stderr, /has bands for '99-not-yet-written', which is not a notebook in .*: they are not checked/);
    const m = manifestIn(out);
    const [nan, figures] = m.notebooks;
    assert.equal(figures.status, 'failed');
    assert.equal(figures.failure?.kind, 'figures');
    assert.equal(figures.failure?.evalue, `${outside} (bands: ${bands})`);
    assert.deepEqual(figures.figures?.['demo/accuracy'], { value: 0.9, unit: 'fraction', note: 'a parameter', band: [0.4, 0.6], check: 'out of band', ok: false, cell: 4, cellId: 'c1' });
    const executed: Notebook = JSON.parse(fs.readFileSync(path.join(out, 'figures.ipynb'), 'utf8'));
    const c1 = executed.cells.find((c) => c.id === 'c1') as CodeCell;
    assert.deepEqual(c1.outputs.at(-1), { output_type: 'error', ename: 'FigureOutOfBand', evalue: outside, traceback: [`FigureOutOfBand: ${outside}`] });
    const validate = spawnSync('/usr/bin/python3', ['-c', 'import nbformat, sys; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))', path.join(out, 'figures.ipynb')], { encoding: 'utf8' });
    if (validate.error || /No module named/.test(validate.stderr)) console.log('      (nbformat schema check skipped: /usr/bin/python3 has no nbformat module)');
    else assert.equal(validate.status, 0, `nbformat rejects the executed notebook:\n${validate.stderr}`);
    assert.equal(nan.failure?.kind, 'error');
    assert.deepEqual(nan.figures, {}, 'the refused figure was never written');
    assert.equal(nan.codeCellsRun, 2, 'the cell after the NaN did not run');
    assert.deepEqual(m.bands.warnings.length, 1);
  });

  it('a banded figure never recorded fails the notebook, naming the figure and its band', async function () {
    this.timeout(120_000);
    const m = await runWorkbook({
      notebooksDir: fixtures, outDir: tempDir('workbook-figures-missing-'), select: ['figures'], mode: 'quick', seed: 0,
      parameters: { recordLoss: false }, cellTimeoutSeconds: 60, log: quiet(),
    });
    const nb = m.notebooks[0];
    assert.equal(m.ok, false);
    assert.equal(nb.codeCellsRun, nb.codeCellCount, 'every cell ran');
    assert.deepEqual(nb.failure, {
      cell: 0, cellId: null, kind: 'figures', ename: 'FigureNotRecorded',
      evalue: `figure 'demo/loss' was never recorded (its quick band is [1, 1.5]) (bands: ${path.relative(process.cwd(), path.join(fixtures, 'bands.json'))})`,
    });
    assert.deepEqual(nb.figures?.['demo/loss'], { value: null, band: [1, 1.5], check: 'not recorded', ok: false, cell: 0, cellId: null });
  });

  it('checks the bands of the run\'s mode: in full mode the full band applies, and a figure with only a quick band is unchecked', async function () {
    this.timeout(120_000);
    const m = await runWorkbook({
      notebooksDir: fixtures, outDir: tempDir('workbook-figures-full-'), select: ['figures'], mode: 'full', seed: 0,
      parameters: {}, cellTimeoutSeconds: 60, log: quiet(),
    });
    const nb = m.notebooks[0];
    assert.equal(nb.failure?.ename, 'FigureOutOfBand');
    assert.match(nb.failure!.evalue, /^figure 'demo\/accuracy' = 0\.5 is outside its full band \[0\.9, 1\] \(bands: /);
    assert.equal(nb.figures?.['demo/loss'].check, 'no band');
  });

  it('without bands (--no-bands), figures are recorded and listed, and none fails the notebook', async function () {
    this.timeout(120_000);
    const m = await runWorkbook({
      notebooksDir: fixtures, outDir: tempDir('workbook-figures-nobands-'), select: ['figures'], mode: 'quick', seed: 0,
      parameters: { accuracy: 0.9, recordLoss: false }, cellTimeoutSeconds: 60, log: quiet(), bandsFile: null,
    });
    assert.equal(m.ok, true, JSON.stringify(m.notebooks[0].failure));
    assert.equal(m.bands.file, null);
    assert.deepEqual(Object.entries(m.notebooks[0].figures!).map(([n, f]) => [n, f.value, f.check]), [['demo/accuracy', 0.9, 'no band'], ['demo/unbanded', 3, 'no band']]);
  });

  it('a malformed bands file stops the run before any kernel starts, naming the field', async () => {
    const dir = tempDir('workbook-figures-badbands-');
    const bands = path.join(dir, 'bands.json');
    fs.writeFileSync(bands, JSON.stringify({ notebooks: { figures: { 'demo/accuracy': { quick: [0.6, 0.4] } } } }));
    await assert.rejects(
      runWorkbook({ notebooksDir: fixtures, outDir: path.join(dir, 'out'), select: ['figures'], mode: 'quick', seed: 0, parameters: {}, cellTimeoutSeconds: 60, log: quiet(), bandsFile: bands }),
      /bands\.json: notebooks › figures › demo\/accuracy › quick: low 0\.6 is above high 0\.4/,
    );
    assert.equal(fs.existsSync(path.join(dir, 'out', 'figures.ipynb')), false);
  });
});
