// Next-token cross-entropy summed over the tokens a mask keeps, with its
// gradient written out: d(loss)/d(logits) = (softmax - onehot) * mask. Autodiff
// through logSoftmax and a one-hot product would record about a dozen kernels
// on the [tokens, vocab] matrix, the largest activation of a small model.
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
    const logz = tf.logSumExp(x, -1);
    const picked = tf.sum(tf.mul(x, onehot), -1);
    save([x, logz, onehot, w]);
    return {
      value: tf.sum(tf.mul(tf.sub(logz, picked), w)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, lz, oh, ws] = saved;
        const probs = tf.exp(tf.sub(xs, tf.expandDims(lz, -1)));
        return tf.mul(tf.sub(probs, oh), tf.mul(tf.expandDims(ws, -1), dy));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(logits) as tf.Scalar;
}
