// Progress during long cells: kernel-lib's progress line is one output
// updated in place (the executed notebook keeps its last state), and the
// runner prints it while the cell runs, and says when a cell has been quiet.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PROGRESS_MIME } from '../../kernel-lib/viz';
import { runWorkbook } from '../../scripts/workbook/run';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, 'test', 'fixtures', 'notebooks');

describe('workbook: progress while a cell runs', function () {
  this.timeout(60_000);

  it('prints the notebook progress lines and a still-running line; the notebook keeps one progress output with the final state', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'workbook-progress-'));
    const logs: string[] = [];
    const m = await runWorkbook({
      notebooksDir: fixtures, outDir: out, select: ['progress'], mode: 'quick', seed: 0, parameters: {}, cellTimeoutSeconds: 30,
      log: (l) => logs.push(l), images: false, progressSeconds: 0, quietSeconds: 1,
    });
    assert.equal(m.ok, true, JSON.stringify(m.notebooks[0].failure));
    const lines = logs.filter((l) => l.startsWith('  progress: cell'));
    const demo = lines.filter((l) => /cell 4: demo \d\/5/.test(l));
    assert.ok(demo.length >= 2, lines.join('\n'));
    assert.equal(demo.at(-1), '  progress: cell 4: demo 5/5 · step 5 · done');
    assert.ok(lines.some((l) => /^ {2}progress: cell 5 still running \(\d+\.\ds\)$/.test(l)), lines.join('\n'));
    const firstDemo = lines.indexOf(demo[0]);
    assert.ok(!lines.slice(firstDemo).some((l) => /cell 4 still running/.test(l)), 'a cell printing progress is not called quiet');

    const nb = JSON.parse(fs.readFileSync(path.join(out, 'progress.ipynb'), 'utf8'));
    const cell = nb.cells.find((c: { id: string }) => c.id === 'line');
    const displays = cell.outputs.filter((o: { output_type: string }) => o.output_type === 'display_data');
    assert.equal(displays.length, 1, JSON.stringify(cell.outputs));
    const data = displays[0].data;
    assert.deepEqual(data[PROGRESS_MIME], { label: 'demo', done: 5, total: 5, detail: 'step 5', etaSeconds: 0, finished: true });
    assert.equal(data['text/plain'], 'demo 5/5 · step 5 · done');
    assert.match(data['text/html'], /width:100\.0%/);
  });
});
