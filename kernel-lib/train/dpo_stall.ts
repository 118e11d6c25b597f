// A DPO run that does not move: every step's loss ln 2 and every implicit
// reward 0 means the policy still equals its reference. The loss settings
// (beta 0), the batches (a reply with no tokens) and the learning rate (0) are
// refused before the first step; what is left shows only while training, so this callback
// watches the first steps and stops the run with the likely causes.
import type { StepRecord, TrainCallback } from './callbacks';

export interface DpoStallOptions {
  /** Steps watched before judging (default 5). */
  steps?: number;
  /** How close to ln 2 and to 0 counts as "not moving" (default 1e-6). */
  tolerance?: number;
}

export class DpoStallError extends Error {}

/** Throws DpoStallError after `steps` steps in which the loss stayed at ln 2 and rewards at 0. */
export function dpoStallCheck(options: DpoStallOptions = {}): TrainCallback {
  const watch = options.steps ?? 5;
  const tol = options.tolerance ?? 1e-6;
  const seen: StepRecord[] = [];
  return {
    onStep(r) {
      if (seen.length >= watch) return;
      seen.push(r);
      if (seen.length < watch) return;
      const still = seen.every((s) => Math.abs(s.loss - Math.LN2) <= tol && Math.abs(s['rewards/chosen'] ?? 0) <= tol && Math.abs(s['rewards/rejected'] ?? 0) <= tol);
      if (!still) return;
      const causes: string[] = [];
      if (seen.every((s) => s.grad_norm === 0)) causes.push('the gradient is 0: nothing trainable reaches the loss (frozen weights, or LoRA targets that the reply does not pass through)');
      if (causes.length === 0) causes.push('the updates do not change the reply log-probabilities (a learning rate too small to register, or reference log-probabilities recomputed from the moving policy)');
      throw new DpoStallError(`dpo: ${watch} steps with loss ln 2 (${seen.at(-1)!.loss.toFixed(6)}) and zero rewards: the policy has not moved from its reference; ${causes.join('; ')}`);
    },
  };
}
