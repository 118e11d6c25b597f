// The token cross-entropy with its written-out gradient (train/cross_entropy.ts):
// value and gradient next to autodiff through logSoftmax, weights applied,
// one [tokens, vocab] matrix (the probabilities) kept for the backward pass,
// and nothing left behind.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { valueAndGradients } from '../../kernel-lib/runtime/backprop';
import { tokenCrossEntropySum } from '../../kernel-lib/train/cross_entropy';
import { maxAbsDiff } from '../model/helpers';

describe('train/cross_entropy: tokenCrossEntropySum', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  const [N, V] = [9, 37];
  const logits = () => tf.randomNormal([N, V], 0, 2, 'float32', 11) as tf.Tensor2D;
  const targets = tf.tensor1d(Array.from({ length: N }, (_, i) => (i * 13 + 5) % V), 'int32');
  const weights = tf.tensor1d(Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 0 : 1 + i / 10)));

  it('gives the value and gradient of -sum w log softmax(x)[target]', () => {
    const x = logits();
    const reference = (xx: tf.Tensor) => tf.neg(tf.sum(tf.mul(tf.sum(tf.mul(tf.logSoftmax(xx), tf.oneHot(targets, V).toFloat()), -1), weights)));
    const want = tf.valueAndGrads(reference)([x]);
    const got = valueAndGradients(() => tokenCrossEntropySum(x, targets, weights), [x]);
    assert.ok(Math.abs(got.value.dataSync()[0] - want.value.dataSync()[0]) < 1e-4, `${got.value.dataSync()[0]} vs ${want.value.dataSync()[0]}`);
    assert.ok(maxAbsDiff(got.grads[0].dataSync(), want.grads[0].dataSync()) < 1e-5);
    tf.dispose([x, want.value, ...want.grads, got.value, ...got.grads]);
  });

  it('keeps one [tokens, vocab] matrix for the backward pass and leaks nothing', () => {
    const x = logits();
    let kept = 0;
    const run = () => valueAndGradients(() => {
      const loss = tokenCrossEntropySum(x, targets, weights);
      const tape = (tf.engine().state as unknown as { activeTape: { saved?: tf.Tensor[] }[] }).activeTape;
      kept = tape.flatMap((n) => n.saved ?? []).filter((t) => t.shape.join() === `${N},${V}`).length;
      return loss;
    }, [x]);
    tf.dispose(Object.values(run()).flat());
    assert.equal(kept, 1, 'the probabilities only (the one-hot matrix is made again in the backward pass)');
    const count = tf.memory().numTensors;
    tf.dispose(Object.values(run()).flat());
    assert.equal(tf.memory().numTensors, count);
    tf.dispose(x);
  });
});
