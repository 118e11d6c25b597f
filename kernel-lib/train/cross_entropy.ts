// Next-token cross-entropy summed over the tokens a mask keeps, with its
// gradient written out: d(loss)/d(logits) = (softmax - onehot) * mask. Autodiff
// through logSoftmax and a one-hot product would record about a dozen kernels
// on the [tokens, vocab] matrix, the largest activation of a small model.
//
// The forward pass is one softmax kernel (vectorised in XNNPACK on wasm, ~4x
// faster there than tf.exp), and its probabilities are kept for the gradient.
// log Z comes out of the same softmax without a second exp: the largest logit
// m has probability exp(0) / sum_j exp(x_j - m), so log Z = m - log(max p),
// and max p >= 1 / V never underflows.
import * as tf from '@tensorflow/tfjs';

/**
 * Sum over rows of -log p(target) * weight, for logits [N, V], integer
 * targets [N] and optional per-token weights [N] (the loss mask).
 */
export function tokenCrossEntropySum(logits: tf.Tensor2D, targets: tf.Tensor1D, weights?: tf.Tensor1D): tf.Scalar {
  const depth = logits.shape[1];
  const w = weights ?? tf.onesLike(targets).toFloat();
  const onehot = tf.cast(tf.oneHot(tf.cast(targets, 'int32'), depth), 'float32');
  const f = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const probs = tf.softmax(x);
    const logz = tf.sub(tf.max(x, -1), tf.log(tf.max(probs, -1)));
    const picked = tf.sum(tf.mul(x, onehot), -1);
    // The targets, not the one-hot matrix, wait for the backward pass: it is
    // as large as the logits ([tokens, vocab]: 100 MB at 512 tokens and a
    // 49,152-token vocabulary) and cheap to make again there.
    save([probs, targets, w]);
    return {
      value: tf.sum(tf.mul(tf.sub(logz, picked), w)),
      // In a tidy: p - onehot is another [tokens, vocab] matrix, freed once used.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const [p, ts, ws] = saved;
        const oh = tf.cast(tf.oneHot(tf.cast(ts, 'int32'), depth), 'float32');
        return tf.mul(tf.sub(p, oh), tf.mul(tf.expandDims(ws, -1), dy));
      }),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(logits) as tf.Scalar;
}
