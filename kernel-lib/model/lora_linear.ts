// A frozen projection with a LoRA adapter, y = x W + scale (x A) B, as one
// operation on tfjs's gradient tape that keeps only x and x A for the
// backward pass.
//
// Written with tfjs's ops, the tape keeps what each op's gradient might read:
// x W and the scaled update (the sum's operands) and the update itself (the
// scaling's operand), three [tokens, out] tensors a projection that the
// backward pass of a LoRA model never reads. At SmolLM2-135M's shape that is
// about a third of what a decoder layer holds until its backward pass (32 of
// 95 MB a layer at 512 tokens), and what decides how many layers must be
// recomputed under gradient checkpointing to fit wasm's 4 GB.
//
// The backward pass computes what the ops' own gradients would, in the same
// order and with the same products, so the gradients are equal to the bit
// (tested in test/model/lora_linear.test.ts). W gets no gradient: with LoRA
// the base weights are frozen.
import * as tf from '@tensorflow/tfjs';

/** x [tokens, in] W [in, out] + scale * (x A [in, r]) B [r, out], keeping x and x A for the gradient. */
export function loraLinear(x: tf.Tensor2D, w: tf.Tensor2D, a: tf.Tensor2D, b: tf.Tensor2D, scale: number): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, aIn, bIn] = args as tf.Tensor2D[];
    const save = args[3] as tf.GradSaveFunc;
    const xa = tf.matMul(xIn, aIn);
    save([xIn, xa, aIn, bIn]);
    return {
      value: tf.add(tf.matMul(xIn, w), tf.mul(tf.matMul(xa, bIn), scale)) as tf.Tensor2D,
      // In a tidy: the gradient walk frees what it is handed, not what a gradient function makes on the way.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const [xs, xas, as, bs] = saved as tf.Tensor2D[];
        // The chain the ops' gradients follow: the sum passes dy to both
        // terms; the scaling multiplies it by scale; each product gives
        // dy op(other)^T to its left operand and op(other)^T dy to its right.
        const dUpdate = tf.mul(dy, scale) as tf.Tensor2D;
        const dXa = tf.matMul(dUpdate, bs, false, true);
        const dB = tf.matMul(xas, dUpdate, true, false);
        const dA = tf.matMul(xs, dXa, true, false);
        const dx = tf.add(tf.matMul(dy as tf.Tensor2D, w, false, true), tf.matMul(dXa, as, false, true));
        return [dx, dA, dB];
      }),
    };
  });
  return op(x, a, b) as tf.Tensor2D;
}
