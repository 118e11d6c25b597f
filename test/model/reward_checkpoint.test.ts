// A reward model on disk: saved as a LlamaForSequenceClassification with one
// label (config, score.weight, no lm_head) and loaded back with the same
// scores; started from a causal LM folder with a seeded head; a folder
// transformers wrote gives transformers' scores here (golden file); and,
// where Python with transformers is found, transformers (and PEFT, for
// adapters) gives this library's scores for folders saved here.
//
// Rows never contain the pad id (60 of vocabulary 61): transformers takes a
// row's last token as its rightmost non-pad token, this library takes it from
// the row's length, and the two agree only when the pad id is not a real token.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import {
  addRewardLora, addScoreHead, createDecoder, disposeDecoder, loadCheckpoint, loadRewardModel, readSafetensors, readSafetensorsHeader,
  saveCheckpoint, saveRewardAdapters, saveRewardModel, scoreHead, sequenceScores, type Decoder,
} from '../../kernel-lib/model';
import { findTransformersPython } from '../../scripts/reference/python';
import { assertClose, tinyConfig } from './helpers';

const PAD = 60;
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'model', 'reward');
const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'reference', 'reward_scores.py');

/** Right-padded rows of ids below PAD, of the given lengths. */
function rows(lengths: number[], seed: number): { ids: number[][]; lengths: number[] } {
  const width = Math.max(...lengths);
  let x = seed;
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648) % PAD;
  return { ids: lengths.map((n) => [...Array.from({ length: n }, next), ...Array(width - n).fill(PAD)]), lengths };
}

function scoresOf(model: Decoder, r: { ids: number[][]; lengths: number[] }): number[] {
  return tf.tidy(() => Array.from(sequenceScores(model, tf.tensor2d(r.ids, undefined, 'int32'), r.lengths).dataSync()));
}

/** A reward model whose head is far from the small init, so that scores differ clearly between rows. */
function rewardModel(seed: number, tied = false): Decoder {
  const model = createDecoder(tinyConfig({ tie_word_embeddings: tied }), seed);
  addScoreHead(model, { seed, std: 1 });
  return model;
}

describe('model/reward checkpoints', function () {
  this.timeout(300_000);
  let dir: string;
  const sample = rows([7, 3, 11, 1, 9], 5);
  before(async () => {
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reward-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('saves a LlamaForSequenceClassification folder (one label, pad_token_id, score.weight, no lm_head) and loads it back with the same scores', () => {
    for (const tied of [false, true]) {
      const model = rewardModel(3, tied);
      const out = path.join(dir, `saved-${tied}`);
      saveRewardModel(out, model, { padTokenId: PAD });
      const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
      assert.deepEqual(config.architectures, ['LlamaForSequenceClassification']);
      assert.deepEqual(config.id2label, { 0: 'LABEL_0' });
      assert.deepEqual(config.label2id, { LABEL_0: 0 });
      assert.equal(config.pad_token_id, PAD);
      const header = readSafetensorsHeader(path.join(out, 'model.safetensors'));
      assert.deepEqual(header.tensors.get('score.weight')!.shape, [1, 32]);
      assert.ok(!header.tensors.has('lm_head.weight'), 'a sequence classifier has no lm_head');
      const loaded = loadRewardModel(out);
      assert.equal(loaded.newHead, false);
      assert.deepEqual(scoresOf(loaded.model, sample), scoresOf(model, sample));
      assert.deepEqual(scoreHead(loaded.model).dataSync(), scoreHead(model).dataSync());
      [model, loaded.model].forEach(disposeDecoder);
    }
  });

  it('starts a reward model from a causal LM folder with a seeded head', () => {
    const base = createDecoder(tinyConfig(), 4);
    const out = path.join(dir, 'sft');
    saveCheckpoint(out, base);
    const a = loadRewardModel(out, { seed: 7 });
    const b = loadRewardModel(out, { seed: 7 });
    const c = loadRewardModel(out, { seed: 8 });
    assert.equal(a.newHead, true);
    assert.deepEqual(scoreHead(a.model).dataSync(), scoreHead(b.model).dataSync());
    assert.notDeepEqual(Array.from(scoreHead(a.model).dataSync()), Array.from(scoreHead(c.model).dataSync()));
    const head = scoreHead(a.model).dataSync();
    const std = Math.sqrt(Array.from(head).reduce((s, v) => s + v * v, 0) / head.length);
    assert.ok(std > 0.005 && std < 0.05, `head std ${std}: small, near 0.02`);
    for (const [name, t] of base.weights) assert.deepEqual(a.model.weights.get(name)!.dataSync(), t.dataSync(), name);
    [base, a.model, b.model, c.model].forEach(disposeDecoder);
  });

  it('refuses what it cannot save or load faithfully, naming the field', () => {
    const model = rewardModel(5);
    assert.throws(() => saveRewardModel(path.join(dir, 'nopad'), model), /pad_token_id must be a token id in \[0, 60\].*got undefined; pass padTokenId/);
    const two = path.join(dir, 'two-labels');
    saveRewardModel(two, model, { padTokenId: PAD });
    const configFile = path.join(two, 'config.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    fs.writeFileSync(configFile, JSON.stringify({ ...config, id2label: { 0: 'bad', 1: 'good' }, label2id: { bad: 0, good: 1 } }));
    assert.throws(() => loadRewardModel(two), /config\.json: a LlamaForSequenceClassification with 2 labels; a reward model has one/);
    addRewardLora(model, { rank: 2, alpha: 2, dropout: 0, targets: ['q_proj'] });
    assert.throws(() => saveRewardModel(path.join(dir, 'lora'), model, { padTokenId: PAD }), /mergeRewardLora first, or save them with saveRewardAdapters/);
    disposeDecoder(model);
  });

  it('saves LoRA reward adapters in PEFT\'s SEQ_CLS layout, the head under modules_to_save', () => {
    const model = createDecoder(tinyConfig(), 9);
    addScoreHead(model, { seed: 9 });
    addRewardLora(model, { rank: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'] }, 9);
    const out = path.join(dir, 'adapters-layout');
    saveRewardAdapters(out, model);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    assert.equal(config.peft_type, 'LORA');
    assert.equal(config.task_type, 'SEQ_CLS');
    assert.deepEqual(config.modules_to_save, ['score']);
    assert.deepEqual(config.target_modules, ['q_proj', 'v_proj']);
    // The names and [out, in] shapes PEFT 0.21 writes for a LlamaForSequenceClassification (modules_to_save saved without their adapter name).
    const tensors = readSafetensorsHeader(path.join(out, 'adapter_model.safetensors')).tensors;
    assert.deepEqual(tensors.get('base_model.model.score.weight')!.shape, [1, 32]);
    assert.deepEqual(tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!.shape, [4, 32]);
    assert.deepEqual(tensors.get('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight')!.shape, [16, 4]);
    assert.equal(tensors.size, 2 * 2 * 2 + 1);
    assert.deepEqual(readSafetensors(path.join(out, 'adapter_model.safetensors')).tensors.get('base_model.model.score.weight')!.data, scoreHead(model).dataSync());
    disposeDecoder(model);
  });

  it('a folder transformers saved gives transformers\' scores (golden file)', () => {
    const golden = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'golden.json'), 'utf8'));
    const { model, head } = loadCheckpoint(FIXTURE);
    assert.equal(head, 'score');
    assertClose(scoresOf(model, golden), golden.scores, 1e-4, 'scores');
    disposeDecoder(model);
  });

  describe('with transformers', () => {
    let python: string | null = null;
    before(function () {
      python = findTransformersPython();
      if (!python) {
        console.log('    (skipped: no Python with torch and transformers; set WORKBOOK_PYTHON or make .venv, see scripts/reference/README.md)');
        this.skip();
      }
    });

    const run = (args: string[]) => {
      const rowsFile = path.join(dir, 'rows.json');
      fs.writeFileSync(rowsFile, JSON.stringify(sample));
      const out = execFileSync(python!, [SCRIPT, 'score', ...args, '--rows', rowsFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      return JSON.parse(out.trim().split('\n').pop()!);
    };

    it('transformers opens a saved reward model as LlamaForSequenceClassification and gives the same scores', () => {
      for (const tied of [false, true]) {
        const model = rewardModel(6, tied);
        const out = path.join(dir, `hf-${tied}`);
        saveRewardModel(out, model, { padTokenId: PAD });
        const r = run(['--model', out]);
        assert.equal(r.architecture, 'LlamaForSequenceClassification');
        assert.equal(r.num_labels, 1);
        assert.equal(r.pad_token_id, PAD);
        assertClose(r.scores, scoresOf(model, sample), 1e-4, `scores (tied ${tied})`);
        disposeDecoder(model);
      }
    });

    it('PEFT opens saved LoRA reward adapters (head in modules_to_save) on the causal LM base and gives the same scores', () => {
      const model = createDecoder(tinyConfig(), 8);
      const base = path.join(dir, 'peft-base');
      saveCheckpoint(base, model);
      addScoreHead(model, { seed: 8, std: 1 });
      addRewardLora(model, { rank: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj', 'down_proj'] }, 8);
      // Adapters start with B = 0; give them values so that they change the scores.
      for (const [name, t] of model.lora!.tensors) {
        if (name.endsWith('lora_B')) {
          model.lora!.tensors.set(name, tf.randomNormal(t.shape, 0, 0.3, 'float32', 9));
          t.dispose();
        }
      }
      const adapters = path.join(dir, 'peft-adapters');
      saveRewardAdapters(adapters, model);
      const r = run(['--base', base, '--adapter', adapters, '--pad-id', String(PAD)]);
      assert.equal(r.architecture, 'LlamaForSequenceClassification');
      assertClose(r.scores, scoresOf(model, sample), 1e-4, 'scores');
      disposeDecoder(model);
    });
  });
});
