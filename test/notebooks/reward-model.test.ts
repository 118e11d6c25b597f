// Notebook 05 end to end through the real tslab kernel, shortened by its
// parameters (a few steps, two workers) and started from a small model folder
// made here: an untrained decoder with a BPE tokenizer and a ChatML
// chat_template in its tokenizer_config.json, as notebook 04 saves one. The
// notebook must run, record its figures, and leave a reward model that loads
// here with the same head and transformers' layout.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runWorkbook } from '../../scripts/workbook/run';
import { createDecoder, disposeDecoder, loadCheckpoint, loadRewardModel, modelConfig, saveCheckpoint, SCORE_WEIGHT } from '../../kernel-lib/model';
import { selectBackend } from '../../kernel-lib/runtime';
import { builtinTemplate, loadTokenizer, saveTokenizer, trainBpe } from '../../kernel-lib/text';
import { assertExecutedSize } from './size';

const root = path.resolve(__dirname, '..', '..');
const steps = 12;

/** A small Llama folder with a tokenizer trained on the world's corpus and ChatML as its chat_template. */
function startingFolder(dir: string): string {
  const corpus = fs.readFileSync(path.join(root, 'data', 'world', 'corpus.txt'), 'utf8').slice(0, 60000);
  const tokenizer = trainBpe(corpus, { vocabSize: 400, specialTokens: ['<|bos|>', '<|eos|>', '<|pad|>', '<|im_start|>', '<|im_end|>'] });
  const model = createDecoder(modelConfig({
    vocab_size: tokenizer.vocabSize, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 128,
    bos_token_id: tokenizer.bos, eos_token_id: tokenizer.eos, pad_token_id: tokenizer.pad,
  }), 0);
  saveCheckpoint(dir, model);
  saveTokenizer(dir, tokenizer, { chatTemplate: builtinTemplate('chatml').jinja });
  disposeDecoder(model);
  return dir;
}

describe('notebooks/05-reward-model', function () {
  this.timeout(600000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb05-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('trains a reward model, reports it per rule, records the figure, and saves a folder that loads', async () => {
    await selectBackend('wasm');
    const start = startingFolder(path.join(dir, 'start'));
    const artefacts = path.join(dir, 'artefacts');
    const m = await runWorkbook({
      notebooksDir: path.join(root, 'notebooks'),
      outDir: path.join(dir, 'executed'),
      select: ['05'],
      mode: 'quick',
      seed: 0,
      parameters: { steps: steps, workers: 2, outDir: artefacts, startDir: start },
      cellTimeoutSeconds: 300,
      // A few steps of a tiny model cannot reach the quick band; the figures are still recorded.
      bandsFile: null,
      log: () => {},
    });
    const record = m.notebooks[0];
    assert.equal(record.status, 'ok', JSON.stringify(record.failure ?? record));
    assert.deepEqual(record.warnings.filter((w) => /parameter/.test(w)), [], 'every parameter is declared');

    // The manifest records the banded figure and one per rule, each a fraction.
    const figures = record.figures ?? {};
    const accuracy = figures['reward/heldout_pairwise_accuracy'];
    assert.ok(accuracy, `figures recorded: ${Object.keys(figures).join(', ')}`);
    const value = accuracy.value;
    assert.ok(value !== null && value >= 0 && value <= 1, `accuracy ${value}`);
    for (const rule of ['correct_over_wrong', 'concise_over_padded', 'asked_format_over_other', 'refusal_over_made_up', 'answer_over_refusal']) {
      const f = figures[`reward/heldout_pairwise_accuracy/${rule}`];
      assert.ok(f && f.value !== null && f.value >= 0 && f.value <= 1, `${rule}: ${JSON.stringify(f)}`);
    }

    const nb = JSON.parse(fs.readFileSync(record.output, 'utf8'));
    assertExecutedSize(record.output);
    const outputs = (id: string) => nb.cells.find((c: { id: string }) => c.id === id).outputs as { output_type: string; data?: Record<string, unknown>; text?: string[] }[];
    const text = (id: string) => outputs(id).map((o) => (o.text ?? []).join('') + String(o.data?.['text/plain'] ?? '')).join('');
    const plots = (id: string) => outputs(id).filter((o) => o.data?.['application/vnd.plotly.v1+json']).length;
    assert.match(text('start'), new RegExp(`started from\\s+${start.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'the start folder is named');
    assert.match(text('start'), /from tokenizer_config\.json/, 'the chat template comes from the folder');
    assert.ok(plots('bt') >= 1, 'Bradley-Terry toy plot');
    assert.ok(plots('train') >= 1, 'live loss plot');
    const live = outputs('train').map((o) => o.data?.['application/vnd.plotly.v1+json'] as { data?: { name?: string }[] } | undefined).find(Boolean);
    assert.deepEqual(live?.data?.map((t) => t.name), ['train loss', 'eval loss', 'accuracy (right axis)', 'eval_accuracy (right axis)'], 'the live plot draws the pairwise accuracy, train and held out');
    assert.ok(plots('curve') >= 2, 'loss/accuracy and reward plots');
    assert.ok(plots('eval') >= 1, 'chosen vs rejected histogram');
    assert.ok(plots('blind') >= 1 && plots('length') >= 1, 'blind-spot and length plots');

    // TRL's metric names, one line per step, and the held-out evaluations.
    const lines = fs.readFileSync(path.join(artefacts, 'metrics', '05-reward-model.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const train = lines.filter((l) => l.kind === 'train');
    assert.equal(train.length, steps);
    for (const name of ['loss', 'accuracy', 'margin', 'min_reward', 'mean_reward', 'max_reward', 'num_tokens']) {
      assert.ok(Number.isFinite(train.at(-1)[name]), `${name} in ${JSON.stringify(train.at(-1))}`);
    }
    assert.ok(lines.some((l) => l.kind === 'eval' && Number.isFinite(l.eval_accuracy)), 'held-out eval_accuracy');

    // The saved folder: a sequence classifier with its trained head, the tokenizer and the chat template.
    const checkpoint = path.join(artefacts, 'checkpoints', '05-reward-model');
    const config = JSON.parse(fs.readFileSync(path.join(checkpoint, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['LlamaForSequenceClassification']);
    const tokenizer = loadTokenizer(checkpoint);
    assert.equal(config.pad_token_id, tokenizer.pad);
    assert.notEqual(config.pad_token_id, tokenizer.tokenToId('<|im_end|>'));
    const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(checkpoint, 'tokenizer_config.json'), 'utf8'));
    assert.equal(tokenizerConfig.chat_template, builtinTemplate('chatml').jinja);
    const loaded = loadRewardModel(checkpoint);
    assert.equal(loaded.newHead, false, 'the head is read from the folder, not made anew');
    const { model } = loadCheckpoint(checkpoint);
    assert.ok(model.weights.has(SCORE_WEIGHT));
    assert.equal(model.config.hidden_size, 32);
    // The head trained: it is no longer the seeded start the notebook drew.
    const fresh = loadRewardModel(start, { seed: 0 }).model;
    const [trained, initial] = [model.weights.get(SCORE_WEIGHT)!.dataSync(), fresh.weights.get(SCORE_WEIGHT)!.dataSync()];
    assert.ok(trained.some((v, i) => Math.abs(v - initial[i]) > 1e-6), 'score head changed by training');
    for (const d of [loaded.model, model, fresh]) disposeDecoder(d);
  });
});
