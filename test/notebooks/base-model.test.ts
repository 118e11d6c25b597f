// Notebook 03 end to end through the real tslab kernel, shortened by its
// parameters (40 steps, two workers): it must run, show the loss falling, and
// leave a checkpoint that loads and metrics that parse.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runWorkbook } from '../../scripts/workbook/run';
import { loadCheckpoint, disposeDecoder } from '../../kernel-lib/model';
import { selectBackend } from '../../kernel-lib/runtime';
import { loadTokenizer } from '../../kernel-lib/text';
import { PROGRESS_MIME } from '../../kernel-lib/viz';
import { assertExecutedSize } from './size';

const root = path.resolve(__dirname, '..', '..');

describe('notebooks/03-base-model', function () {
  this.timeout(600000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb03-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('pre-trains, plots, samples, and saves a checkpoint that loads', async () => {
    const artefacts = path.join(dir, 'artefacts');
    const logs: string[] = [];
    const m = await runWorkbook({
      notebooksDir: path.join(root, 'notebooks'),
      outDir: path.join(dir, 'executed'),
      select: ['03'],
      mode: 'quick',
      seed: 0,
      parameters: { steps: 40, workers: 2, outDir: artefacts },
      cellTimeoutSeconds: 300,
      log: (l) => logs.push(l),
      progressSeconds: 0,
    });
    const record = m.notebooks[0];
    assert.equal(record.status, 'ok', JSON.stringify(record.failure ?? record));
    const nb = JSON.parse(fs.readFileSync(record.output, 'utf8'));
    assertExecutedSize(record.output);
    const outputs = (id: string) => nb.cells.find((c: { id: string }) => c.id === id).outputs as { output_type: string; data?: Record<string, unknown>; text?: string[] }[];
    assert.ok(outputs('curve').some((o) => o.data?.['application/vnd.plotly.v1+json']), 'loss figure');
    // The live chart and the progress line were updated in place: one final output each.
    const charts = outputs('train').filter((o) => o.data?.['application/vnd.plotly.v1+json']);
    assert.equal(charts.length, 1, 'one live figure');
    const live = charts[0].data!['application/vnd.plotly.v1+json'] as { data: { name: string; x: number[] }[] };
    assert.equal(live.data.find((t) => t.name === 'train loss')!.x.length, 40, 'the final chart holds every step');
    const bars = outputs('train').filter((o) => o.data?.[PROGRESS_MIME]);
    assert.equal(bars.length, 1, 'one progress line');
    assert.match(String(bars[0].data!['text/plain']), /^\S+ 40\/40 · loss \d+\.\d+ · [\d,]+ tok\/s · \S+ · done$/);
    // The runner printed it while the cell ran.
    assert.ok(logs.some((l) => /^ {2}03-base-model: cell \d+: \S+ \d+\/40 · loss /.test(l)), logs.join('\n'));
    assert.ok(outputs('tokens').some((o) => String(o.data?.['text/html'] ?? '').includes('tv-t sp')), 'token view with a special token');
    const lines = fs.readFileSync(path.join(artefacts, 'metrics', '03-base-model.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const train = lines.filter((l) => l.kind === 'train');
    assert.equal(train.length, 40);
    assert.ok(train.at(-1).loss < train[0].loss - 1.5, `loss ${train[0].loss} -> ${train.at(-1).loss}`);
    await selectBackend('wasm');
    const checkpoint = path.join(artefacts, 'checkpoints', '03-base-model');
    const { model } = loadCheckpoint(checkpoint);
    // The BPE tokenizer saved beside the weights: same vocabulary, chat markers reserved as special tokens.
    const tokenizer = loadTokenizer(checkpoint);
    assert.equal(model.config.vocab_size, 512);
    assert.equal(tokenizer.vocabSize, 512);
    assert.equal(model.config.eos_token_id, tokenizer.eos);
    for (const marker of ['<|im_start|>', '<|im_end|>']) assert.ok(tokenizer.isSpecial(tokenizer.tokenToId(marker)!), marker);
    assert.ok(tokenizer.encode('One day, Mia went to the market.').length < 20);
    disposeDecoder(model);
  });
});
