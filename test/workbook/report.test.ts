// What the runner refuses and how it reports: a notebook for another kernel,
// the summary table and the durations it prints.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkKernelspec, type Notebook } from '../../scripts/workbook/notebook';
import { formatSeconds, runWorkbook, summaryTable, type NotebookRecord } from '../../scripts/workbook/run';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, 'test', 'fixtures', 'notebooks');

function record(over: Partial<NotebookRecord>): NotebookRecord {
  return { name: 'nb', source: 'nb.ipynb', output: '', status: 'ok', seconds: 1, codeCellsRun: 1, codeCellCount: 1, failure: null, runtime: null, warnings: [], ...over };
}

describe('workbook: the notebook kernelspec', () => {
  it('refuses a Python notebook, naming its kernelspec, and still runs the others; warns when there is none', async function () {
    this.timeout(60_000);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'workbook-kernelspec-'));
    const logs: string[] = [];
    const m = await runWorkbook({ notebooksDir: fixtures, outDir: out, select: ['python', 'no-kernelspec'], mode: 'quick', seed: 0, parameters: {}, cellTimeoutSeconds: 30, log: (l) => logs.push(l) });
    const [none, python] = m.notebooks;
    assert.equal(python.name, 'python');
    assert.equal(python.status, 'failed');
    assert.equal(python.failure?.kind, 'kernelspec');
    assert.match(python.failure!.evalue, /python\.ipynb: metadata\.kernelspec is kernelspec "python3" \(display_name "Python 3 \(ipykernel\)", language "python"\), expected 'tslab'/);
    assert.equal(python.codeCellsRun, 0, 'no Python cell is run as TypeScript');
    assert.equal(fs.existsSync(path.join(out, 'python.ipynb')), false);
    assert.equal(none.status, 'ok', JSON.stringify(none.failure));
    assert.ok(none.warnings.some((w) => /no-kernelspec\.ipynb: no metadata\.kernelspec/.test(w)), JSON.stringify(none.warnings));
    assert.ok(logs.some((l) => /no-kernelspec: warning: .*no metadata\.kernelspec/.test(l)));
    assert.equal(m.ok, false);
  });

  it('accepts tslab, and a TypeScript kernelspec under another name with a warning', () => {
    const nb = (kernelspec: unknown): Notebook => ({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec }, cells: [] });
    assert.deepEqual(checkKernelspec(nb({ name: 'tslab', language: 'typescript' }), 'a.ipynb'), { error: null, warning: null });
    const renamed = checkKernelspec(nb({ name: 'ts2', display_name: 'TS', language: 'typescript' }), 'a.ipynb');
    assert.equal(renamed.error, null);
    assert.match(renamed.warning ?? '', /a\.ipynb: kernelspec "ts2" .* is not 'tslab'/);
    assert.match(checkKernelspec(nb({ name: 'jslab', language: 'javascript' }), 'a.ipynb').error ?? '', /kernelspec "jslab"/);
  });
});

describe('workbook: the summary', () => {
  it('keeps the whole first line of a failure (a JSON error keeps its position)', () => {
    const evalue = `${'/a/long/path/to/the/notebooks/folder/'.repeat(2)}01-broken.ipynb: not valid JSON (Expected ',' or ']' after array element in JSON at position 27 (line 1 column 28))\nsecond line`;
    const table = summaryTable([record({ name: '01-broken', status: 'failed', failure: { cell: 0, cellId: null, kind: 'read', ename: 'NotebookReadError', evalue } })]);
    assert.match(table, /NotebookReadError: .*01-broken\.ipynb: not valid JSON .*at position 27 \(line 1 column 28\)\)$/m);
    assert.doesNotMatch(table, /second line/);
  });

  it('prints durations as seconds under a minute, else minutes and whole seconds (never 5m60s)', () => {
    assert.equal(formatSeconds(12.34), '12.3s');
    assert.equal(formatSeconds(59.94), '59.9s');
    assert.equal(formatSeconds(59.96), '1m00s');
    assert.equal(formatSeconds(359.7), '6m00s');
    assert.equal(formatSeconds(359.4), '5m59s');
    assert.equal(formatSeconds(3725), '62m05s');
    assert.match(summaryTable([record({ seconds: 359.7 })]), /\s6m00s/);
  });
});

describe('workbook: files Jupyter leaves behind', () => {
  it('git ignores .ipynb_checkpoints/ wherever Jupyter writes it', function () {
    const probe = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: root, encoding: 'utf8' });
    if (probe.status !== 0) {
      console.log('      skipped: not a git checkout (or no git)');
      this.skip();
    }
    for (const file of ['notebooks/.ipynb_checkpoints/00-setup-checkpoint.ipynb', 'test/fixtures/notebooks/.ipynb_checkpoints/params-checkpoint.ipynb']) {
      const check = spawnSync('git', ['check-ignore', '--no-index', '-q', file], { cwd: root });
      assert.equal(check.status, 0, `${file} is not ignored by .gitignore`);
    }
  });
});
