// An objective turns a batch into a summed loss and the number of units it
// is averaged over (tokens for language modelling, pairs for preferences).
// The loop differentiates the sum and divides by the total count over all
// micro-batches and workers, so accumulation and data parallelism give the
// same gradient as one large batch.
import type * as tf from '@tensorflow/tfjs';
import type { Decoder } from '../model/decoder';

export interface ObjectiveContext {
  /** Training mode (dropout on), seeded per step for repeatability. */
  dropoutSeed?: number;
  /**
   * Index of the batch's first row in the whole batch before it was split
   * over workers (default 0). Dropout masks are drawn per (dropoutSeed,
   * global row), so a row gets the same mask whichever worker computes it.
   */
  firstRow?: number;
}

export interface ObjectiveOutput {
  /** Loss summed over the batch's units. */
  lossSum: tf.Scalar;
  /** How many units lossSum adds up (> 0). */
  count: number;
  /** Extra summed metrics (same normaliser), logged as their mean. */
  metrics?: Record<string, tf.Scalar>;
}

export interface Objective<Batch> {
  name: string;
  /** Splits a batch into `parts` row groups for data-parallel workers. */
  split(batch: Batch, parts: number): Batch[];
  loss(model: Decoder, batch: Batch, context: ObjectiveContext): ObjectiveOutput;
  /** Rows in a batch (gives each split part its firstRow); without it every part starts at row 0. */
  rows?(batch: Batch): number;
  /**
   * Throws, naming the row, position and value, when the batch cannot be fed
   * to `model` (e.g. a token id outside the vocabulary). The loop calls it on
   * every batch before splitting, and evaluate on every eval batch.
   */
  validate?(batch: Batch, model: Decoder): void;
}
