// The offline preference losses, each a pure function of sequence
// log-probabilities (summed over reply tokens) of the policy and the frozen
// reference, by the names Hugging Face TRL's DPOTrainer gives them
// (`loss_type`), several combinable with weights as TRL's MPO recipe does.
// Every loss is the mean over pairs; the paper each comes from is cited above
// its case. Notation: h = log π(y_c) - log π_ref(y_c) - (log π(y_r) - log π_ref(y_r)),
// the difference of the chosen and rejected log-ratios.
import * as tf from '@tensorflow/tfjs';

export const DPO_LOSS_TYPES = [
  'sigmoid', 'hinge', 'ipo', 'exo_pair', 'nca_pair', 'robust', 'bco_pair', 'sppo_hard',
  'aot', 'aot_unpaired', 'apo_zero', 'apo_down', 'discopop', 'sft', 'sigmoid_norm',
] as const;
export type DpoLossType = (typeof DPO_LOSS_TYPES)[number];
const SMOOTHED = ['robust', 'exo_pair', 'aot', 'aot_unpaired'] as const;

/** Per-pair inputs, each [pairs]. Log-probabilities are sums over the reply's tokens (prompt and padding excluded). */
export interface PreferenceLogps {
  policyChosen: tf.Tensor1D;
  policyRejected: tf.Tensor1D;
  refChosen: tf.Tensor1D;
  refRejected: tf.Tensor1D;
  /** Reply tokens per pair; needed by `ipo`, `sigmoid_norm` and `sft` (which average per token). */
  chosenTokens?: tf.Tensor1D;
  rejectedTokens?: tf.Tensor1D;
}

export interface DpoLossOptions {
  /** One loss or several, summed with `lossWeights` (default: sigmoid). */
  lossType?: DpoLossType | DpoLossType[];
  /** A weight per loss type (default 1 each). */
  lossWeights?: number[];
  /** β: the strength of the pull toward the reference (TRL default 0.1). */
  beta?: number;
  /** ε: the assumed share of flipped labels, used by `robust`, `exo_pair`, `aot` and `aot_unpaired` only; default 0. */
  labelSmoothing?: number;
  /** τ of `discopop` (TRL default 0.05). */
  discopopTau?: number;
}

export interface DpoLossResult {
  loss: tf.Scalar;
  /** β · log-ratio per pair: what TRL logs as rewards/chosen and rewards/rejected (means). */
  chosenRewards: tf.Tensor1D;
  rejectedRewards: tf.Tensor1D;
}

/** log σ(x), finite for any x (−softplus(−x)). */
const logSigmoid = (x: tf.Tensor): tf.Tensor => tf.neg(tf.softplus(tf.neg(x)));

/** x gathered in increasing order; the order is read on the host, so gradients flow through the gather. */
function sortedAscending(x: tf.Tensor): tf.Tensor {
  const values = x.dataSync();
  const order = Array.from(values.keys()).sort((a, b) => values[a] - values[b]);
  return tf.gather(x, tf.tensor1d(order, 'int32'));
}

function needTokens(logps: PreferenceLogps, type: DpoLossType): { chosen: tf.Tensor1D; rejected: tf.Tensor1D } {
  if (!logps.chosenTokens || !logps.rejectedTokens) throw new Error(`dpoLoss: loss type "${type}" averages per token and needs chosenTokens and rejectedTokens`);
  return { chosen: logps.chosenTokens, rejected: logps.rejectedTokens };
}

/** Per-pair losses [pairs] of one loss type (for `sft`, the batch's per-token NLL repeated per pair). */
function perPairLoss(type: DpoLossType, logps: PreferenceLogps, beta: number, eps: number, tau: number): tf.Tensor {
  const chosenRatio = tf.sub(logps.policyChosen, logps.refChosen);
  const rejectedRatio = tf.sub(logps.policyRejected, logps.refRejected);
  const h = tf.sub(chosenRatio, rejectedRatio);
  const bh = tf.mul(beta, h);
  switch (type) {
    // DPO, Rafailov et al. 2023, "Direct Preference Optimization" (arXiv:2305.18290), eq. 7.
    case 'sigmoid':
      return tf.neg(logSigmoid(bh));
    // SLiC-HF, Zhao et al. 2023 (arXiv:2305.10425): the hinge on the calibrated margin, 1 as the margin.
    case 'hinge':
      return tf.relu(tf.sub(1, bh));
    // IPO, Azar et al. 2023, "A General Theoretical Paradigm..." (arXiv:2310.12036), eq. 17: (h - 1/(2β))²,
    // with the log-ratios averaged per reply token as TRL does (its authors' normalised form).
    case 'ipo': {
      const n = needTokens(logps, type);
      const hMean = tf.sub(tf.div(chosenRatio, tf.maximum(n.chosen, 1)), tf.div(rejectedRatio, tf.maximum(n.rejected, 1)));
      return tf.square(tf.sub(hMean, 1 / (2 * beta)));
    }
    // EXO, Ji et al. 2024, "Towards Efficient Exact Optimization of LM Alignment" (arXiv:2402.00856), eq. 16 with two
    // replies: KL(q || p) between q = softmax over the pair of β·log-ratios and the labels p = (1 - ε, ε).
    case 'exo_pair': {
      if (!(eps > 0 && eps < 1)) throw new Error(`dpoLoss: exo_pair needs 0 < labelSmoothing < 1 (its target distribution), got ${eps}`);
      const q = tf.sigmoid(bh);
      const qRejected = tf.sigmoid(tf.neg(bh));
      return tf.add(tf.mul(q, tf.sub(logSigmoid(bh), Math.log1p(-eps))), tf.mul(qRejected, tf.sub(logSigmoid(tf.neg(bh)), Math.log(eps))));
    }
    // NCA, Chen et al. 2024, "Noise Contrastive Alignment" (arXiv:2402.05369), pairwise form: raises the chosen
    // reward absolutely, not only relative to the rejected one.
    case 'nca_pair': {
      const rc = tf.mul(beta, chosenRatio);
      const rr = tf.mul(beta, rejectedRatio);
      return tf.sub(tf.sub(tf.neg(logSigmoid(rc)), tf.mul(0.5, logSigmoid(tf.neg(rc)))), tf.mul(0.5, logSigmoid(tf.neg(rr))));
    }
    // Robust DPO, Chowdhury et al. 2024, "Provably Robust DPO" (arXiv:2403.00409), eq. 9: unbiased under a share ε of
    // flipped labels.
    case 'robust': {
      if (!(eps < 0.5)) throw new Error(`dpoLoss: robust needs labelSmoothing < 0.5, got ${eps}`);
      return tf.div(tf.add(tf.mul(-(1 - eps), logSigmoid(bh)), tf.mul(eps, logSigmoid(tf.neg(bh)))), 1 - 2 * eps);
    }
    // BCO, Jung et al. 2024, "Binary Classifier Optimization" (arXiv:2404.04656), on pairs and without its reward shift:
    // chosen classified as good, rejected as bad, each by its own β·log-ratio.
    case 'bco_pair':
      return tf.sub(tf.neg(logSigmoid(tf.mul(beta, chosenRatio))), logSigmoid(tf.neg(tf.mul(beta, rejectedRatio))));
    // SPPO, Wu et al. 2024, "Self-Play Preference Optimization" (arXiv:2405.00675), eq. 4.7 with hard win
    // probabilities (1 for chosen, 0 for rejected): log-ratios regressed to ±1/(2β).
    case 'sppo_hard':
      return tf.add(tf.square(tf.sub(chosenRatio, 0.5 / beta)), tf.square(tf.add(rejectedRatio, 0.5 / beta)));
    // AOT, Melnyk et al. 2024, "Distributional Preference Alignment of LLMs via Optimal Transport" (arXiv:2406.05882):
    // the batch's sorted policy margins (log π(y_c) - log π(y_r)) against the sorted reference margins.
    case 'aot': {
      const delta = tf.sub(sortedAscending(tf.sub(logps.policyChosen, logps.policyRejected)), sortedAscending(tf.sub(logps.refChosen, logps.refRejected)));
      const bd = tf.mul(beta, delta);
      return tf.sub(tf.mul(-(1 - eps), logSigmoid(bd)), tf.mul(eps, logSigmoid(tf.neg(bd))));
    }
    // AOT, unpaired form (same paper): sorted chosen log-ratios against sorted rejected log-ratios.
    case 'aot_unpaired': {
      const bd = tf.mul(beta, tf.sub(sortedAscending(chosenRatio), sortedAscending(rejectedRatio)));
      return tf.sub(tf.mul(-(1 - eps), logSigmoid(bd)), tf.mul(eps, logSigmoid(tf.neg(bd))));
    }
    // APO-zero, D'Oosterlinck et al. 2024, "Anchored Preference Optimization" (arXiv:2408.06266), eq. 7: chosen up,
    // rejected down, each anchored to the reference (for chosen replies better than the model's own).
    case 'apo_zero':
      return tf.add(tf.sub(1, tf.sigmoid(tf.mul(beta, chosenRatio))), tf.sigmoid(tf.mul(beta, rejectedRatio)));
    // APO-down, same paper, eq. 8: both down, rejected more (for chosen replies worse than the model's own).
    case 'apo_down':
      return tf.add(tf.sigmoid(tf.mul(beta, chosenRatio)), tf.sub(1, tf.sigmoid(bh)));
    // DiscoPOP, Lu et al. 2024, "Discovering Preference Optimization Algorithms with and for LLMs" (arXiv:2406.08414),
    // eq. 5: a blend of the logistic and exponential losses, mixed by σ(βh/τ).
    case 'discopop': {
      const mix = tf.sigmoid(tf.div(bh, tau));
      return tf.add(tf.mul(tf.sub(1, mix), tf.neg(logSigmoid(bh))), tf.mul(mix, tf.exp(tf.neg(bh))));
    }
    // The SFT term of TRL's MPO mix (Wang et al. 2024, "Enhancing the Reasoning Ability of MLLMs via Mixed Preference
    // Optimization", arXiv:2411.10442): the chosen replies' negative log-likelihood per token over the batch.
    case 'sft': {
      const n = needTokens(logps, type);
      const nll = tf.div(tf.neg(tf.sum(logps.policyChosen)), tf.maximum(tf.sum(n.chosen), 1));
      return tf.mul(nll, tf.onesLike(logps.policyChosen));
    }
    // DPO on per-token mean log-ratios (length-normalised, as in the SimPO paper's analysis, Meng et al. 2024,
    // arXiv:2405.14734, but keeping the reference).
    case 'sigmoid_norm': {
      const n = needTokens(logps, type);
      const hMean = tf.sub(tf.div(chosenRatio, tf.maximum(n.chosen, 1)), tf.div(rejectedRatio, tf.maximum(n.rejected, 1)));
      return tf.neg(logSigmoid(tf.mul(beta, hMean)));
    }
  }
}

/** Checks and fills the options: loss types known, weights matching, β positive. */
export function dpoLossSettings(options: DpoLossOptions = {}): { types: DpoLossType[]; weights: number[]; beta: number; eps: number; tau: number } {
  const types = options.lossType === undefined ? ['sigmoid' as const] : Array.isArray(options.lossType) ? options.lossType : [options.lossType];
  if (types.length === 0) throw new Error('dpoLoss: lossType is an empty list; give at least one loss type');
  for (const t of types) {
    if (!(DPO_LOSS_TYPES as readonly string[]).includes(t)) throw new Error(`dpoLoss: unknown loss type "${t}"; known: ${DPO_LOSS_TYPES.join(', ')}`);
  }
  const weights = options.lossWeights ?? types.map(() => 1);
  if (weights.length !== types.length) throw new Error(`dpoLoss: ${weights.length} lossWeights for ${types.length} loss types (${types.join(', ')})`);
  const beta = options.beta ?? 0.1;
  if (!(beta > 0)) throw new Error(`dpoLoss: beta must be > 0, got ${beta} (beta 0 gives every pair a loss of ln 2 and no gradient)`);
  const eps = options.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) throw new Error(`dpoLoss: labelSmoothing must be in [0, 1), got ${eps}`);
  if (eps > 0 && !types.some((t) => (SMOOTHED as readonly string[]).includes(t))) {
    throw new Error(`dpoLoss: labelSmoothing ${eps} has no effect on ${types.join(', ')}; only ${SMOOTHED.join(', ')} use it`);
  }
  const tau = options.discopopTau ?? 0.05;
  if (!(tau > 0)) throw new Error(`dpoLoss: discopopTau must be > 0, got ${tau}`);
  return { types, weights, beta, eps, tau };
}

/** The weighted sum over loss types of each type's mean over pairs, and the implicit rewards β · log-ratio. */
export function dpoLoss(logps: PreferenceLogps, options: DpoLossOptions = {}): DpoLossResult {
  const { types, weights, beta, eps, tau } = dpoLossSettings(options);
  const n = logps.policyChosen.shape[0];
  for (const [name, t] of Object.entries(logps) as [string, tf.Tensor1D | undefined][]) {
    if (t && (t.rank !== 1 || t.shape[0] !== n)) throw new Error(`dpoLoss: ${name} has shape [${t.shape}], expected [${n}] (one value per pair)`);
  }
  return tf.tidy(() => {
    let loss: tf.Tensor = tf.scalar(0);
    types.forEach((type, k) => { loss = tf.add(loss, tf.mul(weights[k], tf.mean(perPairLoss(type, logps, beta, eps, tau)))); });
    return {
      loss: loss as tf.Scalar,
      chosenRewards: tf.mul(beta, tf.sub(logps.policyChosen, logps.refChosen)) as tf.Tensor1D,
      rejectedRewards: tf.mul(beta, tf.sub(logps.policyRejected, logps.refRejected)) as tf.Tensor1D,
    };
  });
}
