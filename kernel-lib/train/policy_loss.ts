// The clipped policy-gradient loss of PPO (Schulman et al. 2017,
// arXiv:1707.06347, eq. 7) on reply tokens, as GRPO uses it, with TRL's
// `loss_type` choices for how token losses are averaged and its optional KL
// penalty to the reference (the k3 estimator, Schulman 2020, "Approximating
// KL divergence"):
//   ratio_t = exp(log π(a_t) - log π_old(a_t)),
//   token loss = -min(ratio_t · A, clip(ratio_t, 1 - ε_low, 1 + ε_high) · A) + β · k3_t,
//   k3_t = exp(log π_ref - log π) - (log π_ref - log π) - 1.
import * as tf from '@tensorflow/tfjs';

export type PolicyLossType = 'grpo' | 'dr_grpo' | 'dapo' | 'bnpo';

export interface PolicyLossInputs {
  /** log π of each reply token under the policy being trained [rows, T] (differentiable). */
  logps: tf.Tensor2D;
  /** log π_old when the replies were sampled [rows, T]; the policy's own values (ratio 1) when left out. */
  oldLogps?: tf.Tensor2D;
  /** log π_ref [rows, T], needed when beta > 0. */
  refLogps?: tf.Tensor2D;
  /** One advantage per row [rows] (GRPO, RLOO), or per token [rows, T] (PPO with GAE). */
  advantages: tf.Tensor1D | tf.Tensor2D;
  /** 1 on reply tokens, 0 on padding [rows, T]. */
  mask: tf.Tensor2D;
}

export interface PolicyLossOptions {
  /**
   * How token losses become one number (TRL's loss_type): 'grpo' averages
   * each reply over its tokens, then over replies; 'bnpo' averages over all
   * tokens of the batch; 'dapo' (TRL's default) divides the batch's sum by
   * `tokensInBatch`, the tokens of the whole generation batch across
   * micro-batches; 'dr_grpo' divides by rows × `maxCompletionLength`.
   */
  lossType?: PolicyLossType;
  /** ε_low (default 0.2). */
  epsilon?: number;
  /** ε_high (default ε_low; DAPO raises it, e.g. 0.28). */
  epsilonHigh?: number;
  /** Weight of the KL penalty (default 0: TRL's default, no reference needed). */
  beta?: number;
  /** For 'dr_grpo': the completion budget (max_completion_length). */
  maxCompletionLength?: number;
  /** For 'dapo': the reply tokens of the whole generation batch (default: this batch's). */
  tokensInBatch?: number;
}

export interface PolicyLossResult {
  loss: tf.Scalar;
  /** The clipped surrogate alone, averaged as `loss` is (loss = pgLoss + beta · the KL averaged the same way): TRL's policy_loss. */
  pgLoss: tf.Scalar;
  /** Shares of reply tokens clipped below (ratio < 1 - ε with A < 0), above (ratio > 1 + ε_high with A > 0), and either. */
  clipLow: tf.Scalar;
  clipHigh: tf.Scalar;
  clipRegion: tf.Scalar;
  /** Mean k3 KL per reply token (0 without a reference). */
  kl: tf.Scalar;
}

/** The options with their defaults, or an error naming the bad one (no tensor is made: objectives check at construction). */
export function checkPolicyLossOptions(options: PolicyLossOptions): { type: PolicyLossType; epsLow: number; epsHigh: number; beta: number } {
  const type = options.lossType ?? 'dapo';
  if (!['grpo', 'dr_grpo', 'dapo', 'bnpo'].includes(type)) throw new Error(`policyLoss: unknown lossType "${type}"; known: grpo, dr_grpo, dapo, bnpo`);
  const epsLow = options.epsilon ?? 0.2;
  const epsHigh = options.epsilonHigh ?? epsLow;
  if (!(epsLow > 0 && epsLow < 1 && epsHigh > 0)) throw new Error(`policyLoss: epsilon must be in (0, 1) and epsilonHigh > 0, got ${epsLow} and ${epsHigh}`);
  if (type === 'dr_grpo' && !(options.maxCompletionLength! > 0)) throw new Error('policyLoss: dr_grpo divides by maxCompletionLength; give it');
  return { type, epsLow, epsHigh, beta: options.beta ?? 0 };
}

export function policyLoss(inputs: PolicyLossInputs, options: PolicyLossOptions = {}): PolicyLossResult {
  const { type, epsLow, epsHigh, beta } = checkPolicyLossOptions(options);
  if (beta > 0 && !inputs.refLogps) throw new Error(`policyLoss: beta ${beta} needs refLogps (the reference's log-probabilities)`);
  const [R, T] = inputs.logps.shape;
  for (const [name, t] of [['oldLogps', inputs.oldLogps], ['refLogps', inputs.refLogps], ['mask', inputs.mask]] as const) {
    if (t && (t.shape[0] !== R || t.shape[1] !== T)) throw new Error(`policyLoss: ${name} has shape [${t.shape}], expected [${R}, ${T}]`);
  }
  return tf.tidy(() => {
    const old = inputs.oldLogps ?? tf.tensor2d(inputs.logps.dataSync(), [R, T]); // a constant copy: ratio 1, gradient of ratio · A
    const adv = inputs.advantages.rank === 1 ? tf.reshape(inputs.advantages, [R, 1]) : inputs.advantages;
    const ratio = tf.exp(tf.sub(inputs.logps, old));
    const clipped = tf.clipByValue(ratio, 1 - epsLow, 1 + epsHigh);
    const pg: tf.Tensor = tf.neg(tf.minimum(tf.mul(ratio, adv), tf.mul(clipped, adv)));
    let kl: tf.Tensor = tf.zerosLike(inputs.logps);
    if (inputs.refLogps) {
      const d = tf.sub(inputs.refLogps, inputs.logps);
      kl = tf.sub(tf.sub(tf.exp(d), d), 1);
    }
    const m = inputs.mask;
    const tokens = tf.maximum(tf.sum(m), 1);
    // Every loss_type is linear in the token losses, so the surrogate and the KL term are averaged apart and added.
    const average = (perToken: tf.Tensor): tf.Scalar => {
      const masked = tf.mul(perToken, m);
      if (type === 'grpo') return tf.mean(tf.div(tf.sum(masked, 1), tf.maximum(tf.sum(m, 1), 1)));
      if (type === 'bnpo') return tf.div(tf.sum(masked), tokens);
      if (type === 'dr_grpo') return tf.div(tf.sum(masked), R * options.maxCompletionLength!);
      return tf.div(tf.sum(masked), options.tokensInBatch === undefined ? tokens : Math.max(1, options.tokensInBatch));
    };
    const pgLoss = average(pg);
    const loss = beta > 0 ? tf.add(pgLoss, tf.mul(beta, average(kl))) : pgLoss;
    const broadcastAdv = tf.mul(adv, tf.onesLike(ratio));
    const low = tf.logicalAnd(tf.less(ratio, 1 - epsLow), tf.less(broadcastAdv, 0));
    const high = tf.logicalAnd(tf.greater(ratio, 1 + epsHigh), tf.greater(broadcastAdv, 0));
    const share = (b: tf.Tensor) => tf.div(tf.sum(tf.mul(tf.cast(b, 'float32'), m)), tokens) as tf.Scalar;
    return {
      loss: loss as tf.Scalar,
      pgLoss,
      clipLow: share(low),
      clipHigh: share(high),
      clipRegion: share(tf.logicalOr(low, high)),
      kl: tf.div(tf.sum(tf.mul(kl, m)), tokens) as tf.Scalar,
    };
  });
}
