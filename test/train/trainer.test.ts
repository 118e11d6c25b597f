// The training loop on real steps: the loss falls, a resumed run repeats an
// uninterrupted one, accumulation and workers give the one-batch update, NaN
// stops the run, and no tensors leak.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tableFromIPC } from 'apache-arrow';
import { checkTensorLeaks, selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder, type Decoder } from '../../kernel-lib/model';
import {
  arrowMetrics, computeGradients, jsonlMetrics, lmObjective, NonFiniteLossError, randomWindows, sequentialBatches,
  startWorkers, train, warmupCosine, type LmBatch, type Objective,
} from '../../kernel-lib/train';
import { tinyConfig } from '../model/helpers';

// A small repetitive stream a tiny model can learn quickly.
const text = 'the cat sat on the mat. the dog sat on the log. '.repeat(40);
const tokens = Int32Array.from(Buffer.from(text), (b) => b % 61);
const data = randomWindows(tokens, { batchSize: 4, seqLen: 24, seed: 1 });
const base = { lr: 1e-2, warmupSteps: 2, progress: 'none' as const, seed: 1 };

describe('train/trainer', () => {
  let dir: string;
  before(async () => {
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the loss falls and metrics go to JSONL and Arrow', async () => {
    const model = createDecoder(tinyConfig(), 1);
    const jsonl = path.join(dir, 'm', 'metrics.jsonl');
    const arrow = path.join(dir, 'm', 'metrics.arrow');
    const evalData = sequentialBatches(tokens.subarray(0, 300), { batchSize: 4, seqLen: 24 });
    const r = await train(model, { ...base, steps: 30, evalEvery: 10 }, { objective: lmObjective, data, evalData, callbacks: [jsonlMetrics(jsonl), arrowMetrics(arrow)] });
    const first = r.history[0].loss;
    const last = r.history.at(-1)!.loss;
    assert.ok(first > 3.5 && last < first - 1.5, `loss ${first} -> ${last}`);
    assert.ok(r.evals.length === 4 && r.evals.at(-1)!.eval_loss < r.evals[0].eval_loss - 1, 'eval loss falls');
    const lines = fs.readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.filter((l) => l.kind === 'train').length, 30);
    assert.equal(lines.filter((l) => l.kind === 'eval').length, 4);
    const table = tableFromIPC(fs.readFileSync(arrow));
    assert.equal(table.numRows, 30);
    assert.deepEqual(Array.from(table.getChild('loss')!.toArray() as Float64Array), r.history.map((h) => h.loss));
    assert.ok(fs.existsSync(path.join(dir, 'm', 'metrics.eval.arrow')));
    disposeDecoder(model);
  });

  it('resuming from a checkpoint gives the same losses as an uninterrupted run', async () => {
    const config = { ...base, steps: 8, weightDecay: 0.1 };
    const full = createDecoder(tinyConfig(), 4);
    const straight = await train(full, config, { objective: lmObjective, data });

    const ckpt = path.join(dir, 'resume');
    const first = createDecoder(tinyConfig(), 4);
    // Stop after 5 of 8 steps: run to 5 with checkpoints, then start a new model from the checkpoint.
    const part = await train(first, { ...config, steps: 8, checkpointEvery: 5, checkpointDir: ckpt }, {
      objective: lmObjective,
      data,
      callbacks: [{ onCheckpoint: ({ step }) => { if (step === 5) throw new Stop(); } }],
    }).catch((e) => (e instanceof Stop ? null : Promise.reject(e)));
    assert.equal(part, null);
    const state = JSON.parse(fs.readFileSync(path.join(ckpt, 'trainer_state.json'), 'utf8'));
    assert.equal(state.step, 5);
    const second = createDecoder(tinyConfig(), 99); // different init: the checkpoint must overwrite it
    const rest = await train(second, config, { objective: lmObjective, data, resumeFrom: ckpt });
    assert.deepEqual(rest.history.map((h) => h.step), [6, 7, 8]);
    assert.deepEqual(rest.history.map((h) => h.loss), straight.history.slice(5).map((h) => h.loss));
    for (const [n, t] of full.weights) assert.deepEqual(second.weights.get(n)!.dataSync(), t.dataSync(), n);
    [full, first, second].forEach(disposeDecoder);
  });

  it('accumulating two micro-batches equals one batch of both', () => {
    const model = createDecoder(tinyConfig(), 6);
    const b = data.batch(0, 0);
    const halves = lmObjective.split(b, 2);
    const whole = computeGradients(model, lmObjective, b, {});
    const parts = halves.map((h) => computeGradients(model, lmObjective, h, {}));
    assert.equal(parts[0].count + parts[1].count, whole.count);
    assert.ok(Math.abs(parts[0].lossSum + parts[1].lossSum - whole.lossSum) < 1e-3);
    whole.grads.forEach((g, k) => {
      for (let i = 0; i < g.length; i++) assert.ok(Math.abs(parts[0].grads[k][i] + parts[1].grads[k][i] - g[i]) < 1e-4);
    });
    disposeDecoder(model);
  });

  it('two worker threads give the single-thread losses', async function () {
    this.timeout(120000);
    const one = createDecoder(tinyConfig(), 8);
    const two = createDecoder(tinyConfig(), 8);
    const config = { ...base, steps: 4 };
    const a = await train(one, config, { objective: lmObjective, data });
    const workers = await startWorkers(2, { backend: 'wasm', objective: 'lm' });
    try {
      const b = await train(two, config, { objective: lmObjective, data, workers });
      a.history.forEach((h, i) => assert.ok(Math.abs(h.loss - b.history[i].loss) < 1e-4, `step ${h.step}: ${h.loss} vs ${b.history[i].loss}`));
    } finally {
      await workers.close();
    }
    disposeDecoder(one);
    disposeDecoder(two);
  });

  it('rowsPerPass computes a batch in smaller passes with the same update, in this thread and on workers', async function () {
    this.timeout(120000);
    const config = { ...base, steps: 3 };
    const whole = createDecoder(tinyConfig(), 9);
    const a = await train(whole, config, { objective: lmObjective, data });
    let largest = 0;
    const counting: Objective<LmBatch> = { ...lmObjective, loss: (m, b, c) => { largest = Math.max(largest, b.rows); return lmObjective.loss(m, b, c); } };
    const passes = createDecoder(tinyConfig(), 9);
    const b = await train(passes, { ...config, rowsPerPass: 1 }, { objective: counting, data });
    assert.equal(largest, 1, 'no pass takes more than one row');
    a.history.forEach((h, i) => assert.ok(Math.abs(h.loss - b.history[i].loss) < 1e-4, `step ${h.step}: ${h.loss} vs ${b.history[i].loss}`));
    const pooled = createDecoder(tinyConfig(), 9);
    const workers = await startWorkers(2, { backend: 'wasm', objective: 'lm' });
    const c = await train(pooled, { ...config, rowsPerPass: 1 }, { objective: lmObjective, data, workers, closeWorkers: true });
    a.history.forEach((h, i) => assert.ok(Math.abs(h.loss - c.history[i].loss) < 1e-4, `step ${h.step} on workers in passes: ${h.loss} vs ${c.history[i].loss}`));
    for (const [n, t] of whole.weights) {
      const x = t.dataSync(), y = passes.weights.get(n)!.dataSync(), z = pooled.weights.get(n)!.dataSync();
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) < 1e-4 && Math.abs(x[i] - z[i]) < 1e-4, `${n}[${i}]`);
    }
    await assert.rejects(train(whole, { ...config, rowsPerPass: 0 }, { objective: lmObjective, data }), /rowsPerPass must be a positive integer, got 0/);
    [whole, passes, pooled].forEach(disposeDecoder);
  });

  it('a pass that aborts the backend is named with its rows and the setting that makes passes smaller', async () => {
    const model = createDecoder(tinyConfig(), 3);
    // What tfjs-wasm throws when its heap cannot grow (also seen: 'memory access out of bounds').
    const aborting: Objective<LmBatch> = { ...lmObjective, loss: () => { throw new WebAssembly.RuntimeError('Aborted()'); } };
    await assert.rejects(train(model, { ...base, steps: 1 }, { objective: aborting, data }),
      /Aborted\(\) during the lm objective's forward and backward pass over 4 rows \(tensors held \d+ MB\)\. .*at most 4 GB.*TrainConfig\.rowsPerPass/);
    // Any other failure passes through as it was.
    const failing: Objective<LmBatch> = { ...lmObjective, loss: () => { throw new Error('bad batch'); } };
    await assert.rejects(train(model, { ...base, steps: 1 }, { objective: failing, data }), /^Error: bad batch$/m);
    disposeDecoder(model);
  });

  it('a NaN loss stops the run with a clear error and keeps the last good checkpoint', async () => {
    const model = createDecoder(tinyConfig(), 3);
    const ckpt = path.join(dir, 'nan');
    let calls = 0;
    // lm, except that the 5th step's loss is NaN.
    const poisoned: Objective<LmBatch> = {
      ...lmObjective,
      loss(m, batch, ctx) {
        const out = lmObjective.loss(m, batch, ctx);
        return ++calls === 5 ? { ...out, lossSum: tf.mul(out.lossSum, NaN) as tf.Scalar } : out;
      },
    };
    const err = await train(model, { ...base, steps: 10, checkpointEvery: 2, checkpointDir: ckpt }, { objective: poisoned, data }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof NonFiniteLossError, String(err));
    assert.match(err.message, /step 4: loss is NaN; stopped before the update\. The last good checkpoint is .*nan\./);
    // The step-4 weights were retried on the batch that made them, found sound, and saved.
    assert.match(err.message, /this step's batch is the likely cause/);
    assert.equal(JSON.parse(fs.readFileSync(path.join(ckpt, 'trainer_state.json'), 'utf8')).step, 4);
    for (const t of model.weights.values()) assert.ok((t.dataSync() as Float32Array).every(Number.isFinite), 'weights untouched by the bad step');
    disposeDecoder(model);
  });

  it('no tensors leak over training steps', async () => {
    const model: Decoder = createDecoder(tinyConfig(), 1);
    let step = 0;
    await checkTensorLeaks(
      async () => {
        await train(model, { ...base, steps: 2 }, { objective: lmObjective, data: { batch: () => data.batch(step++, 0) } });
      },
      { warmup: 1, steps: 3, label: 'train' },
    );
    const counts: number[] = [];
    await train(model, { ...base, steps: 6 }, { objective: lmObjective, data, callbacks: [{ onStep: () => { counts.push(tf.memory().numTensors); } }] });
    assert.ok(counts.every((c) => c === counts[0]), `live tensors per step: ${counts.join(', ')}`);
    disposeDecoder(model);
  });

  it('warm-up then cosine', () => {
    const o = { lr: 1, warmupSteps: 4, totalSteps: 14, minLr: 0.1 };
    assert.deepEqual([0, 1, 2, 3].map((s) => warmupCosine(s, o)), [0.25, 0.5, 0.75, 1]);
    assert.ok(Math.abs(warmupCosine(9, o) - 0.55) < 1e-12);
    assert.equal(warmupCosine(14, o), 0.1);
  });
});

class Stop extends Error {}
