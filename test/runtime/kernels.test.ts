// The kernels this project registers for wasm, checked against tfjs's own cpu
// backend, and a real training run through tf.gather on wasm.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { checkTensorLeaks, seedEverything, selectBackend, unseed } from '../../kernel-lib/runtime';

type Op = () => tf.Tensor;

/** Runs `op` on cpu and on wasm and returns both results as nested arrays. */
async function onBoth(op: Op): Promise<{ cpu: unknown; wasm: unknown; wasmDtype: string }> {
  await tf.setBackend('cpu');
  const cpu = tf.tidy(op).arraySync();
  await selectBackend('wasm');
  const result = tf.tidy(op);
  const wasm = result.arraySync();
  const wasmDtype = result.dtype;
  result.dispose();
  return { cpu, wasm, wasmDtype };
}

function assertClose(actual: unknown, expected: unknown, tol = 1e-5): void {
  const a = [actual].flat(Infinity as 1) as number[];
  const e = [expected].flat(Infinity as 1) as number[];
  assert.equal(a.length, e.length, 'element count');
  a.forEach((v, i) => assert.ok(Math.abs(v - e[i]) <= tol * (1 + Math.abs(e[i])), `element ${i}: ${v} vs ${e[i]}`));
}

describe('runtime/kernels (wasm, compared with cpu)', () => {
  after(() => unseed());

  it('wasm has no UnsortedSegmentSum of its own (the reason for ours)', async () => {
    await selectBackend('wasm');
    tf.unregisterKernel('UnsortedSegmentSum', 'wasm');
    assert.throws(
      () => tf.grad((x: tf.Tensor) => tf.gather(x, tf.tensor1d([0], 'int32')).sum())(tf.ones([2, 2])),
      /UnsortedSegmentSum/,
    );
    await selectBackend('wasm'); // registers it again
  });

  it('UnsortedSegmentSum matches cpu (2-D and 3-D values, repeats, out-of-range ids, int32)', async () => {
    const x = [...Array(24).keys()].map((i) => Math.sin(i) * 3);
    const cases: Op[] = [
      () => tf.unsortedSegmentSum(tf.tensor2d(x, [6, 4]), tf.tensor1d([2, 0, 2, 5, 1, 2], 'int32'), 6),
      () => tf.unsortedSegmentSum(tf.tensor3d(x, [3, 2, 4]), tf.tensor1d([1, 0, 1], 'int32'), 4),
      () => tf.unsortedSegmentSum(tf.tensor1d(x.slice(0, 5)), tf.tensor1d([0, 7, -1, 1, 0], 'int32'), 3),
      () => tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4], 'int32'), tf.tensor1d([1, 1, 0, 1], 'int32'), 2),
    ];
    for (const op of cases) {
      const { cpu, wasm } = await onBoth(op);
      assertClose(wasm, cpu);
    }
  });

  it("tf.gather's gradient on wasm matches cpu", async () => {
    const table = [...Array(30).keys()].map((i) => Math.cos(i));
    const op = () => {
      const ids = tf.tensor2d([4, 1, 4, 9, 0, 1], [2, 3], 'int32');
      const weights = tf.tensor3d([...Array(2 * 3 * 3).keys()].map((i) => i / 7), [2, 3, 3]);
      return tf.grad((e: tf.Tensor) => tf.gather(e, ids).mul(weights).sum())(tf.tensor2d(table, [10, 3]));
    };
    const { cpu, wasm } = await onBoth(op);
    assertClose(wasm, cpu);
  });

  it('OneHot on wasm gives real float32 ones (the stock kernel writes int bit patterns)', async () => {
    const op = () => tf.oneHot(tf.tensor1d([1, 0, 3, -1, 2], 'int32'), 4, 1, 0, 'float32');
    const { cpu, wasm, wasmDtype } = await onBoth(op);
    assert.equal(wasmDtype, 'float32');
    assert.deepEqual(wasm, cpu);
    const scaled = await onBoth(() => tf.oneHot(tf.tensor1d([2, 0], 'int32'), 3, 5, -1, 'float32'));
    assert.deepEqual(scaled.wasm, [[-1, -1, 5], [5, -1, -1]]);
    assert.deepEqual(scaled.wasm, scaled.cpu);
  });

  it('GatherV2 matches cpu (axis 0 and 1, batchDims, int32 and bool values) and rejects out-of-range ids', async () => {
    const x = [...Array(60).keys()].map((i) => Math.sin(i) * 2);
    const cases: Op[] = [
      () => tf.gather(tf.tensor2d(x, [12, 5]), tf.tensor1d([3, 0, 11, 3], 'int32')),
      () => tf.gather(tf.tensor2d(x, [12, 5]), tf.tensor2d([4, 1, 2, 2, 0, 4], [2, 3], 'int32'), 1),
      () => tf.gather(tf.tensor3d(x, [3, 4, 5]), tf.tensor2d([1, 3, 0, 0, 2, 2], [3, 2], 'int32'), 1, 1),
      () => tf.gather(tf.tensor2d(x.map(Math.round), [6, 10], 'int32'), tf.tensor1d([5, 5, 0], 'int32')),
      () => tf.gather(tf.tensor2d(x.map((v) => v > 0), [6, 10], 'bool'), tf.tensor1d([2, 1], 'int32')),
      () => tf.gather(tf.tensor2d(x, [12, 5]), tf.tensor1d([], 'int32')),
    ];
    for (const op of cases) {
      const { cpu, wasm } = await onBoth(op);
      assert.deepEqual(wasm, cpu);
    }
    await selectBackend('wasm');
    assert.throws(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([1, 3], 'int32')), /index value 3 is not in \[0, 2\]/);
  });

  it('Sum matches cpu over leading, innermost and middle axes, with keepDims, for float32, int32 and bool', async () => {
    const x = [...Array(120).keys()].map((i) => Math.cos(i) * 5);
    const t3 = () => tf.tensor3d(x, [4, 5, 6]);
    const cases: Op[] = [
      () => tf.sum(t3(), 0),
      () => tf.sum(t3(), [0, 1]),
      () => tf.sum(t3(), 2),
      () => tf.sum(t3(), 1),
      () => tf.sum(t3(), [0, 2], true),
      () => tf.sum(t3(), 0, true),
      () => tf.sum(t3()),
      () => tf.sum(tf.tensor2d(x.map(Math.round), [12, 10], 'int32'), 0),
      () => tf.sum(tf.tensor2d(x.map((v) => v > 0), [12, 10], 'bool'), 0),
    ];
    for (const op of cases) {
      const { cpu, wasm, wasmDtype } = await onBoth(op);
      assertClose(wasm, cpu);
      await tf.setBackend('cpu');
      assert.equal(wasmDtype, tf.tidy(op).dtype);
    }
  });

  it('Identity on wasm shares bytes with its input and frees them once both are disposed', async () => {
    await selectBackend('wasm');
    const before = tf.memory();
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    a.dispose();
    assert.deepEqual(await b.array(), [1, 2, 3]);
    b.dispose();
    assert.equal(tf.memory().numTensors, before.numTensors);
    assert.equal(tf.memory().numDataBuffers, before.numDataBuffers);
  });

  it('trains an embedding model through tf.gather on wasm: loss falls, no tensors leak', async () => {
    const report = await selectBackend('wasm');
    assert.equal(report.tfjsBackend, 'wasm');
    seedEverything(1);
    const vocab = 12;
    const embedding = tf.variable(tf.randomNormal([vocab, 8], 0, 0.1));
    const head = tf.variable(tf.randomNormal([8, vocab], 0, 0.1));
    const ids = tf.tensor1d([...Array(48).keys()].map((i) => i % vocab), 'int32');
    const next = tf.tensor1d([...Array(48).keys()].map((i) => (i * 5 + 1) % vocab), 'int32');
    const labels = tf.oneHot(next, vocab).toFloat();
    const optimizer = tf.train.adam(0.05);
    const step = () => {
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(labels, tf.gather(embedding, ids).matMul(head)), true)!;
      const value = loss.dataSync()[0];
      loss.dispose();
      return value;
    };
    const first = step();
    let last = first;
    for (let i = 0; i < 80; i++) last = step();
    assert.ok(Number.isFinite(last), 'loss is finite');
    assert.ok(first > Math.log(vocab) * 0.9, `starts near chance: ${first}`);
    assert.ok(last < first * 0.2, `loss fell from ${first} to ${last}`);
    await checkTensorLeaks(step, { steps: 3, label: 'embedding training step' });
    [embedding, head, ids, next, labels].forEach((t) => t.dispose());
    optimizer.dispose();
  });
});
