// The `reward` objective: a Bradley-Terry reward model on preference pairs,
// with TRL's two options (a per-pair margin, reward centring) and TRL's
// logged names. The chosen and rejected rows go through one forward.
import * as tf from '@tensorflow/tfjs';
import type { Decoder } from '../model/decoder';
import { hasScoreHead, sequenceScores } from '../model/reward_model';
import { SCORE_WEIGHT } from '../model/weights';
import { hashString } from '../runtime/seed';
import type { BpeTokenizer } from '../text/bpe_tokenizer';
import type { ChatMessage, ChatTemplate } from '../text/chat_types';
import { splitByRows, type MetricReduce, type Objective, type ObjectiveContext, type ObjectiveOutput } from './objective';
import { encodeReply, preferenceBatch, preferenceBatchTokens, slicePreferenceBatch, type PreferenceBatch } from './preference_batch';

export interface BradleyTerryOptions {
  /** Per-pair margins [pairs]: the chosen reward must beat the rejected one by this much (TRL's `margin` column). */
  margin?: tf.Tensor1D;
  /** TRL's center_rewards_coefficient: adds coef * mean((r_chosen + r_rejected)^2), pulling rewards toward 0. Default 0. */
  centerRewardsCoefficient?: number;
}

/**
 * The mean over pairs of -log σ(r_chosen - r_rejected - margin), plus
 * coef * mean((r_chosen + r_rejected)^2) (RewardTrainer's loss).
 */
export function bradleyTerryLoss(chosen: tf.Tensor1D, rejected: tf.Tensor1D, options: BradleyTerryOptions = {}): tf.Scalar {
  if (chosen.shape[0] !== rejected.shape[0]) throw new Error(`bradleyTerryLoss: ${chosen.shape[0]} chosen rewards but ${rejected.shape[0]} rejected`);
  if (options.margin && options.margin.shape[0] !== chosen.shape[0]) {
    throw new Error(`bradleyTerryLoss: ${options.margin.shape[0]} margins for ${chosen.shape[0]} pairs`);
  }
  return tf.tidy(() => {
    let diff: tf.Tensor = tf.sub(chosen, rejected);
    if (options.margin) diff = tf.sub(diff, options.margin);
    // -log σ(x) = softplus(-x): finite for any x, where log(sigmoid(x)) underflows to -inf.
    let loss = tf.mean(tf.softplus(tf.neg(diff)));
    const coef = options.centerRewardsCoefficient ?? 0;
    if (coef !== 0) loss = tf.add(loss, tf.mul(coef, tf.mean(tf.square(tf.add(chosen, rejected)))));
    return loss as tf.Scalar;
  });
}

/**
 * The metrics RewardTrainer logs, from the rewards of one batch: sums over
 * pairs (the loop divides by the step's pairs) for accuracy (chosen strictly
 * above rejected), margin (mean r_chosen - r_rejected, without the margin
 * option) and mean_reward (over every reward); min_reward and max_reward over
 * every reward. TRL averages per-batch minima over a logging window; here a
 * step's min is the minimum over all its micro-batches and workers.
 */
export function rewardMetrics(chosen: tf.Tensor1D, rejected: tf.Tensor1D): Record<'accuracy' | 'margin' | 'mean_reward' | 'min_reward' | 'max_reward', tf.Scalar> {
  return tf.tidy(() => {
    const all = tf.concat([chosen, rejected]);
    return {
      accuracy: tf.sum(tf.cast(tf.greater(chosen, rejected), 'float32')),
      margin: tf.sum(tf.sub(chosen, rejected)),
      mean_reward: tf.div(tf.sum(all), 2),
      min_reward: tf.min(all),
      max_reward: tf.max(all),
    };
  });
}

export interface RewardObjectiveOptions {
  /** TRL's center_rewards_coefficient (default none). */
  centerRewardsCoefficient?: number;
}

const REWARD_METRICS: Record<string, MetricReduce> = { min_reward: 'min', max_reward: 'max', num_tokens: 'total' };

/** Throws, naming the pair, side and position, at the first row the model cannot take. */
export function checkPreferenceBatch(batch: PreferenceBatch, model: Decoder, firstPair = 0): void {
  const { pairs, length } = batch;
  const name = (i: number) => `preference batch pair ${batch.ids?.[i] ?? firstPair + i}`;
  const V = model.config.vocab_size;
  for (const [side, rows, lengths] of [['chosen', batch.chosen, batch.chosenLengths], ['rejected', batch.rejected, batch.rejectedLengths]] as const) {
    if (rows.length !== pairs * length) throw new Error(`preference batch: ${side} has ${rows.length} ids, expected pairs * length = ${pairs} * ${length}`);
    if (lengths.length !== pairs) throw new Error(`preference batch: ${side}Lengths has ${lengths.length} entries, expected ${pairs}`);
    for (let i = 0; i < pairs; i++) {
      if (!(lengths[i] >= 1 && lengths[i] <= length)) throw new Error(`${name(i)} (${side}): length ${lengths[i]}, expected 1 to ${length}`);
    }
    for (let k = 0; k < rows.length; k++) {
      if (!(rows[k] >= 0 && rows[k] < V)) {
        throw new Error(`${name(Math.floor(k / length))} (${side}), position ${k % length}: id ${rows[k]} is outside the vocabulary [0, ${V - 1}]`);
      }
    }
  }
  if (batch.margin && batch.margin.length !== pairs) throw new Error(`preference batch: ${batch.margin.length} margins for ${pairs} pairs`);
  if (!hasScoreHead(model)) throw new Error(`reward objective: the model has no "${SCORE_WEIGHT}" head (addScoreHead or loadRewardModel)`);
  if (model.lora && !model.lora.tensors.has(SCORE_WEIGHT)) {
    throw new Error('reward objective: the model has LoRA adapters but its score head is not beside them, so it would stay frozen at its random start; add adapters with addRewardLora');
  }
}

/**
 * The reward objective. Its count is pairs, so the loop's loss is the mean
 * over pairs as in TRL. Workers rebuild the objective by name, so split()
 * writes this objective's settings into each part.
 */
export function rewardObjective(options: RewardObjectiveOptions = {}): Objective<PreferenceBatch> {
  const coef = options.centerRewardsCoefficient;
  if (coef !== undefined && !(Number.isFinite(coef) && coef >= 0)) throw new Error(`rewardObjective: centerRewardsCoefficient must be a number >= 0, got ${coef}`);
  return {
    name: 'reward',
    metricReduce: REWARD_METRICS,
    rows: (batch) => batch.pairs,
    tokens: (batch) => preferenceBatchTokens(batch),
    split: (batch, parts) => splitByRows(batch.pairs, parts, (from, to) => ({ ...slicePreferenceBatch(batch, from, to), centerRewardsCoefficient: batch.centerRewardsCoefficient ?? coef })),
    validate: (batch, model) => checkPreferenceBatch(batch, model),
    loss(model: Decoder, batch: PreferenceBatch, context: ObjectiveContext): ObjectiveOutput {
      checkPreferenceBatch(batch, model, context.firstRow);
      const { pairs: P, length: L } = batch;
      const ids = tf.tensor2d(Int32Array.from([...batch.chosen, ...batch.rejected]), [2 * P, L], 'int32');
      const lengths = Int32Array.from([...batch.chosenLengths, ...batch.rejectedLengths]);
      const seed = context.dropoutSeed;
      const first = context.firstRow ?? 0;
      // A pair's masks depend on its global index only, so any split over workers draws the same ones.
      const dropoutRowSeeds = seed === undefined ? undefined : [
        ...Array.from({ length: P }, (_, i) => hashString(`${seed}:${first + i}:chosen`)),
        ...Array.from({ length: P }, (_, i) => hashString(`${seed}:${first + i}:rejected`)),
      ];
      const scores = sequenceScores(model, ids, lengths, { dropoutRowSeeds, gradientCheckpointing: context.gradientCheckpointing });
      const chosen = tf.slice(scores, [0], [P]) as tf.Tensor1D;
      const rejected = tf.slice(scores, [P], [P]) as tf.Tensor1D;
      const margin = batch.margin ? tf.tensor1d(batch.margin) : undefined;
      const loss = bradleyTerryLoss(chosen, rejected, { margin, centerRewardsCoefficient: batch.centerRewardsCoefficient ?? coef });
      const tokens = preferenceBatchTokens(batch);
      return {
        lossSum: tf.mul(loss, P),
        count: P,
        metrics: { ...rewardMetrics(chosen, rejected), num_tokens: tf.scalar(tokens) },
      };
    },
  };
}

/** The objective a worker thread rebuilds by the name 'reward' (the run's options come with the split parts). */
export const defaultRewardObjective = rewardObjective();

export interface ScoreRepliesOptions {
  /** Replies scored per forward (default 16). */
  batchSize?: number;
}

/** The reward of each reply to `prompt`, rendered as in training (ending with the end-of-turn token). */
export function scoreReplies(
  model: Decoder,
  tokenizer: BpeTokenizer,
  template: ChatTemplate,
  prompt: ChatMessage[],
  replies: (string | ChatMessage[])[],
  options: ScoreRepliesOptions = {},
): number[] {
  const encoded = replies.map((r, i) => encodeReply(tokenizer, template, prompt, r, `scoreReplies: reply ${i}`));
  const size = options.batchSize ?? 16;
  const out: number[] = [];
  for (let at = 0; at < encoded.length; at += size) {
    const part = encoded.slice(at, at + size);
    // Reuses the pair layout with the replies as "chosen" rows; the rejected rows are not scored.
    const batch = preferenceBatch(part.map((ids, i) => ({ id: String(at + i), chosen: ids, rejected: ids })), { padId: 0 });
    const scores = tf.tidy(() => sequenceScores(model, tf.tensor2d(batch.chosen, [batch.pairs, batch.length], 'int32'), batch.chosenLengths));
    out.push(...(scores.dataSync() as Float32Array));
    scores.dispose();
  }
  return out;
}
