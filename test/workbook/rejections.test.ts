// An unhandled promise rejection fails the notebook, as an error of the cell
// that was running when it happened (tslab used to print it to whichever
// cell's stderr came next, or to nowhere, and the notebook passed).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CodeCell, Notebook, Output } from '../../scripts/workbook/notebook';
import { runWorkbook } from '../../scripts/workbook/run';

const fixtures = path.resolve(__dirname, '..', 'fixtures', 'notebooks');

function cell(nb: Notebook, id: string): CodeCell {
  return nb.cells.find((c) => c.id === id) as CodeCell;
}

function errorOf(c: CodeCell): Extract<Output, { output_type: 'error' }> | undefined {
  return c.outputs.find((o): o is Extract<Output, { output_type: 'error' }> => o.output_type === 'error');
}

async function run(late: boolean) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'workbook-rejects-'));
  const m = await runWorkbook({ notebooksDir: fixtures, outDir: out, select: ['rejects'], mode: 'quick', seed: 0, parameters: { late }, cellTimeoutSeconds: 30, log: () => {} });
  const nb: Notebook = JSON.parse(fs.readFileSync(path.join(out, 'rejects.ipynb'), 'utf8'));
  return { m, nb };
}

describe('workbook: unhandled promise rejections', () => {
  it('a rejection nobody awaits fails the cell that made it, and the notebook', async function () {
    this.timeout(60_000);
    const { m, nb } = await run(false);
    assert.equal(m.ok, false);
    const f = m.notebooks[0].failure;
    assert.deepEqual(f && { cellId: f.cellId, kind: f.kind, ename: f.ename, evalue: f.evalue }, {
      cellId: 'c2', kind: 'error', ename: 'UnhandledPromiseRejection', evalue: 'Error: nobody awaited this',
    });
    const err = errorOf(cell(nb, 'c2'));
    assert.ok(err, 'c2 holds an error output');
    assert.ok(err.traceback.some((l) => l.includes('nobody awaited this')));
    assert.equal(cell(nb, 'c3').execution_count, null, 'later cells do not run');
    assert.equal(errorOf(cell(nb, 'c1')), undefined);
  });

  it('a rejection from a timer, while the next cell runs, fails that running cell', async function () {
    this.timeout(60_000);
    const { m, nb } = await run(true);
    assert.equal(m.ok, false);
    const f = m.notebooks[0].failure;
    assert.deepEqual(f && { cellId: f.cellId, ename: f.ename, evalue: f.evalue }, { cellId: 'c3', ename: 'UnhandledPromiseRejection', evalue: 'Error: rejected later' });
    assert.ok(errorOf(cell(nb, 'c3')));
    assert.equal(cell(nb, 'c4').execution_count, null);
  });
});
