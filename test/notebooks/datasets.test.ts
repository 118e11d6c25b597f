// Notebook 01 end to end through the real tslab kernel: the world verified and
// explored, every checker right on a held-out task, every fixture format
// detected through every file type, bad records named, a split exported.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runWorkbook } from '../../scripts/workbook/run';
import { assertExecutedSize } from './size';

const root = path.resolve(__dirname, '..', '..');

describe('notebooks/01-datasets', function () {
  this.timeout(300000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb01-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('loads the world and every public format, explores, reports bad records and exports a split', async () => {
    const artefacts = path.join(dir, 'artefacts');
    const m = await runWorkbook({
      notebooksDir: path.join(root, 'notebooks'),
      outDir: path.join(dir, 'executed'),
      select: ['01'],
      mode: 'quick',
      seed: 0,
      parameters: { outDir: artefacts },
      cellTimeoutSeconds: 120,
      log: () => {},
    });
    const record = m.notebooks[0];
    assert.equal(record.status, 'ok', JSON.stringify(record.failure ?? record));
    const nb = JSON.parse(fs.readFileSync(record.output, 'utf8'));
    assertExecutedSize(record.output);
    const outputs = (id: string) => nb.cells.find((c: { id: string }) => c.id === id).outputs as { data?: Record<string, unknown>; text?: string[] | string }[];
    const text = (id: string) => outputs(id).map((o) => [o.data?.['text/plain'] ?? '', o.text ?? ''].flat().join('')).join('\n');
    const plots = (id: string) => outputs(id).filter((o) => o.data?.['application/vnd.plotly.v1+json']).length;
    assert.match(text('world'), /data\/world, seed 7 \(verified against manifest\.json\)/);
    assert.equal((text('checkers').match(/\btrue\b/g) ?? []).length, 10, text('checkers'));
    assert.equal(plots('explore-plots'), 2);
    assert.equal(plots('prefs'), 1);
    assert.match(text('judge'), /oracle judge prefers chosen over rejected in 1500 of 1500 training pairs/);
    // 12 fixture datasets x 6 file types, each with its schema detected.
    const formats = text('formats');
    for (const schema of ['alpaca', 'dolly', 'sharegpt', 'messages', 'prompt_completion', 'oasst', 'preference', 'hh_rlhf']) assert.match(formats, new RegExp(`\\s${schema}\\s`), schema);
    assert.equal((formats.match(/\.(json|jsonl|csv|arrow|feather|parquet)\s/g) ?? []).length, 72);
    assert.match(text('bad'), /bad-alpaca\.jsonl, line 2: malformed JSON/);
    assert.match(text('bad'), /kept 2 of 5/);
    for (const f of ['world-sft-stats.arrow', 'world-sft-stats.parquet']) assert.ok(fs.statSync(path.join(artefacts, 'datasets', f)).size > 1000, f);
  });
});
