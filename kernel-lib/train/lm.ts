// The `lm` objective: predict every next token, optionally only where a loss
// mask is 1 (instruction tuning masks the prompt and trains on the answer).
import * as tf from '@tensorflow/tfjs';
import { forward, type Decoder } from '../model/decoder';
import { tokenCrossEntropySum } from './cross_entropy';
import type { Objective, ObjectiveContext, ObjectiveOutput } from './objective';

/** Rows of equal length: inputs[i][t] predicts targets[i][t] where mask[i][t] = 1. */
export interface LmBatch {
  rows: number;
  length: number;
  /** [rows * length] token ids. */
  inputs: Int32Array;
  /** [rows * length] next-token ids. */
  targets: Int32Array;
  /** [rows * length] 1 to train on the token, 0 to skip it; absent = all. */
  mask?: Float32Array;
}

function sliceRows(batch: LmBatch, from: number, to: number): LmBatch {
  const a = from * batch.length;
  const b = to * batch.length;
  return {
    rows: to - from,
    length: batch.length,
    inputs: batch.inputs.subarray(a, b),
    targets: batch.targets.subarray(a, b),
    mask: batch.mask?.subarray(a, b),
  };
}

export const lmObjective: Objective<LmBatch> = {
  name: 'lm',
  split(batch, parts) {
    const out: LmBatch[] = [];
    for (let p = 0; p < parts; p++) {
      const from = Math.floor((p * batch.rows) / parts);
      const to = Math.floor(((p + 1) * batch.rows) / parts);
      if (to > from) out.push(sliceRows(batch, from, to));
    }
    return out;
  },
  loss(model: Decoder, batch: LmBatch, context: ObjectiveContext): ObjectiveOutput {
    const { rows, length } = batch;
    const n = rows * length;
    let count = n;
    if (batch.mask) {
      count = 0;
      for (let i = 0; i < n; i++) count += batch.mask[i];
    }
    const ids = tf.tensor2d(batch.inputs, [rows, length], 'int32');
    const { logits } = forward(model, ids, { dropoutSeed: context.dropoutSeed });
    const targets = tf.tensor1d(batch.targets, 'int32');
    const weights = batch.mask ? tf.tensor1d(batch.mask, 'float32') : undefined;
    const lossSum = tokenCrossEntropySum(tf.reshape(logits, [n, model.config.vocab_size]), targets, weights);
    return { lossSum, count };
  },
};
