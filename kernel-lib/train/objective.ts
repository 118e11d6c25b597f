// An objective turns a batch into a summed loss and the number of units it
// is averaged over (tokens for language modelling, pairs for preferences).
// The loop differentiates the sum and divides by the total count over all
// micro-batches and workers, so accumulation and data parallelism give the
// same gradient as one large batch.
import type * as tf from '@tensorflow/tfjs';
import type { Decoder, GradientCheckpointing } from '../model/decoder';

export interface ObjectiveContext {
  /** Training mode (dropout on), seeded per step for repeatability. */
  dropoutSeed?: number;
  /**
   * Index of the batch's first row in the whole batch before it was split
   * over workers (default 0). Dropout masks are drawn per (dropoutSeed,
   * global row), so a row gets the same mask whichever worker computes it.
   */
  firstRow?: number;
  /**
   * Recompute each decoder layer's forward in the backward pass instead of
   * keeping its activations (TrainConfig.gradientCheckpointing); objectives
   * pass it to the model's forward as ForwardOptions.gradientCheckpointing.
   */
  gradientCheckpointing?: GradientCheckpointing;
}

export interface ObjectiveOutput {
  /** Loss summed over the batch's units. */
  lossSum: tf.Scalar;
  /** How many units lossSum adds up (> 0). */
  count: number;
  /**
   * Extra metrics of the batch. By default each is a sum over the units,
   * logged as its mean (divided by the step's total count); the objective's
   * metricReduce names the ones combined otherwise.
   */
  metrics?: Record<string, tf.Scalar>;
}

/**
 * How the loop combines a metric over the micro-batches and workers of a step:
 * - 'mean' (default): the objective returns a sum over its units; the step
 *   logs the sum of all parts divided by the step's count;
 * - 'min' / 'max': the objective returns its part's extreme; the step logs
 *   the extreme over all parts (a mean of per-part minima is not a minimum);
 * - 'total': the objective returns a sum; the step logs the running sum over
 *   the run so far (TRL's num_tokens), counted from the step a run starts or resumes at.
 */
export type MetricReduce = 'mean' | 'min' | 'max' | 'total';

export interface Objective<Batch> {
  name: string;
  /** Splits a batch into `parts` row groups for data-parallel workers. */
  split(batch: Batch, parts: number): Batch[];
  loss(model: Decoder, batch: Batch, context: ObjectiveContext): ObjectiveOutput;
  /** Metrics not combined as a mean, by name (see MetricReduce). */
  metricReduce?: Record<string, MetricReduce>;
  /**
   * The loss is a mean next-token cross-entropy over tokens, so exp(loss) is a
   * perplexity (evaluate reports eval_perplexity); not so for a loss over pairs.
   */
  perplexity?: boolean;
  /**
   * Tokens a batch feeds the model, for the step's `tokens` and `tokens_per_s`
   * when the count is not tokens (the reward objective counts pairs); without
   * it the count is taken.
   */
  tokens?(batch: Batch): number;
  /** Rows in a batch (gives each split part its firstRow); without it every part starts at row 0. */
  rows?(batch: Batch): number;
  /**
   * Throws, naming the row, position and value, when the batch cannot be fed
   * to `model` (e.g. a token id outside the vocabulary). The loop calls it on
   * every batch before splitting, and evaluate on every eval batch.
   */
  validate?(batch: Batch, model: Decoder): void;
}

/**
 * Splits `rows` rows into at most `parts` contiguous groups of near-equal size
 * (empty groups left out) and slices each with `slice(from, to)`: the split
 * every objective uses for data-parallel workers.
 */
export function splitByRows<Batch>(rows: number, parts: number, slice: (from: number, to: number) => Batch): Batch[] {
  const out: Batch[] = [];
  for (let p = 0; p < parts; p++) {
    const from = Math.floor((p * rows) / parts);
    const to = Math.floor(((p + 1) * rows) / parts);
    if (to > from) out.push(slice(from, to));
  }
  return out;
}
