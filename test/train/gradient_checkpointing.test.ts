// Gradient checkpointing: each decoder layer keeps only its input and the
// backward pass recomputes it. The gradients must be those of the plain
// backward pass (every objective's forward: lm, packed SFT rows, LoRA with
// dropout, a reward head, DPO's reply log-probabilities), a run must give the
// same losses in one thread and over workers, nothing may leak, and the
// memory of a step at many layers and a long sequence must fall.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import {
  addLora, addRewardLora, addScoreHead, createDecoder, disposeDecoder, forward, modelConfig, type Decoder, type ModelConfig,
} from '../../kernel-lib/model';
import {
  computeGradients, defaultDpoObjective, encodeDpoPairs, evaluate, encodePreferences, lmObjective, packSftExamples, preferenceBatch, randomWindows,
  referenceLogps, rewardObjective, sftObjective, startWorkers, train, type GradientWorkers, type LmBatch, type Objective, type ObjectiveContext,
} from '../../kernel-lib/train';
import { maxAbsDiff, tinyConfig } from '../model/helpers';
import { base, data, tokens } from './helpers';
import { rewardFixture } from './reward_helpers';

const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** Adapters with random B (B starts at zero, which would leave A's gradients zero and dropout without effect). */
function withLora(model: Decoder, dropout: number): Decoder {
  addLora(model, { rank: 4, alpha: 8, dropout, targets: LORA_TARGETS }, 3);
  for (const [name, t] of model.lora!.tensors) {
    if (!name.endsWith('lora_B')) continue;
    model.lora!.tensors.set(name, tf.randomNormal(t.shape, 0, 0.05, 'float32', 4));
    t.dispose();
  }
  return model;
}

/** Matrix products a gradient computation runs (the recomputed layers run theirs twice). */
async function matMuls<B>(model: Decoder, objective: Objective<B>, batch: B, context: ObjectiveContext): Promise<number> {
  const info = await tf.profile(() => {
    computeGradients(model, objective, batch, context);
  });
  return info.kernels.filter((k) => k.name === 'BatchMatMul').length;
}

/**
 * The batch's loss, metrics and gradients with checkpointing equal those
 * without: every gradient within 1e-5 of its tensor's largest entry. And the
 * objective did pass the option on: the layers' products ran again.
 */
async function assertSameGradients<B>(model: Decoder, objective: Objective<B>, batch: B, context: ObjectiveContext = {}): Promise<void> {
  const plain = computeGradients(model, objective, batch, context);
  const checkpointed = computeGradients(model, objective, batch, { ...context, gradientCheckpointing: true });
  const [once, again] = [await matMuls(model, objective, batch, context), await matMuls(model, objective, batch, { ...context, gradientCheckpointing: true })];
  assert.ok(again > once, `the layers were recomputed: ${again} matrix products checkpointed, ${once} plain`);
  assert.ok(Math.abs(plain.lossSum - checkpointed.lossSum) <= 1e-6 * Math.abs(plain.lossSum), `loss ${plain.lossSum} vs ${checkpointed.lossSum}`);
  assert.equal(checkpointed.count, plain.count);
  for (const [k, v] of Object.entries(plain.metrics)) {
    assert.ok(Math.abs(v - checkpointed.metrics[k]) <= 1e-5 * Math.max(1, Math.abs(v)), `metric ${k}: ${v} vs ${checkpointed.metrics[k]}`);
  }
  assert.equal(checkpointed.grads.length, plain.grads.length);
  plain.grads.forEach((g, i) => {
    const scale = g.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    assert.ok(scale > 0, `gradient ${i} is zero: the test would not see a difference`);
    const d = maxAbsDiff(g, checkpointed.grads[i]);
    assert.ok(d <= 1e-5 * scale, `gradient ${i}: max |difference| ${d} of ${scale}`);
  });
}

const lmBatch: LmBatch = randomWindows(tokens, { batchSize: 3, seqLen: 20, seed: 2 }).batch(0, 0);
const threeLayers = (overrides: Partial<ModelConfig> = {}) => tinyConfig({ num_hidden_layers: 3, ...overrides });

describe('train/gradient checkpointing', function () {
  this.timeout(120_000);
  before(async () => {
    await selectBackend('wasm');
  });

  it('lm, full fine-tuning: the gradients of every weight equal the plain backward pass (untied and tied head)', async () => {
    for (const tie of [false, true]) {
      const model = createDecoder(threeLayers({ tie_word_embeddings: tie }), 1);
      await assertSameGradients(model, lmObjective, lmBatch);
      disposeDecoder(model);
    }
  });

  it('sft on packed rows (segments, restarted positions, loss mask): the same gradients', async () => {
    const model = createDecoder(threeLayers(), 2);
    const conversations = [[3, 14, 15, 9, 26, 5, 35, 8, 9], [27, 18, 28, 18, 28, 45, 9], [1, 41, 42, 13, 56], [60, 2, 4, 8, 16, 32, 3, 6], [11, 22, 33]];
    // Loss on the second half of each conversation, as on an assistant's reply.
    const examples = conversations.map((ids) => ({ ids, mask: ids.map((_, i) => (i >= ids.length / 2 ? 1 : 0)) }));
    const batch = packSftExamples(examples, { rowLength: 16, padId: 0 });
    assert.ok(batch.rows === 2 && batch.segments && batch.positions, 'two packed rows');
    await assertSameGradients(model, sftObjective, batch);
    disposeDecoder(model);
  });

  it('LoRA with dropout: only the adapters train, and the recomputation draws the same masks', async () => {
    const model = withLora(createDecoder(threeLayers(), 3), 0.3);
    await assertSameGradients(model, lmObjective, lmBatch, { dropoutSeed: 11 });
    // Dropout is on: another seed gives other gradients.
    const a = computeGradients(model, lmObjective, lmBatch, { dropoutSeed: 11, gradientCheckpointing: true });
    const b = computeGradients(model, lmObjective, lmBatch, { dropoutSeed: 12, gradientCheckpointing: true });
    assert.ok(maxAbsDiff(a.grads[0], b.grads[0]) > 1e-6, 'the dropout seed changes the gradients');
    disposeDecoder(model);
  });

  it('a reward model (score head, LoRA with dropout, key masks of padded pairs): the same gradients and metrics', async () => {
    const f = rewardFixture();
    const pairs = encodePreferences(f.pairs.slice(0, 6), f.tokenizer, f.template).pairs;
    const batch = preferenceBatch(pairs, { padId: f.tokenizer.pad });
    const model = createDecoder({ ...f.config, num_hidden_layers: 3 }, 4);
    addScoreHead(model, { seed: 4 });
    addRewardLora(model, { rank: 4, alpha: 8, dropout: 0.2, targets: ['q_proj', 'v_proj', 'up_proj'] }, 4);
    for (const [name, t] of model.lora!.tensors) {
      if (!name.endsWith('lora_B')) continue;
      model.lora!.tensors.set(name, tf.randomNormal(t.shape, 0, 0.05, 'float32', 5));
      t.dispose();
    }
    await assertSameGradients(model, rewardObjective(), batch, { dropoutSeed: 5 });
    disposeDecoder(model);
  });

  it("DPO (the policy's reply log-probabilities), full fine-tuning: the same gradients", async () => {
    const f = rewardFixture();
    const { pairs } = encodeDpoPairs(f.pairs.slice(0, 4), f.tokenizer, f.template);
    const model = createDecoder({ ...f.config, num_hidden_layers: 2 }, 6);
    const reference = createDecoder({ ...f.config, num_hidden_layers: 2 }, 7);
    const batch = preferenceBatch(referenceLogps(reference, pairs, { padId: f.tokenizer.pad }), { padId: f.tokenizer.pad });
    await assertSameGradients(model, defaultDpoObjective, batch);
    [model, reference].forEach(disposeDecoder);
  });

  it('outside a gradient computation the forward gives the same logits; a cache is refused', () => {
    const model = createDecoder(threeLayers(), 1);
    const ids = tf.tensor2d(lmBatch.inputs, [lmBatch.rows, lmBatch.length], 'int32');
    const plain = tf.tidy(() => forward(model, ids).logits.dataSync());
    const checkpointed = tf.tidy(() => forward(model, ids, { gradientCheckpointing: true }).logits.dataSync());
    assert.equal(maxAbsDiff(plain, checkpointed), 0);
    assert.throws(() => tf.tidy(() => forward(model, ids, { gradientCheckpointing: true, returnCache: true }).logits), /gradientCheckpointing .* cannot be combined with a cache/);
    ids.dispose();
    disposeDecoder(model);
  });

  it('train(): the same losses, gradient norms and evaluations with gradientCheckpointing, full and LoRA with dropout', async () => {
    const evalData = [lmBatch];
    for (const lora of [false, true]) {
      const make = () => (lora ? withLora(createDecoder(tinyConfig(), 8), 0.2) : createDecoder(tinyConfig(), 8));
      const [a, b] = [make(), make()];
      const plain = await train(a, { ...base, steps: 5, evalEvery: 2 }, { objective: lmObjective, data, evalData });
      const checkpointed = await train(b, { ...base, steps: 5, evalEvery: 2, gradientCheckpointing: true }, { objective: lmObjective, data, evalData });
      const what = lora ? 'LoRA' : 'full';
      plain.history.forEach((h, i) => {
        const c = checkpointed.history[i];
        assert.ok(Math.abs(h.loss - c.loss) <= 1e-5 * h.loss, `${what} step ${h.step}: loss ${h.loss} vs ${c.loss}`);
        assert.ok(Math.abs(h.grad_norm - c.grad_norm) <= 1e-5 * h.grad_norm, `${what} step ${h.step}: grad_norm ${h.grad_norm} vs ${c.grad_norm}`);
      });
      assert.equal(checkpointed.evals.length, 4);
      plain.evals.forEach((e, i) => assert.ok(Math.abs(e.eval_loss - checkpointed.evals[i].eval_loss) <= 1e-5 * e.eval_loss, `${what} eval at step ${e.step}: ${e.eval_loss} vs ${checkpointed.evals[i].eval_loss}`));
      [a, b].forEach(disposeDecoder);
    }
  });

  it('the option reaches the workers with each step: two workers give the single-thread losses (LoRA dropout)', async function () {
    this.timeout(180_000);
    // What the loop sends: every part's context asks for checkpointing.
    const seen: ObjectiveContext[] = [];
    const probe = withLora(createDecoder(tinyConfig(), 8), 0.2);
    const recording: GradientWorkers = {
      size: 2,
      load: async () => {},
      update: async () => {},
      compute: async (parts, contexts) => {
        seen.push(...contexts);
        return parts.map((part, i) => computeGradients(probe, lmObjective, part as LmBatch, contexts[i]));
      },
      close: async () => {},
    };
    await train(probe, { ...base, steps: 1, gradientCheckpointing: true }, { objective: lmObjective, data, workers: recording });
    assert.deepEqual(seen.map((c) => c.gradientCheckpointing), [true, true]);
    disposeDecoder(probe);

    const one = withLora(createDecoder(tinyConfig(), 8), 0.2);
    const two = withLora(createDecoder(tinyConfig(), 8), 0.2);
    const config = { ...base, steps: 4, lr: 3e-2 };
    const a = await train(one, config, { objective: lmObjective, data });
    const workers = await startWorkers(2, { backend: 'wasm', objective: 'lm' });
    const b = await train(two, { ...config, gradientCheckpointing: true }, { objective: lmObjective, data, workers, closeWorkers: true });
    a.history.forEach((h, i) => assert.ok(Math.abs(h.loss - b.history[i].loss) < 1e-4, `step ${h.step}: ${h.loss} vs ${b.history[i].loss}`));
    [one, two].forEach(disposeDecoder);
  });

  it('no tensors leak over steps (computeGradients and train, LoRA with dropout)', async () => {
    const model = withLora(createDecoder(threeLayers(), 5), 0.2);
    computeGradients(model, lmObjective, lmBatch, { dropoutSeed: 1, gradientCheckpointing: true });
    const before = tf.memory().numTensors;
    for (let step = 2; step < 5; step++) computeGradients(model, lmObjective, lmBatch, { dropoutSeed: step, gradientCheckpointing: true });
    assert.equal(tf.memory().numTensors, before);
    const counts: number[] = [];
    await train(model, { ...base, steps: 4, gradientCheckpointing: true }, {
      objective: lmObjective,
      data,
      callbacks: [{ onStep: () => { counts.push(tf.memory().numTensors); } }],
    });
    assert.ok(counts.every((c) => c === counts[0]), `live tensors per step: ${counts.join(', ')}`);
    disposeDecoder(model);
  });

  it('a number of layers checkpoints the first ones only: the same gradients, as many extra products as those layers have, a bad count named', async () => {
    const model = withLora(createDecoder(threeLayers(), 6), 0);
    const products = async (setting: boolean | number) => matMuls(model, lmObjective, lmBatch, { gradientCheckpointing: setting });
    const [none, one, two, all] = [await products(false), await products(1), await products(2), await products(true)];
    assert.ok(none < one && one < two && two < all, `products: ${none}, ${one}, ${two}, ${all}`);
    assert.equal(two - one, one - none, 'each checkpointed layer adds the same products (its forward again)');
    assert.equal(all - none, 3 * (one - none));
    assert.equal(await products(0), none);
    assert.equal(await products(3), all);
    const plain = computeGradients(model, lmObjective, lmBatch, {});
    const partial = computeGradients(model, lmObjective, lmBatch, { gradientCheckpointing: 2 });
    plain.grads.forEach((g, i) => {
      const scale = g.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      assert.ok(maxAbsDiff(g, partial.grads[i]) <= 1e-5 * scale, `gradient ${i}`);
    });
    assert.throws(() => computeGradients(model, lmObjective, lmBatch, { gradientCheckpointing: 4 }), /gradientCheckpointing 4 must be true, false, or a whole number of layers from 0 to 3/);
    await assert.rejects(train(model, { ...base, steps: 1, gradientCheckpointing: 1.5 }, { objective: lmObjective, data }), /gradientCheckpointing 1.5 must be/);
    disposeDecoder(model);
  });

  it('at 12 layers and 256 tokens checkpointing cuts a step\'s peak memory to under a quarter; an evaluation holds one layer at a time either way', async () => {
    const config = modelConfig({ vocab_size: 61, hidden_size: 64, num_hidden_layers: 12, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256 });
    const model = createDecoder(config, 1);
    const batch = randomWindows(tokens, { batchSize: 1, seqLen: 256, seed: 3 }).batch(0, 0);
    // tfjs's count of tensor bytes at its highest during the step, above what was alive before it.
    const peak = async (gradientCheckpointing: boolean | number): Promise<number> => {
      const before = tf.memory().numBytes;
      const info = await tf.profile(() => {
        computeGradients(model, lmObjective, batch, { gradientCheckpointing });
      });
      return info.peakBytes - before;
    };
    const plain = await peak(false);
    const checkpointed = await peak(true);
    const half = await peak(6);
    assert.ok(checkpointed < half && half < plain, `peak ${(plain / 1e6).toFixed(1)} MB plain, ${(half / 1e6).toFixed(1)} MB with 6 of 12 layers checkpointed, ${(checkpointed / 1e6).toFixed(1)} MB with all`);
    // Measured: 122 MB -> 24.5 MB (the layer inputs, one layer's recomputation and the loss); before
    // runtime/backprop.ts freed memory during the backward pass, 237 MB -> 31 MB.
    assert.ok(checkpointed < plain / 4, `peak ${(plain / 1e6).toFixed(1)} MB plain, ${(checkpointed / 1e6).toFixed(1)} MB checkpointed`);
    // Evaluation (no gradient, one tidy around the loss).
    const evalPeak = async (gradientCheckpointing: boolean): Promise<{ bytes: number; loss: number }> => {
      const before = tf.memory().numBytes;
      let loss = NaN;
      const info = await tf.profile(() => {
        loss = evaluate(model, lmObjective, [batch], { gradientCheckpointing }).loss;
      });
      return { bytes: info.peakBytes - before, loss };
    };
    const [evalPlain, evalCheckpointed] = [await evalPeak(false), await evalPeak(true)];
    assert.equal(evalCheckpointed.loss, evalPlain.loss);
    // Both modes now free each layer's intermediates when the layer is done (the plain forward runs each layer in a tidy).
    // Measured: 9.1 MB either way.
    for (const [mode, e] of [['plain', evalPlain], ['checkpointed', evalCheckpointed]] as const) {
      assert.ok(e.bytes < plain / 4, `evaluation peak ${mode} ${(e.bytes / 1e6).toFixed(1)} MB, the plain step's ${(plain / 1e6).toFixed(1)} MB`);
    }
    disposeDecoder(model);
  });
});
