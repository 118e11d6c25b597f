// PPO's parts for RLHF (Ouyang et al. 2022, "InstructGPT", arXiv:2203.02155,
// after Ziegler et al. 2019, arXiv:1909.08593), as TRL's experimental
// PPOTrainer defines them: every reply token is an action; its reward is the
// KL penalty -kl_coef · (log π_old - log π_ref), and the last token also gets
// the sequence's score; a value head gives a baseline per token, GAE turns
// rewards and values into advantages (whitened over the batch's tokens), and
// the value head is trained toward the returns with a clipped squared error.
// Here the value head is a scalar head on the policy's own final hidden
// states (a shared trunk, as TRL's earlier AutoModelForCausalLMWithValueHead
// had it), so the one model the loop trains carries both.
import * as tf from '@tensorflow/tfjs';
import { gae } from './advantages';
import type { ReplyRows } from './reply_logps';

export interface PpoOptions {
  /** KL coefficient in the per-token reward (TRL's kl_coef; default 0.05). */
  klCoef?: number;
  /** Discount (default 1) and GAE's λ (default 0.95), TRL's gamma and lam. */
  gamma?: number;
  lambda?: number;
}

export interface PpoTargets {
  /** Whitened GAE advantages per token [rows * length], 0 off the reply. */
  advantages: Float32Array;
  /** Returns (raw advantages + values) per token, the value head's targets. */
  returns: Float32Array;
  /** TRL's objective/ figures of the rollout. */
  stats: Record<string, number>;
}

/** Columns of row r that predict a reply token (replyTokenLogps' layout). */
function replyColumns(rows: ReplyRows, r: number): [number, number] {
  return [rows.promptLengths[r] - 1, rows.lengths[r] - 1];
}

/**
 * Per-token rewards, GAE advantages (whitened) and returns for a rollout,
 * from the sampling policy's and the reference's token log-probabilities,
 * the values at sampling time, and one score per reply.
 */
export function ppoTargets(rows: ReplyRows, oldLogps: Float32Array, refLogps: Float32Array, values: Float32Array, scores: number[], options: PpoOptions = {}): PpoTargets {
  const { rows: R, length: L } = rows;
  const klCoef = options.klCoef ?? 0.05;
  if (scores.length !== R) throw new Error(`ppoTargets: ${scores.length} scores for ${R} rows`);
  const advantages = new Float32Array(R * L);
  const returns = new Float32Array(R * L);
  const klSums: number[] = [];
  for (let r = 0; r < R; r++) {
    const [from, to] = replyColumns(rows, r);
    const rewards: number[] = [];
    let klSum = 0;
    for (let c = from; c < to; c++) {
      const kl = oldLogps[r * L + c] - refLogps[r * L + c];
      klSum += kl;
      rewards.push(-klCoef * kl);
    }
    rewards[rewards.length - 1] += scores[r];
    klSums.push(klSum);
    const g = gae(rewards, Array.from(values.subarray(r * L + from, r * L + to)), options.gamma ?? 1, options.lambda ?? 0.95);
    advantages.set(g.advantages, r * L + from);
    returns.set(g.returns, r * L + from);
  }
  // Whiten over all reply tokens of the batch (TRL's masked_whiten).
  let n = 0, sum = 0, sq = 0;
  for (let r = 0; r < R; r++) {
    const [from, to] = replyColumns(rows, r);
    for (let c = from; c < to; c++) { n++; sum += advantages[r * L + c]; }
  }
  const mean = sum / n;
  for (let r = 0; r < R; r++) {
    const [from, to] = replyColumns(rows, r);
    for (let c = from; c < to; c++) sq += (advantages[r * L + c] - mean) ** 2;
  }
  const std = Math.sqrt(sq / Math.max(n - 1, 1));
  for (let r = 0; r < R; r++) {
    const [from, to] = replyColumns(rows, r);
    for (let c = from; c < to; c++) advantages[r * L + c] = (advantages[r * L + c] - mean) / (std + 1e-8);
  }
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const kl = avg(klSums);
  return {
    advantages,
    returns,
    stats: {
      'objective/kl': kl,
      'objective/scores': avg(scores),
      'objective/non_score_reward': -klCoef * kl,
      'objective/rlhf_reward': avg(scores) - klCoef * kl,
    },
  };
}

/**
 * The value head's loss summed over reply tokens: 0.5 · max((V - R)², (clip(V, V_old ± ε_v) - R)²),
 * and how many tokens took the clipped branch (TRL's val/clipfrac).
 */
export function valueLoss(values: tf.Tensor2D, oldValues: tf.Tensor2D, returns: tf.Tensor2D, mask: tf.Tensor2D, clipRangeValue = 0.2): { sum: tf.Scalar; clipped: tf.Scalar } {
  return tf.tidy(() => {
    const clippedV = tf.clipByValue(tf.sub(values, oldValues), -clipRangeValue, clipRangeValue).add(oldValues);
    const l1 = tf.square(tf.sub(values, returns));
    const l2 = tf.square(tf.sub(clippedV, returns));
    return {
      sum: tf.sum(tf.mul(tf.mul(0.5, tf.maximum(l1, l2)), mask)) as tf.Scalar,
      clipped: tf.sum(tf.mul(tf.cast(tf.greater(l2, l1), 'float32'), mask)) as tf.Scalar,
    };
  });
}
