// SimPO, Meng et al. 2024, "SimPO: Simple Preference Optimization with a
// Reference-Free Reward" (arXiv:2405.14734), eq. 6: the implicit reward is the
// policy's mean log-probability per reply token times β, no reference model,
// and the chosen reward must beat the rejected one by a target margin γ:
//   loss = -log σ(β·logπ(y_c)/|y_c| - β·logπ(y_r)/|y_r| - γ).
// TRL runs it as CPOTrainer's loss_type "simpo" (simpo_gamma; cpo_alpha 0).
import * as tf from '@tensorflow/tfjs';

export interface SimpoInputs {
  /** Summed log-probabilities of the reply tokens [pairs]. */
  policyChosen: tf.Tensor1D;
  policyRejected: tf.Tensor1D;
  /** Reply tokens per pair [pairs]. */
  chosenTokens: tf.Tensor1D;
  rejectedTokens: tf.Tensor1D;
}

export interface SimpoOptions {
  /** β, the reward scale (the paper's range 2.0 to 2.5; default 2). */
  beta?: number;
  /** γ, the target reward margin (default 1, the paper's γ/β = 0.5 at β = 2). */
  gamma?: number;
}

export interface SimpoResult {
  loss: tf.Scalar;
  /** β · mean log-probability per token, per pair. */
  chosenRewards: tf.Tensor1D;
  rejectedRewards: tf.Tensor1D;
}

/** The options with their defaults, or an error naming the bad one (no tensor is made: objectives check at construction). */
export function checkSimpoOptions(options: SimpoOptions): { beta: number; gamma: number } {
  const beta = options.beta ?? 2;
  const gamma = options.gamma ?? 1;
  if (!(beta > 0)) throw new Error(`simpoLoss: beta must be > 0, got ${beta}`);
  if (!Number.isFinite(gamma)) throw new Error(`simpoLoss: gamma must be a finite number, got ${gamma}`);
  return { beta, gamma };
}

export function simpoLoss(inputs: SimpoInputs, options: SimpoOptions = {}): SimpoResult {
  const { beta, gamma } = checkSimpoOptions(options);
  const n = inputs.policyChosen.shape[0];
  for (const [name, t] of Object.entries(inputs) as [string, tf.Tensor1D][]) {
    if (t.rank !== 1 || t.shape[0] !== n) throw new Error(`simpoLoss: ${name} has shape [${t.shape}], expected [${n}] (one value per pair)`);
  }
  return tf.tidy(() => {
    const chosenRewards = tf.mul(beta, tf.div(inputs.policyChosen, tf.maximum(inputs.chosenTokens, 1))) as tf.Tensor1D;
    const rejectedRewards = tf.mul(beta, tf.div(inputs.policyRejected, tf.maximum(inputs.rejectedTokens, 1))) as tf.Tensor1D;
    // -log σ(x) = softplus(-x), finite for any x.
    const loss = tf.mean(tf.softplus(tf.neg(tf.sub(tf.sub(chosenRewards, rejectedRewards), gamma)))) as tf.Scalar;
    return { loss, chosenRewards, rejectedRewards };
  });
}
