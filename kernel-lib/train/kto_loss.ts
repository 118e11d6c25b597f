// KTO, Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic
// Optimization" (arXiv:2402.01306), eq. 8, in the form of TRL's KTOTrainer
// (loss_type "kto"): single replies labelled desirable or undesirable, no
// pairs. Each reply's implicit reward r = log π(y|x) - log π_ref(y|x) is
// compared with a reference point z0, an estimate of KL(π || π_ref) from
// replies matched to other prompts, clamped at 0 and held constant:
//   desirable:   λ_D · (1 - σ(β(r - z0)))
//   undesirable: λ_U · (1 - σ(β(z0 - r)))
// and the loss is the mean over all replies.
import * as tf from '@tensorflow/tfjs';

export interface KtoInputs {
  /** Summed log-probabilities of each reply's tokens under the policy and the reference [replies]. */
  policy: tf.Tensor1D;
  reference: tf.Tensor1D;
  /** 1 for a desirable reply, 0 for an undesirable one [replies]. */
  desirable: tf.Tensor1D;
  /**
   * The KL estimate's inputs: log-probabilities of replies paired with other
   * prompts (TRL shifts the batch's completions by one), policy and reference.
   * Left out, z0 is 0 (TRL's calculate_KL false).
   */
  klPolicy?: tf.Tensor1D;
  klReference?: tf.Tensor1D;
}

export interface KtoOptions {
  /** β (TRL default 0.1). */
  beta?: number;
  /** λ_D, the weight of desirable replies (default 1). */
  desirableWeight?: number;
  /** λ_U, the weight of undesirable replies (default 1). */
  undesirableWeight?: number;
}

export interface KtoResult {
  loss: tf.Scalar;
  /** β · r per reply. */
  rewards: tf.Tensor1D;
  /** The reference point z0 used. */
  kl: tf.Scalar;
}

/** The options with their defaults, or an error naming the bad one (no tensor is made: objectives check at construction). */
export function checkKtoOptions(options: KtoOptions): { beta: number; wD: number; wU: number } {
  const beta = options.beta ?? 0.1;
  const wD = options.desirableWeight ?? 1;
  const wU = options.undesirableWeight ?? 1;
  if (!(beta > 0)) throw new Error(`ktoLoss: beta must be > 0, got ${beta}`);
  if (!(wD >= 0 && wU >= 0)) throw new Error(`ktoLoss: desirableWeight and undesirableWeight must be >= 0, got ${wD} and ${wU}`);
  return { beta, wD, wU };
}

export function ktoLoss(inputs: KtoInputs, options: KtoOptions = {}): KtoResult {
  const { beta, wD, wU } = checkKtoOptions(options);
  const n = inputs.policy.shape[0];
  for (const [name, t] of Object.entries(inputs) as [string, tf.Tensor1D | undefined][]) {
    if (t && (t.rank !== 1 || (t.shape[0] !== n && !name.startsWith('kl')))) throw new Error(`ktoLoss: ${name} has shape [${t.shape}], expected [${n}] (one value per reply)`);
  }
  if ((inputs.klPolicy === undefined) !== (inputs.klReference === undefined)) throw new Error('ktoLoss: give both klPolicy and klReference, or neither');
  const labels = inputs.desirable.dataSync();
  if (labels.some((v) => v !== 0 && v !== 1)) throw new Error('ktoLoss: desirable must hold 1 (desirable) or 0 (undesirable) per reply');
  return tf.tidy(() => {
    const kl = (inputs.klPolicy && inputs.klReference
      ? tf.maximum(tf.mean(tf.sub(inputs.klPolicy, inputs.klReference)), 0)
      : tf.scalar(0)) as tf.Scalar;
    // Held constant, as TRL computes it without gradients: a fresh scalar from its value.
    const z0 = tf.scalar(kl.dataSync()[0]);
    const r = tf.sub(inputs.policy, inputs.reference);
    const desirableLoss = tf.mul(wD, tf.sub(1, tf.sigmoid(tf.mul(beta, tf.sub(r, z0)))));
    const undesirableLoss = tf.mul(wU, tf.sub(1, tf.sigmoid(tf.mul(beta, tf.sub(z0, r)))));
    const perReply = tf.add(tf.mul(inputs.desirable, desirableLoss), tf.mul(tf.sub(1, inputs.desirable), undesirableLoss));
    return { loss: tf.mean(perReply) as tf.Scalar, rewards: tf.mul(beta, r) as tf.Tensor1D, kl };
  });
}
