// LoRA dropout in the lm objective: each row's masks come from (step seed,
// global row), drawn inside one batched forward. Training steps with dropout
// used to run one forward per row (~2-3x a step without dropout on wasm).
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { addLora, createDecoder, disposeDecoder, type Decoder } from '../../kernel-lib/model';
import { computeGradients, lmObjective, randomWindows, trainableMap, type LmBatch } from '../../kernel-lib/train';
import { maxAbsDiff, tinyConfig } from '../model/helpers';
import { tokens } from './helpers';

function loraModel(dropout: number, targets = ['q_proj', 'v_proj', 'o_proj', 'gate_proj', 'down_proj']): Decoder {
  const model = createDecoder(tinyConfig(), 8);
  addLora(model, { rank: 4, alpha: 8, dropout, targets }, 3);
  // B starts at zero; random values make the masks reach every adapter's gradient.
  for (const [name, t] of model.lora!.tensors) {
    if (name.endsWith('lora_B')) {
      model.lora!.tensors.set(name, tf.randomNormal(t.shape, 0, 0.05, 'float32', 4));
      t.dispose();
    }
  }
  return model;
}

const batch: LmBatch = randomWindows(tokens, { batchSize: 6, seqLen: 16, seed: 2 }).batch(0, 0);

/** Kernels a training step runs, counted by name. */
async function kernelCounts(model: Decoder, b: LmBatch): Promise<Map<string, number>> {
  const info = await tf.profile(() => {
    computeGradients(model, lmObjective, b, { dropoutSeed: 17 });
  });
  const counts = new Map<string, number>();
  for (const k of info.kernels) counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
  return counts;
}

describe('train/lm dropout', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it('one batched step gives the summed gradients of its rows taken one at a time', () => {
    const model = loraModel(0.25);
    const context = { dropoutSeed: 9 };
    const whole = computeGradients(model, lmObjective, batch, context);
    const rows = lmObjective.split(batch, batch.rows).map((row, r) => computeGradients(model, lmObjective, row, { ...context, firstRow: r }));
    const lossSum = rows.reduce((s, r) => s + r.lossSum, 0);
    assert.ok(Math.abs(whole.lossSum - lossSum) < 1e-4 * Math.abs(lossSum), `loss: ${whole.lossSum} batched vs ${lossSum} row by row`);
    whole.grads.forEach((g, i) => {
      const summed = g.map((_, j) => rows.reduce((s, r) => s + r.grads[i][j], 0));
      const scale = Math.max(...summed.map(Math.abs));
      assert.ok(maxAbsDiff(g, summed) <= 1e-5 * scale, `gradient ${i}: max |difference| ${maxAbsDiff(g, summed)} of ${scale}`);
    });
    const undropped = computeGradients(model, lmObjective, batch, {});
    assert.ok(maxAbsDiff(undropped.grads[0], whole.grads[0]) > 1e-6, 'dropout changes the gradients');
    disposeDecoder(model);
  });

  it('a step runs one forward however many rows it has', async () => {
    const model = loraModel(0.25);
    const one = await kernelCounts(model, lmObjective.split(batch, batch.rows)[0]);
    const six = await kernelCounts(model, batch);
    const matmuls = (c: Map<string, number>) => c.get('BatchMatMul') ?? 0;
    assert.ok(matmuls(one) > 0, 'the profile saw the matrix products');
    assert.equal(matmuls(six), matmuls(one), `matrix products for 6 rows vs 1 row`);
    disposeDecoder(model);
  });

  it('each adapter draws its own mask, as PEFT\'s per-module dropout does', () => {
    // gate_proj and up_proj of a layer read the same input. With one token, row f
    // of an adapter's lora_A gradient is zero exactly where its mask dropped
    // feature f, so the zero rows show each adapter's mask.
    const model = loraModel(0.5, ['gate_proj', 'up_proj']);
    const one: LmBatch = randomWindows(tokens, { batchSize: 1, seqLen: 1, seed: 5 }).batch(0, 0);
    const { grads } = computeGradients(model, lmObjective, one, { dropoutSeed: 21 });
    const names = [...trainableMap(model).keys()];
    const dropped = (projection: string): string => {
      const i = names.findIndex((n) => n.includes(`layers.0.mlp.${projection}`) && n.endsWith('lora_A'));
      assert.ok(i >= 0, `${projection} has an adapter`);
      const rank = 4;
      const rows = grads[i].length / rank;
      return Array.from({ length: rows }, (_, f) => (grads[i].subarray(f * rank, (f + 1) * rank).every((g) => g === 0) ? '0' : '1')).join('');
    };
    const gate = dropped('gate_proj');
    const up = dropped('up_proj');
    assert.ok(gate.includes('0') && gate.includes('1'), `gate_proj's mask drops some features and keeps others: ${gate}`);
    assert.notEqual(gate, up, 'gate_proj and up_proj share one dropout mask');
    disposeDecoder(model);
  });

  it('no tensors leak over steps with per-row dropout masks', () => {
    const model = loraModel(0.25);
    computeGradients(model, lmObjective, batch, { dropoutSeed: 1 });
    const before = tf.memory().numTensors;
    for (let step = 2; step < 5; step++) computeGradients(model, lmObjective, batch, { dropoutSeed: step });
    assert.equal(tf.memory().numTensors, before);
    disposeDecoder(model);
  });
});
