// The `lm` objective: predict every next token, optionally only where a loss
// mask is 1 (instruction tuning masks the prompt and trains on the answer).
import * as tf from '@tensorflow/tfjs';
import { forward, type Decoder } from '../model/decoder';
import { hashString } from '../runtime/seed';
import { tokenCrossEntropySum } from './cross_entropy';
import { splitByRows, type Objective, type ObjectiveContext, type ObjectiveOutput } from './objective';

/** Rows of equal length: inputs[i][t] predicts targets[i][t] where mask[i][t] = 1. */
export interface LmBatch {
  rows: number;
  length: number;
  /** [rows * length] token ids. */
  inputs: Int32Array;
  /** [rows * length] next-token ids. */
  targets: Int32Array;
  /**
   * [rows * length] 1 to train on the token, 0 to skip it; absent = all.
   * This is the only way to skip a target: there is no ignore index (such as
   * transformers' -100), but a skipped target may hold any id.
   */
  mask?: Float32Array;
  /** Where the rows come from (e.g. 'train.jsonl'), named in errors as `${source} row i`. */
  source?: string;
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
    source: batch.source,
  };
}

/**
 * Throws naming the row, position, id and vocabulary size at the first token
 * id the model cannot take: every input goes through the embedding, and every
 * target whose mask entry is not 0 is trained on. `firstRow` numbers the rows
 * of a part of a larger batch.
 */
export function checkLmBatch(batch: LmBatch, vocabSize: number, firstRow = 0): void {
  const { rows, length, inputs, targets, mask } = batch;
  const where = (i: number) => `${batch.source ?? 'lm batch'} row ${firstRow + Math.floor(i / length)}, position ${i % length}`;
  const n = rows * length;
  for (const [field, a] of [['inputs', inputs], ['targets', targets], ['mask', mask]] as const) {
    if (a && a.length !== n) throw new Error(`${batch.source ?? 'lm batch'}: ${field} has ${a.length} entries, expected rows * length = ${rows} * ${length} = ${n}`);
  }
  const outside = (id: number) => !(id >= 0 && id < vocabSize);
  for (let i = 0; i < n; i++) {
    if (outside(inputs[i])) {
      throw new Error(`${where(i)}: input id ${inputs[i]} is outside the vocabulary [0, ${vocabSize - 1}] (vocab_size ${vocabSize})`);
    }
    if (outside(targets[i]) && (!mask || mask[i] !== 0)) {
      throw new Error(
        `${where(i)}: target id ${targets[i]} is outside the vocabulary [0, ${vocabSize - 1}] (vocab_size ${vocabSize})` +
          `${mask ? ` and its mask entry is ${mask[i]}` : ' and the batch has no mask'}; a target not to train on needs mask 0 (there is no ignore index)`,
      );
    }
  }
}

/** The dropout seed of one row: a function of the step's seed and the row's place in the whole batch. */
export function rowSeed(stepSeed: number, row: number): number {
  return hashString(`${stepSeed}:${row}`);
}

/**
 * Logits [rows, length, vocab] in one forward. In training every row gets its
 * own dropout seed from its global index, so one thread and any split of the
 * rows over workers draw the same masks.
 */
function batchLogits(model: Decoder, batch: LmBatch, context: ObjectiveContext): tf.Tensor3D {
  const { rows, length } = batch;
  const ids = tf.tensor2d(batch.inputs, [rows, length], 'int32');
  const seed = context.dropoutSeed;
  const gradientCheckpointing = context.gradientCheckpointing;
  if (seed === undefined) return forward(model, ids, { gradientCheckpointing }).logits;
  const firstRow = context.firstRow ?? 0;
  const dropoutRowSeeds = Array.from({ length: rows }, (_, r) => rowSeed(seed, firstRow + r));
  return forward(model, ids, { dropoutRowSeeds, gradientCheckpointing }).logits;
}

export const lmObjective: Objective<LmBatch> = {
  name: 'lm',
  perplexity: true,
  split: (batch, parts) => splitByRows(batch.rows, parts, (from, to) => sliceRows(batch, from, to)),
  rows: (batch) => batch.rows,
  validate: (batch, model) => checkLmBatch(batch, model.config.vocab_size),
  loss(model: Decoder, batch: LmBatch, context: ObjectiveContext): ObjectiveOutput {
    checkLmBatch(batch, model.config.vocab_size, context.firstRow);
    const { rows, length } = batch;
    const n = rows * length;
    let count = n;
    if (batch.mask) {
      count = 0;
      for (let i = 0; i < n; i++) count += batch.mask[i];
    }
    const logits = batchLogits(model, batch, context);
    const targets = tf.tensor1d(batch.targets, 'int32');
    const weights = batch.mask ? tf.tensor1d(batch.mask, 'float32') : undefined;
    const lossSum = tokenCrossEntropySum(tf.reshape(logits, [n, model.config.vocab_size]), targets, weights);
    return { lossSum, count };
  },
};
