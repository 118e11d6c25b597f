// Notebook 02 end to end through the real tslab kernel: token views with the
// trainable tokens highlighted, nine templates side by side, every mistake
// caught, and a batch of SFT inputs, labels and masks.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runWorkbook } from '../../scripts/workbook/run';
import { assertExecutedSize } from './size';

const root = path.resolve(__dirname, '..', '..');

describe('notebooks/02-chat-templates', function () {
  this.timeout(300000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb02-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('renders, masks, compares templates, catches the mistakes and builds a batch', async () => {
    const m = await runWorkbook({
      notebooksDir: path.join(root, 'notebooks'),
      outDir: path.join(dir, 'executed'),
      select: ['02'],
      mode: 'quick',
      seed: 0,
      parameters: {},
      cellTimeoutSeconds: 120,
      log: () => {},
    });
    const record = m.notebooks[0];
    assert.equal(record.status, 'ok', JSON.stringify(record.failure ?? record));
    const nb = JSON.parse(fs.readFileSync(record.output, 'utf8'));
    assertExecutedSize(record.output);
    const outputs = (id: string) => nb.cells.find((c: { id: string }) => c.id === id).outputs as { output_type: string; data?: Record<string, unknown>; text?: string[] | string }[];
    const text = (id: string) => outputs(id).map((o) => [o.data?.['text/plain'] ?? '', o.text ?? ''].flat().join('')).join('\n');
    const html = (id: string) => outputs(id).map((o) => String(o.data?.['text/html'] ?? '')).join('\n');
    // The ChatML view: both replies and their <|im_end|> are the trained tokens.
    assert.match(text('conversation'), /\[A\]\|\[·cow\]\|\[·eats\]\|\[·grass\]\|\[\.\]\|\[«<\|im_end\|>»\]/);
    assert.ok(html('conversation').includes('tv-t tr') && html('conversation').includes('tv-t sp'));
    // Nine templates side by side, each with 14 trained tokens but Llama-2's (16: its replies end " </s>").
    for (const name of ['chatml', 'llama3', 'llama2', 'mistral', 'zephyr', 'gemma', 'phi3', 'alpaca', 'plain']) assert.match(text('families'), new RegExp(`^${name} — `, 'm'));
    assert.ok(outputs('families-plot').some((o) => o.data?.['application/vnd.plotly.v1+json']));
    assert.match(text('jinja'), /same text\s+same ids\s+same mask\s*\n\s*true\s+true\s+true/);
    // Every mistake has a message, none slipped through.
    const mistakes = text('mistakes');
    assert.ok(!mistakes.includes('(no error)') && !mistakes.includes('(no problem found)'), mistakes);
    assert.match(mistakes, /appears twice at the start/);
    assert.match(mistakes, /never learn to stop/);
    assert.match(mistakes, /would train on nothing/);
    assert.ok(outputs('batch-plot').some((o) => o.data?.['application/vnd.plotly.v1+json']), 'batch heat map');
    assert.match(text('batch-plot'), /\d+ of \d+ positions are trained on/);
  });
});
