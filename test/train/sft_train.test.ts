// Real SFT runs on the world's conversations (data/world) through a BPE
// tokenizer and the ChatML template: the loss on held-out batches falls, TRL's
// metrics are logged, LoRA moves only the adapters, no tensor leaks across
// steps, and two data-parallel workers give the single-thread run.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { addLora, createDecoder, disposeDecoder, type Decoder } from '../../kernel-lib/model';
import { loadWorld } from '../../kernel-lib/data';
import { builtinTemplate, trainBpe, type BpeTokenizer } from '../../kernel-lib/text';
import {
  evaluate, sftData, sftEvalBatches, sftObjective, startWorkers, train, type SftBatch, type SftConfig, type SftData,
} from '../../kernel-lib/train';
import { tinyConfig } from '../model/helpers';

const template = builtinTemplate('chatml');
const settings = { lr: 3e-3, warmupSteps: 2, progress: 'none' as const, seed: 1 };

describe('train/sft training', function () {
  this.timeout(120_000);
  let tok: BpeTokenizer;
  let data: SftData;
  let padded: SftData;
  let records: Parameters<typeof sftData>[0];
  let heldOut: SftBatch[];
  const config: SftConfig = { batchSize: 2, packing: true, maxLength: 192, seed: 2 };
  const newModel = (seed = 7): Decoder => createDecoder(tinyConfig({ vocab_size: tok.vocabSize, max_position_embeddings: 192 }), seed);

  before(async () => {
    await selectBackend('wasm');
    const world = loadWorld(path.join(__dirname, '../../data/world'));
    tok = trainBpe(world.corpus, { vocabSize: 320, specialTokens: ['<|pad|>', '<|eos|>', ...template.specialTokens], padToken: '<|pad|>', eosToken: '<|eos|>', maxChars: 40_000 });
    // Every tenth training conversation keeps the test quick and still covers every family.
    records = world.sftTrain.filter((_, i) => i % 10 === 0);
    data = sftData(records, tok, template, config);
    padded = sftData(records, tok, template, { ...config, batchSize: 8, packing: false });
    const test = sftData(world.sftTest.slice(0, 40), tok, template, config);
    heldOut = sftEvalBatches(test.examples, { batchSize: 4, padId: tok.pad, packing: true, maxLength: 192 });
  });

  it('a few steps reduce the held-out SFT loss, and log loss, entropy, mean_token_accuracy, num_tokens', async () => {
    const model = newModel();
    const before = evaluate(model, sftObjective, heldOut).loss;
    const result = await train(model, { ...settings, steps: 30 }, { objective: sftObjective, data: data.batches });
    const after = evaluate(model, sftObjective, heldOut).loss;
    assert.ok(after < before - 0.5, `held-out loss ${before.toFixed(3)} -> ${after.toFixed(3)}`);
    let seen = 0;
    result.history.forEach((h, i) => {
      assert.ok(h.entropy > 0 && h.entropy <= Math.log(tok.vocabSize) + 1e-4, `step ${h.step}: entropy ${h.entropy}`);
      assert.ok(h.mean_token_accuracy >= 0 && h.mean_token_accuracy <= 1, `step ${h.step}: mean_token_accuracy ${h.mean_token_accuracy}`);
      // num_tokens: every token of the conversations seen so far, counted from the batch's segment ids.
      const batch = data.batches.batch(i, 0);
      for (let r = 0; r < batch.rows; r++) {
        let last = 0;
        for (let t = 0; t < batch.length; t++) {
          const s = batch.segments![r * batch.length + t];
          seen += s !== 0 ? (s !== last ? 2 : 1) : 0;
          last = s;
        }
      }
      assert.equal(h.num_tokens, seen, `step ${h.step}: num_tokens`);
      assert.equal(h.tokens, batch.segments!.reduce((n, x) => n + (x !== 0 ? 1 : 0), 0), `step ${h.step}: tokens fed, padding left out`);
    });
    const first = result.history[0];
    const last = result.history.at(-1)!;
    assert.ok(last.mean_token_accuracy > first.mean_token_accuracy, `accuracy ${first.mean_token_accuracy} -> ${last.mean_token_accuracy}`);
    disposeDecoder(model);
  });

  it('evaluation batches hold every held-out example once, packed or padded, with the same loss', () => {
    const test = sftData(records.slice(0, 30), tok, template, config);
    const trained = test.examples.reduce((s, e) => s + e.mask.slice(1).reduce((a, m) => a + m, 0), 0);
    const model = newModel();
    const losses = [true, false].map((packing) => {
      const batches = sftEvalBatches(test.examples, { batchSize: 3, padId: tok.pad, packing, maxLength: 192 });
      assert.equal(batches.reduce((s, b) => s + b.mask!.reduce((a, m) => a + m, 0), 0), trained, `${packing ? 'packed' : 'padded'}: every trained token once`);
      assert.equal(batches.reduce((s, b) => s + b.numTokens, 0), test.examples.reduce((s, e) => s + e.ids.length, 0));
      return evaluate(model, sftObjective, batches).loss;
    });
    assert.ok(Math.abs(losses[0] - losses[1]) < 1e-4, `packed ${losses[0]} vs padded ${losses[1]}`);
    disposeDecoder(model);
  });

  it('num_tokens counts every micro-batch with accumulation', async () => {
    const accumulated = sftData(records, tok, template, { ...config, accumulation: 2 });
    const whole = await train(newModel(), { ...settings, steps: 3, accumulation: 2 }, { objective: sftObjective, data: accumulated.batches });
    let expected = 0;
    whole.history.forEach((h, i) => {
      expected += accumulated.batches.batch(i, 0).numTokens + accumulated.batches.batch(i, 1).numTokens;
      assert.equal(h.num_tokens, expected, `step ${h.step}`);
    });
  });

  it('LoRA: only the adapters move; the frozen weights are bit for bit unchanged', async () => {
    const model = newModel();
    addLora(model, { rank: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj', 'down_proj'] }, 1);
    const frozen = new Map([...model.weights].map(([n, t]) => [n, Float32Array.from(t.dataSync() as Float32Array)]));
    const adapters = new Map([...model.lora!.tensors].map(([n, t]) => [n, Float32Array.from(t.dataSync() as Float32Array)]));
    const before = evaluate(model, sftObjective, heldOut).loss;
    await train(model, { ...settings, lr: 1e-2, steps: 6 }, { objective: sftObjective, data: data.batches });
    for (const [n, t] of model.weights) assert.deepEqual(t.dataSync(), frozen.get(n), `${n} must stay frozen`);
    for (const [n, t] of model.lora!.tensors) assert.notDeepEqual(t.dataSync(), adapters.get(n), `${n} must train`);
    assert.ok(evaluate(model, sftObjective, heldOut).loss < before, 'the adapters lower the loss');
    disposeDecoder(model);
  });

  it('live tensors stay flat across steps, packed and padded', async () => {
    for (const packing of [true, false]) {
      const model = newModel();
      const batches = packing ? data.batches : padded.batches;
      const counts: number[] = [];
      await train(model, { ...settings, steps: 4 }, { objective: sftObjective, data: batches, callbacks: [{ onStep: () => { counts.push(tf.memory().numTensors); } }] });
      assert.ok(counts.every((c) => c === counts[0]), `${packing ? 'packed' : 'padded'}: live tensors per step ${counts.join(', ')}`);
      disposeDecoder(model);
    }
  });

  it('two data-parallel workers give the single-thread losses and metrics', async function () {
    this.timeout(180_000);
    const one = newModel();
    const two = newModel();
    const a = await train(one, { ...settings, steps: 3 }, { objective: sftObjective, data: data.batches });
    const workers = await startWorkers(2, { backend: 'wasm', objective: 'sft' });
    const b = await train(two, { ...settings, steps: 3 }, { objective: sftObjective, data: data.batches, workers, closeWorkers: true });
    a.history.forEach((h, i) => {
      assert.equal(b.history[i].num_tokens, h.num_tokens, `step ${h.step}: num_tokens from the split parts`);
      for (const k of ['loss', 'entropy', 'mean_token_accuracy'] as const) {
        assert.ok(Math.abs(h[k] - b.history[i][k]) < 1e-4, `step ${h.step} ${k}: ${h[k]} vs ${b.history[i][k]}`);
      }
    });
    [one, two].forEach(disposeDecoder);
  });
});
