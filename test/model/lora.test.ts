// LoRA: merged weights give the unmerged forward, only adapters train, and
// adapters save and load alone in PEFT's layout.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import {
  addLora, createDecoder, disposeDecoder, forward, loadAdapters, mergeLora, readSafetensors, saveAdapters, type Decoder, type ForwardOptions,
} from '../../kernel-lib/model';
import { computeGradients, computeLoss, lmObjective, randomWindows, train } from '../../kernel-lib/train';
import { assertClose, maxAbsDiff, tinyConfig } from './helpers';

const ids = [[1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1]];
const logitsOf = (model: Decoder) => tf.tidy(() => forward(model, tf.tensor2d(ids, undefined, 'int32')).logits).dataSync() as Float32Array;

/** Gives B (zero at init) random values so the adapters change the output. */
function perturbAdapters(model: Decoder): void {
  for (const [name, t] of model.lora!.tensors) {
    if (name.endsWith('lora_B')) {
      model.lora!.tensors.set(name, tf.randomNormal(t.shape, 0, 0.05, 'float32', 1));
      t.dispose();
    }
  }
}

describe('model/lora', () => {
  let dir: string;
  before(async () => {
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('starts as the base model (B = 0) and merging gives the unmerged forward', () => {
    const model = createDecoder(tinyConfig(), 2);
    const base = logitsOf(model);
    addLora(model, { rank: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj', 'down_proj'] }, 1);
    assertClose(logitsOf(model), base, 0, 'fresh adapters');
    perturbAdapters(model);
    const unmerged = logitsOf(model);
    assert.ok(Math.max(...unmerged.map((v, i) => Math.abs(v - base[i]))) > 1e-3, 'adapters change the logits');
    mergeLora(model);
    assert.equal(model.lora, undefined);
    assertClose(logitsOf(model), unmerged, 2e-5, 'merged vs unmerged');
    disposeDecoder(model);
  });

  it('training moves only the adapters; dropout is used only while training', async () => {
    const model = createDecoder(tinyConfig(), 2);
    addLora(model, { rank: 2, alpha: 4, dropout: 0.1, targets: ['q_proj', 'k_proj'] }, 1);
    const baseBefore = new Map([...model.weights].map(([n, t]) => [n, Float32Array.from(t.dataSync() as Float32Array)]));
    const adaptersBefore = new Map([...model.lora!.tensors].map(([n, t]) => [n, Float32Array.from(t.dataSync() as Float32Array)]));
    const eval1 = logitsOf(model);
    assertClose(logitsOf(model), eval1, 0, 'inference is deterministic (no dropout)');
    const tokens = Int32Array.from({ length: 400 }, (_, i) => (i * 7) % 61);
    await train(model, { steps: 3, lr: 1e-2, warmupSteps: 0, progress: 'none' }, { objective: lmObjective, data: randomWindows(tokens, { batchSize: 2, seqLen: 16 }) });
    for (const [n, t] of model.weights) assert.deepEqual(t.dataSync(), baseBefore.get(n), `${n} must stay frozen`);
    let moved = 0;
    for (const [n, t] of model.lora!.tensors) if (Buffer.compare(Buffer.from((t.dataSync() as Float32Array).buffer), Buffer.from(adaptersBefore.get(n)!.buffer)) !== 0) moved++;
    assert.equal(moved, model.lora!.tensors.size, 'every adapter tensor trained');
    const batch = randomWindows(tokens, { batchSize: 2, seqLen: 16 }).batch(0, 0);
    const plain = computeLoss(model, lmObjective, batch).lossSum;
    const dropped = computeGradients(model, lmObjective, batch, { dropoutSeed: 5 }).lossSum;
    assert.notEqual(dropped, plain, 'adapter dropout changes the training loss');
    assert.equal(computeGradients(model, lmObjective, batch, {}).lossSum, plain, 'no dropout without a training seed');
    disposeDecoder(model);
  });

  it('per-row dropout seeds: a batched forward gives each row the logits it gets alone with its seed', () => {
    const model = createDecoder(tinyConfig(), 2);
    addLora(model, { rank: 4, alpha: 8, dropout: 0.3, targets: ['q_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj'] }, 1);
    perturbAdapters(model);
    const rows = [[1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1], [9, 9, 3, 3, 40, 41, 42, 60]];
    const seeds = [11, 902, 3];
    const run = (ids: number[][], options: ForwardOptions): Float32Array => {
      const logits = tf.tidy(() => forward(model, tf.tensor2d(ids, undefined, 'int32'), options).logits);
      const values = Float32Array.from(logits.dataSync() as Float32Array);
      logits.dispose();
      return values;
    };
    const rowSize = 8 * tinyConfig().vocab_size;
    const plain = run(rows, {}); // also builds the tables the model caches per length
    const before = tf.memory().numTensors;
    const batched = run(rows, { dropoutRowSeeds: seeds });
    assert.equal(tf.memory().numTensors, before, 'a forward with per-row seeds leaves no tensors behind');
    assert.ok(maxAbsDiff(batched, plain) > 1e-3, 'per-row seeds turn dropout on');
    rows.forEach((row, r) => {
      const part = batched.subarray(r * rowSize, (r + 1) * rowSize);
      const alone = run([row], { dropoutRowSeeds: [seeds[r]] });
      assertClose(part, alone, 1e-6, `row ${r} batched vs alone`);
      // The same row alone under a scalar seed draws the same masks: runs made before per-row seeds reproduce.
      assert.deepEqual(run([row], { dropoutSeed: seeds[r] }), alone, `row ${r}: dropoutRowSeeds [s] vs dropoutSeed s`);
    });
    // A row's mask follows its own seed, not its neighbours' or its place in the batch.
    const swapped = run([rows[2], rows[0]], { dropoutRowSeeds: [seeds[2], seeds[0]] });
    assertClose(swapped.subarray(rowSize), batched.subarray(0, rowSize), 1e-6, 'row 0 moved to place 1');
    assert.ok(maxAbsDiff(run([rows[0]], { dropoutRowSeeds: [12] }), batched.subarray(0, rowSize)) > 1e-3, 'another seed draws another mask');
    assert.throws(() => run(rows, { dropoutRowSeeds: [1, 2] }), /dropoutRowSeeds has 2 seeds, expected one per batch row \(3\)/);
    assert.throws(() => run(rows, { dropoutSeed: 1, dropoutRowSeeds: seeds }), /dropoutSeed or dropoutRowSeeds, not both/);
    disposeDecoder(model);
  });

  it('saves and loads adapters alone in PEFT layout, bit-exact', () => {
    const model = createDecoder(tinyConfig(), 2);
    addLora(model, { rank: 4, alpha: 16, dropout: 0.05, targets: ['v_proj', 'gate_proj'] }, 1);
    perturbAdapters(model);
    const expected = logitsOf(model);
    const out = path.join(dir, 'adapter');
    saveAdapters(out, model, 'tiny-base');
    const config = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    assert.equal(config.peft_type, 'LORA');
    assert.equal(config.r, 4);
    assert.equal(config.lora_alpha, 16);
    assert.deepEqual(config.target_modules, ['v_proj', 'gate_proj']);
    const { tensors } = readSafetensors(path.join(out, 'adapter_model.safetensors'));
    assert.deepEqual(tensors.get('base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight')!.shape, [4, 32]);
    assert.deepEqual(tensors.get('base_model.model.model.layers.1.mlp.gate_proj.lora_B.weight')!.shape, [48, 4]);
    assert.equal(tensors.size, 2 * 2 * 2);

    const fresh = createDecoder(tinyConfig(), 2);
    loadAdapters(out, fresh);
    for (const [n, t] of model.lora!.tensors) assert.deepEqual(fresh.lora!.tensors.get(n)!.dataSync(), t.dataSync(), n);
    assertClose(logitsOf(fresh), expected, 0, 'reloaded adapters');
    assert.throws(() => loadAdapters(out, fresh), /already has adapters/);
    disposeDecoder(model);
    disposeDecoder(fresh);
  });

  it('names an unknown target', () => {
    const model = createDecoder(tinyConfig(), 2);
    assert.throws(() => addLora(model, { rank: 2, alpha: 2, dropout: 0, targets: ['qkv'] }), /unknown target "qkv"/);
    disposeDecoder(model);
  });
});
