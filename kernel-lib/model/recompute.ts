// Activation recomputation (gradient checkpointing) for one function of
// tensors, on tfjs's gradient tape.
//
// tf.customGrad runs its forward as one kernel: the ops inside are not
// recorded on the tape and their intermediates are freed when it returns;
// only what the forward passes to `save` lives on until the backward pass.
// Here that is the function's inputs (clones share their bytes), so the
// intermediates of a decoder layer (attention probabilities, the MLP's
// [tokens, intermediate] activations) no longer wait for the backward pass.
// The gradient then runs the function again under valueAndGradients
// (runtime/backprop.ts, tfjs's gradient walk freeing as it goes) from the saved
// inputs, with the upstream gradient dy, and returns one gradient per input.
// Only explicit inputs get a gradient: a trainable tensor the function reads
// must be passed as an input, not closed over.
import * as tf from '@tensorflow/tfjs';
import { valueAndGradients } from '../runtime/backprop';

/**
 * f(inputs, constants), its intermediates recomputed in the backward pass
 * instead of kept. `constants` are kept alive for the recomputation and get
 * no gradient (masks, rotary tables). f must compute the same values when run
 * again: any randomness seeded, not drawn from a global stream.
 */
export function recomputed<T extends tf.Tensor>(
  f: (inputs: tf.Tensor[], constants: tf.Tensor[]) => T,
  inputs: tf.Tensor[],
  constants: tf.Tensor[] = [],
): T {
  const n = inputs.length;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[n] as tf.GradSaveFunc;
    const xs = args.slice(0, n) as tf.Tensor[];
    // Saved only while the tape records; freed once the backward pass is done.
    save([...xs, ...constants]);
    return {
      value: f(xs, constants),
      gradFunc: (dy: T, saved: tf.Tensor[]) => {
        const again = saved.slice(0, n);
        return gradientsWithin(() => f(again, saved.slice(n)), again, dy);
      },
    };
  });
  return op(...inputs);
}

/**
 * The gradients of f at xs with upstream dy, called from inside another gradient
 * computation's backward pass. By then the outer one has stopped
 * recording (its tape depth is back to 0), so the inner one starts a tape of
 * its own in the engine's single `activeTape` slot and, when done, frees its
 * saved tensors and sets the slot to null; the outer one still reads that
 * slot afterwards to free its own saved tensors. So the slot is put back.
 */
function gradientsWithin(f: () => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const state = tf.engine().state;
  const outer = state.activeTape;
  try {
    const { value, grads } = valueAndGradients(f, xs, dy);
    value.dispose();
    return grads;
  } finally {
    state.activeTape = outer;
  }
}
