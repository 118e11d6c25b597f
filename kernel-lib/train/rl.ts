// Online RL with the shared training loop: `rolloutBatches` is a batch
// source that, at every step, samples groups of replies from the policy
// being trained, scores them, turns rewards into advantages (GRPO's
// group-relative ones or RLOO's leave-one-out ones), and hands the loop rows
// that carry the sampling policy's and the reference's token
// log-probabilities; the `rl` objective is the clipped policy-gradient loss
// (policy_loss.ts) on them, logged with TRL's GRPOTrainer names. With
// advantage 'ppo' the rows carry per-token GAE advantages instead, and the
// objective adds the value head's loss (ppo.ts), logged with PPOTrainer's names.
import * as tf from '@tensorflow/tfjs';
import type { ChatTokenizer, PromptSource } from '../eval/replies';
import type { Decoder } from '../model/decoder';
import { hasScoreHead } from '../model/reward_model';
import { hashString, randomStream } from '../runtime/seed';
import type { ChatTemplate } from '../text/chat_types';
import { groupAdvantages, leaveOneOutAdvantages } from './advantages';
import type { AsyncBatchSource } from './data';
import { splitByRows, type MetricReduce, type Objective, type ObjectiveContext, type ObjectiveOutput } from './objective';
import { checkPolicyLossOptions, policyLoss, type PolicyLossType } from './policy_loss';
import { ppoTargets, valueLoss, type PpoOptions } from './ppo';
import { replyTokenLogps, replyTokenWeights, type ReplyRows } from './reply_logps';
import { completionStats, sampleGroups, sampleRows, scoreSamples, spread, tokenLogpsOf, type RewardFunction, type RolloutSample } from './rollout';

export interface RlLossOptions {
  /** How token losses are averaged (TRL's loss_type; default 'dapo', TRL's default). */
  lossType?: PolicyLossType;
  /** Clipping range ε (default 0.2) and its upper side (default ε). */
  epsilon?: number;
  epsilonHigh?: number;
  /** KL penalty in the loss (GRPO's beta; default 0, TRL's default). RLOO puts its KL in the reward instead. */
  beta?: number;
  /** The completion budget, for 'dr_grpo'. */
  maxCompletionLength?: number;
  /** PPO: the value loss's weight (TRL's vf_coef; default 0.1) and clipping range (cliprange_value; default 0.2). */
  vfCoef?: number;
  clipRangeValue?: number;
}

/** Rows of prompt + sampled reply with what the loss needs per row and per token. */
export interface RlBatch extends ReplyRows {
  /** One advantage per row. */
  advantages: Float32Array;
  /**
   * The sampling policy's token log-probabilities [rows * length]
   * (replyTokenLogps layout). Left out when each rollout is trained on once:
   * the policy is then the sampling policy, and the loss takes its own
   * values (ratio 1), as TRL does, saving a forward pass a step.
   */
  oldLogps?: Float32Array;
  /** The reference's [rows * length], when there is a reference. */
  refLogps?: Float32Array;
  /** PPO: per-token advantages, the value head's targets, and its values at sampling time [rows * length]. */
  ppo?: { advantages: Float32Array; returns: Float32Array; values: Float32Array };
  /** The rollout's figures (reward, reward_std, completions/...), logged with the step. */
  stats: Record<string, number>;
  /** The loss settings, carried to worker threads with the batch. */
  rl?: RlLossOptions;
}

const RL_METRICS: Record<string, MetricReduce> = { num_tokens: 'total' };

function sliceRows(batch: RlBatch, from: number, to: number): RlBatch {
  const L = batch.length;
  return {
    ...batch,
    rows: to - from,
    ids: batch.ids.slice(from * L, to * L),
    lengths: batch.lengths.slice(from, to),
    promptLengths: batch.promptLengths.slice(from, to),
    advantages: batch.advantages.slice(from, to),
    oldLogps: batch.oldLogps?.slice(from * L, to * L),
    refLogps: batch.refLogps?.slice(from * L, to * L),
    ppo: batch.ppo && {
      advantages: batch.ppo.advantages.slice(from * L, to * L), returns: batch.ppo.returns.slice(from * L, to * L), values: batch.ppo.values.slice(from * L, to * L),
    },
  };
}

function replyTokens(batch: RlBatch): number {
  let n = 0;
  for (let r = 0; r < batch.rows; r++) n += batch.lengths[r] - batch.promptLengths[r];
  return n;
}

function checkRlBatch(batch: RlBatch, model: Decoder, beta: number): void {
  const { rows: R, length: L } = batch;
  if (batch.advantages.length !== R) throw new Error(`rl objective: ${batch.advantages.length} advantages for ${R} rows`);
  if (batch.oldLogps && batch.oldLogps.length !== R * L) throw new Error(`rl objective: oldLogps holds ${batch.oldLogps.length} values for ${R} rows of ${L}`);
  if (batch.ppo && !hasScoreHead(model)) throw new Error('rl objective: a PPO batch needs a value head on the policy; add one with addScoreHead(policy)');
  if (beta > 0 && !batch.refLogps) throw new Error(`rl objective: beta ${beta} needs the reference's log-probabilities; give rolloutBatches a reference model`);
  const V = model.config.vocab_size;
  const k = batch.ids.findIndex((id) => !(id >= 0 && id < V));
  if (k >= 0) throw new Error(`rl objective: row ${Math.floor(k / L)}, position ${k % L}: id ${batch.ids[k]} is outside the vocabulary [0, ${V - 1}]`);
  replyTokenWeights(batch, 'rl objective');
}

/**
 * The clipped policy-gradient objective. Its count follows the loss type, so
 * the loop's division by the step's total count gives TRL's averaging across
 * micro-batches and workers: tokens for 'dapo' and 'bnpo', replies for
 * 'grpo', replies × the completion budget for 'dr_grpo'. Metrics by
 * GRPOTrainer's names: policy_loss, kl (k3, per token), entropy,
 * clip_ratio/low_mean, clip_ratio/high_mean, clip_ratio/region_mean,
 * num_tokens, and the rollout's reward, reward_std, frac_reward_zero_std,
 * rewards/<name>/mean and /std, completions/... figures.
 */
export function rlObjective(options: RlLossOptions = {}): Objective<RlBatch> {
  checkPolicyLossOptions({ ...options, lossType: options.lossType ?? 'dapo' }); // fails now, before any rollout, on bad settings
  return {
    name: 'rl',
    metricReduce: RL_METRICS,
    rows: (batch) => batch.rows,
    tokens: (batch) => batch.lengths.reduce((a, b) => a + b, 0),
    split: (batch, parts) => splitByRows(batch.rows, parts, (from, to) => ({ ...sliceRows(batch, from, to), rl: batch.rl ?? options })),
    validate: (batch, model) => checkRlBatch(batch, model, (batch.rl ?? options).beta ?? 0),
    loss(model: Decoder, batch: RlBatch, context: ObjectiveContext): ObjectiveOutput {
      const settings = batch.rl ?? options;
      const type = settings.lossType ?? 'dapo';
      checkRlBatch(batch, model, settings.beta ?? 0);
      const { rows: R, length: L } = batch;
      const seed = context.dropoutSeed;
      const first = context.firstRow ?? 0;
      const dropoutRowSeeds = seed === undefined ? undefined : Array.from({ length: R }, (_, i) => hashString(`${seed}:${first + i}`));
      const t = replyTokenLogps(model, batch, { dropoutRowSeeds, values: Boolean(batch.ppo), gradientCheckpointing: context.gradientCheckpointing });
      const tokens = t.tokens.reduce((a, b) => a + b, 0);
      const oldLogps = batch.oldLogps ? tf.tensor2d(batch.oldLogps, [R, L]) : undefined;
      const numTokens = tf.scalar(replyTokens(batch) + batch.promptLengths.reduce((a, b) => a + b, 0));
      const stats = (count: number) => Object.fromEntries(Object.entries(batch.stats).map(([k, v]) => [k, tf.scalar(v * count)]));
      if (batch.ppo) {
        // PPO: token-mean surrogate and value losses (TRL's masked_mean), summed here and divided by the step's tokens by the loop.
        const out = policyLoss({ logps: t.logps, oldLogps, advantages: tf.tensor2d(batch.ppo.advantages, [R, L]), mask: t.mask }, { ...settings, lossType: 'bnpo', beta: 0 });
        const v = valueLoss(t.values!, tf.tensor2d(batch.ppo.values, [R, L]), tf.tensor2d(batch.ppo.returns, [R, L]), t.mask, settings.clipRangeValue ?? 0.2);
        const pgSum = tf.mul(out.pgLoss, tokens) as tf.Scalar;
        const diff = tf.sub(t.logps, oldLogps!);
        return {
          lossSum: tf.add(pgSum, tf.mul(settings.vfCoef ?? 0.1, v.sum)) as tf.Scalar,
          count: tokens,
          metrics: {
            'loss/policy_avg': pgSum,
            'loss/value_avg': v.sum,
            'val/clipfrac_avg': v.clipped,
            'policy/clipfrac_avg': tf.mul(out.clipRegion, tokens) as tf.Scalar,
            'policy/approxkl_avg': tf.sum(tf.mul(tf.mul(0.5, tf.square(diff)), t.mask)) as tf.Scalar,
            'policy/entropy_avg': tf.sum(t.entropy) as tf.Scalar,
            num_tokens: numTokens,
            ...stats(tokens),
          },
        };
      }
      // 'dapo' and 'bnpo' are the same average within one part; the loop's division by the step's tokens makes it TRL's dapo.
      const out = policyLoss({
        logps: t.logps,
        oldLogps,
        refLogps: batch.refLogps ? tf.tensor2d(batch.refLogps, [R, L]) : undefined,
        advantages: tf.tensor1d(batch.advantages),
        mask: t.mask,
      }, { ...settings, lossType: type === 'dapo' ? 'bnpo' : type });
      const count = type === 'grpo' ? R : type === 'dr_grpo' ? R * settings.maxCompletionLength! : tokens;
      const perUnit = (x: tf.Scalar) => tf.mul(x, count) as tf.Scalar;
      const metrics: Record<string, tf.Scalar> = {
        policy_loss: perUnit(out.pgLoss),
        entropy: perUnit(tf.div(tf.sum(t.entropy), Math.max(tokens, 1)) as tf.Scalar),
        'clip_ratio/low_mean': perUnit(out.clipLow),
        'clip_ratio/high_mean': perUnit(out.clipHigh),
        'clip_ratio/region_mean': perUnit(out.clipRegion),
        num_tokens: numTokens,
        ...stats(count),
      };
      if (batch.refLogps) metrics.kl = perUnit(out.kl);
      return { lossSum: perUnit(out.loss), count, metrics };
    },
  };
}

/** The objective a worker thread rebuilds by the name 'rl' (the run's settings come with the split parts). */
export const defaultRlObjective = rlObjective();

export interface RolloutBatchesOptions {
  /** The model being trained: it samples the replies, so each step's rollout comes from the current weights. */
  policy: Decoder;
  /** The frozen reference (the SFT model) for the KL; needed when beta > 0. */
  reference?: Decoder;
  tokenizer: ChatTokenizer;
  template: ChatTemplate;
  /** Training prompts: conversations (their final reply is dropped), preference pairs' prompts, or messages. */
  prompts: PromptSource[];
  rewards: RewardFunction[];
  /** Prompts sampled per step (each answered groupSize times). */
  promptsPerStep: number;
  /** Replies per prompt (TRL's num_generations; default 8). */
  groupSize?: number;
  /** Reply budget in tokens (TRL's max_completion_length; default 48). */
  maxNewTokens?: number;
  /** Sampling temperature (default 1, TRL's). */
  temperature?: number;
  topK?: number;
  topP?: number;
  /**
   * 'grpo': group-relative advantages scaled by scaleRewards; 'rloo':
   * leave-one-out advantages, with beta · (the reply's summed log-ratio to
   * the reference) taken off the reward first, as TRL's RLOOTrainer does;
   * 'ppo': per-token GAE advantages from the policy's value head (ppo.ts;
   * needs addScoreHead(policy) and a reference). Default 'grpo'.
   */
  advantage?: 'grpo' | 'rloo' | 'ppo';
  /** PPO's kl_coef, gamma and lam. */
  ppo?: PpoOptions;
  /** GRPO's scale_rewards: 'group' (default), 'batch' or 'none'. */
  scaleRewards?: 'group' | 'batch' | 'none';
  /** RLOO's KL coefficient in the reward (TRL's RLOO beta; default 0.05). GRPO's beta belongs to rlObjective. */
  rlooBeta?: number;
  /** Optimisation steps per rollout (TRL's num_iterations; default 1): later steps reuse it, and the ratio to the sampling policy moves off 1. */
  iterations?: number;
  seed?: number;
  /** Rows per no-gradient forward for the log-probabilities (default 64). */
  forwardBatch?: number;
  /** Called with every rollout (for live views of samples and rewards). */
  onRollout?: (rollout: RolloutReport) => void | Promise<void>;
}

export interface RolloutReport {
  step: number;
  samples: RolloutSample[];
  rewards: number[];
  byName: Record<string, number[]>;
  advantages: number[];
  stats: Record<string, number>;
}

/** Draws promptsPerStep prompt indices for a rollout, without repeats within it, seeded by (seed, rollout, micro-batch). */
function drawPrompts(count: number, n: number, key: string): number[] {
  const draw = randomStream(key);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < Math.min(n, count); i++) {
    const j = i + Math.floor(draw() * (count - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, Math.min(n, count));
}

/**
 * A batch source that samples a fresh rollout from the policy every
 * `iterations` steps. A step's batch depends on the policy's weights at that
 * step, so unlike the offline sources it is not a pure function of the step:
 * a resumed run samples anew.
 */
export function rolloutBatches(o: RolloutBatchesOptions): AsyncBatchSource<RlBatch> {
  const groupSize = o.groupSize ?? 8;
  const advantage = o.advantage ?? 'grpo';
  const iterations = o.iterations ?? 1;
  if (!o.prompts.length) throw new Error('rolloutBatches: no prompts');
  if (!(Number.isInteger(o.promptsPerStep) && o.promptsPerStep >= 1)) throw new Error(`rolloutBatches: promptsPerStep must be a positive integer, got ${o.promptsPerStep}`);
  if (!(Number.isInteger(iterations) && iterations >= 1)) throw new Error(`rolloutBatches: iterations must be a positive integer, got ${iterations}`);
  if (!['grpo', 'rloo', 'ppo'].includes(advantage)) throw new Error(`rolloutBatches: advantage must be 'grpo', 'rloo' or 'ppo', got "${advantage}"`);
  if (advantage === 'ppo' && !hasScoreHead(o.policy)) throw new Error('rolloutBatches: PPO needs a value head on the policy; add one with addScoreHead(policy)');
  if (advantage === 'ppo' && !o.reference) throw new Error('rolloutBatches: PPO\'s per-token KL reward needs a reference model');
  if (advantage === 'rloo' && groupSize < 2) throw new Error('rolloutBatches: RLOO needs groupSize >= 2 (the baseline is the other replies)');
  const padId = o.tokenizer.padId ?? 0;
  // The current round's rollouts by micro-batch, reused for `iterations` steps.
  const cache = new Map<number, RlBatch>();
  let cachedRound = -1;

  async function make(step: number, micro: number): Promise<RlBatch> {
    const round = Math.floor(step / iterations);
    const picked = drawPrompts(o.prompts.length, o.promptsPerStep, `rollout:${o.seed ?? 0}:${round}:${micro}`);
    const sampled = await sampleGroups(o.policy, o.tokenizer, o.template, picked.map((i) => o.prompts[i]), {
      groupSize, maxNewTokens: o.maxNewTokens ?? 48, temperature: o.temperature ?? 1, topK: o.topK, topP: o.topP,
      seed: hashString(`rollout-sampling:${o.seed ?? 0}:${round}:${micro}`), batchSize: o.forwardBatch,
    });
    const { samples } = sampled;
    const { total, byName } = await scoreSamples(samples, o.rewards);
    const rows = sampleRows(samples, padId);
    const t0 = Date.now();
    // GRPO trained once per rollout needs no sampling-time pass; RLOO's KL reward, PPO and reused rollouts do.
    const needOld = iterations > 1 || advantage !== 'grpo';
    const policyPass = needOld ? tokenLogpsOf(o.policy, rows, { batchSize: o.forwardBatch, values: advantage === 'ppo' }) : undefined;
    const oldLogps = policyPass?.logps;
    const refLogps = o.reference ? tokenLogpsOf(o.reference, rows, { batchSize: o.forwardBatch }).logps : undefined;
    const logpSeconds = (Date.now() - t0) / 1000;
    let trained = total;
    if (advantage === 'rloo') {
      const beta = o.rlooBeta ?? 0.05;
      if (beta > 0 && !refLogps) throw new Error(`rolloutBatches: RLOO's KL penalty (rlooBeta ${beta}) needs a reference model`);
      if (beta > 0) {
        const L = rows.length;
        trained = total.map((x, r) => {
          let logRatio = 0;
          for (let t = 0; t < L; t++) logRatio += oldLogps![r * L + t] - refLogps![r * L + t];
          return x - beta * logRatio;
        });
      }
    }
    const adv = advantage === 'rloo' ? leaveOneOutAdvantages(trained, groupSize) : groupAdvantages(trained, groupSize, o.scaleRewards ?? 'group');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const stats: Record<string, number> = {
      reward: mean(total),
      reward_std: mean(adv.groupStd),
      frac_reward_zero_std: adv.fracZeroStd,
      ...completionStats(samples),
      'timing/sampling_s': sampled.seconds,
      'timing/logps_s': logpSeconds,
      'completions/tokens_per_s': sampled.tokens / Math.max(sampled.seconds, 1e-9),
    };
    for (const [name, xs] of Object.entries(byName)) {
      stats[`rewards/${name}/mean`] = mean(xs);
      stats[`rewards/${name}/std`] = spread(xs);
    }
    if (advantage === 'rloo') stats['rewards/rloo_kl_penalised/mean'] = mean(trained);
    let ppo: RlBatch['ppo'];
    if (advantage === 'ppo') {
      const targets = ppoTargets(rows, oldLogps!, refLogps!, policyPass!.values!, total, o.ppo);
      ppo = { advantages: targets.advantages, returns: targets.returns, values: policyPass!.values! };
      Object.assign(stats, targets.stats);
    }
    await o.onRollout?.({ step, samples, rewards: total, byName, advantages: adv.advantages, stats });
    return { ...rows, advantages: Float32Array.from(adv.advantages), oldLogps, refLogps, stats, ppo };
  }

  return {
    async batch(step, micro) {
      const round = Math.floor(step / iterations);
      if (round !== cachedRound) {
        cache.clear();
        cachedRound = round;
      }
      let b = cache.get(micro);
      if (!b) {
        b = await make(step, micro);
        cache.set(micro, b);
      }
      return b;
    },
  };
}
