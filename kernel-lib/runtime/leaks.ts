// Tensors made in a step must be freed by the end of it. This runs a step
// several times and fails when tf.memory().numTensors keeps growing.
import * as tf from '@tensorflow/tfjs';

export interface LeakCheckOptions {
  /** Steps run before the count is taken (first calls may create lasting state, e.g. optimizer slots). */
  warmup?: number;
  /** Steps compared against the count after warm-up. */
  steps?: number;
  /** Names the step in the error. */
  label?: string;
}

export interface LeakCheckResult {
  before: number;
  after: number[];
}

/**
 * Runs `step` warmup + steps times; throws if the live tensor count after any
 * measured step differs from the count after warm-up.
 */
export async function checkTensorLeaks(
  step: (i: number) => unknown | Promise<unknown>,
  options: LeakCheckOptions = {},
): Promise<LeakCheckResult> {
  const { warmup = 1, steps = 3, label = 'step' } = options;
  let i = 0;
  for (; i < warmup; i++) await step(i);
  const before = tf.memory().numTensors;
  const after: number[] = [];
  for (let k = 0; k < steps; k++, i++) {
    await step(i);
    after.push(tf.memory().numTensors);
  }
  const grew = after.some((n) => n !== before);
  if (grew) {
    const perStep = (after[after.length - 1] - before) / steps;
    throw new Error(
      `tensor leak in ${label}: ${before} tensors alive after warm-up, then ${after.join(', ')} after each of ${steps} steps (${perStep >= 0 ? '+' : ''}${perStep.toFixed(1)} per step)`,
    );
  }
  return { before, after };
}
