// Online RL's data: the policy answers each prompt several times (a group),
// reward functions score the replies, and the replies become rows of
// prompt + reply tokens for the policy-gradient objective (rl.ts), with the
// log-probabilities the sampling policy and the frozen reference gave each
// token. Sampling is batched and KV-cached (generateReplies) and reads back
// one row of logits per new token, which is all that sampling needs.
import * as tf from '@tensorflow/tfjs';
import type { Conversation } from '../data/records';
import { oracleScore } from '../eval/accuracy';
import { generateReplies, promptMessages, type ChatTokenizer, type GeneratedReply, type PromptSource } from '../eval/replies';
import type { Decoder } from '../model/decoder';
import type { SamplingOptions } from '../model/sampling';
import type { ChatMessage, ChatTemplate } from '../text/chat_types';
import { replyTokenLogps, type ReplyRows } from './reply_logps';
import { scoreReplies } from './reward';
import type { BpeTokenizer } from '../text/bpe_tokenizer';

/** One sampled reply: the prompt it answers, its group (one per prompt), and what generation returned. */
export interface RolloutSample {
  source: PromptSource;
  prompt: ChatMessage[];
  group: number;
  reply: GeneratedReply;
}

/**
 * A reward: one number per sample (TRL's reward_funcs). `weight` (default 1)
 * is its share of the trained reward (TRL's reward_weights); a weight of 0
 * logs it (rewards/<name>/mean) without training on it, e.g. the world's
 * oracle next to a learned reward model, to watch for reward hacking.
 */
export interface RewardFunction {
  name: string;
  weight?: number;
  score(samples: RolloutSample[]): number[] | Promise<number[]>;
}

/** The world's oracle as a reward: 1 for the exact answer, 0.7 padded, 0.4 another format, 0 wrong (kernel-lib/data/world/judge.ts). */
export function oracleReward(name = 'oracle'): RewardFunction {
  return {
    name,
    score: (samples) => samples.map((s, i) => {
      const source = s.source;
      if (Array.isArray(source) || !('messages' in source) || (source as Conversation).kind !== 'conversation') {
        throw new Error(`${name} reward: sample ${i} is not a world task (a conversation record with its answer); the oracle cannot judge it`);
      }
      return oracleScore(source as Conversation, s.reply.text).score;
    }),
  };
}

/**
 * A reward model (a decoder with a score head, notebook 05's) as a reward:
 * each group's replies scored together against their shared prompt, rendered
 * as the model was trained on them.
 */
export function rewardModelReward(model: Decoder, tokenizer: BpeTokenizer, template: ChatTemplate, name = 'reward_model'): RewardFunction {
  return {
    name,
    score: (samples) => {
      const out = new Array<number>(samples.length);
      const byGroup = new Map<number, number[]>();
      samples.forEach((s, i) => byGroup.set(s.group, [...(byGroup.get(s.group) ?? []), i]));
      for (const rows of byGroup.values()) {
        const scores = scoreReplies(model, tokenizer, template, samples[rows[0]].prompt, rows.map((i) => samples[i].reply.text), { batchSize: 32 });
        rows.forEach((i, k) => (out[i] = scores[k]));
      }
      return out;
    },
  };
}

export interface SampleGroupsOptions extends SamplingOptions {
  /** Replies per prompt (TRL's num_generations). */
  groupSize: number;
  maxNewTokens: number;
  /** Prompts of a group are sampled together; replies per generate call (default 64). */
  batchSize?: number;
  seed?: number;
}

export interface SampledGroups {
  samples: RolloutSample[];
  seconds: number;
  /** Tokens generated, stop tokens included. */
  tokens: number;
}

/** Each prompt answered groupSize times (temperature 1 unless set: TRL's default), groups in prompt order. */
export async function sampleGroups(
  policy: Decoder,
  tokenizer: ChatTokenizer,
  template: ChatTemplate,
  sources: PromptSource[],
  options: SampleGroupsOptions,
): Promise<SampledGroups> {
  const { groupSize } = options;
  if (!(Number.isInteger(groupSize) && groupSize >= 1)) throw new Error(`sampleGroups: groupSize must be a positive integer, got ${groupSize}`);
  const repeated = sources.flatMap((s) => Array.from({ length: groupSize }, () => s));
  const started = Date.now();
  const replies = await generateReplies(policy, tokenizer, template, repeated, {
    maxNewTokens: options.maxNewTokens, fitContext: true, batchSize: options.batchSize ?? 64,
    temperature: options.temperature ?? 1, topK: options.topK, topP: options.topP, seed: options.seed, label: 'policy',
  });
  const samples = replies.map((reply, k) => {
    const source = repeated[k];
    return { source, prompt: promptMessages(source), group: Math.floor(k / groupSize), reply };
  });
  return { samples, seconds: (Date.now() - started) / 1000, tokens: replies.reduce((a, r) => a + r.tokenCount, 0) };
}

/** Each reward function's scores, and their weighted sum (what is trained on). */
export async function scoreSamples(samples: RolloutSample[], rewards: RewardFunction[]): Promise<{ total: number[]; byName: Record<string, number[]> }> {
  if (!rewards.length) throw new Error('scoreSamples: give at least one reward function');
  const byName: Record<string, number[]> = {};
  const total = samples.map(() => 0);
  for (const f of rewards) {
    if (byName[f.name]) throw new Error(`scoreSamples: two reward functions are named "${f.name}"`);
    const scores = await f.score(samples);
    if (scores.length !== samples.length) throw new Error(`reward "${f.name}" gave ${scores.length} scores for ${samples.length} samples`);
    const bad = scores.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new Error(`reward "${f.name}" scored sample ${bad} (group ${samples[bad].group}) ${scores[bad]}; rewards must be finite numbers`);
    byName[f.name] = scores;
    const w = f.weight ?? 1;
    scores.forEach((x, i) => (total[i] += w * x));
  }
  return { total, byName };
}

/** The samples as rows of prompt + reply tokens, right-padded with padId. */
export function sampleRows(samples: RolloutSample[], padId: number): ReplyRows {
  if (!samples.length) throw new Error('sampleRows: no samples');
  const lengths = samples.map((s) => s.reply.promptIds.length + s.reply.tokens.length);
  const L = Math.max(...lengths);
  const ids = new Int32Array(samples.length * L).fill(padId);
  samples.forEach((s, r) => {
    ids.set(s.reply.promptIds, r * L);
    ids.set(s.reply.tokens, r * L + s.reply.promptIds.length);
  });
  return { rows: samples.length, length: L, ids, lengths: Int32Array.from(lengths), promptLengths: Int32Array.from(samples.map((s) => s.reply.promptIds.length)) };
}

/**
 * Per-token log-probabilities of the rows' reply tokens under `model`, and
 * with `values` its score head's value at each position, without gradients,
 * in batches of `batchSize` rows [rows * length] (replyTokenLogps' layout).
 */
export function tokenLogpsOf(model: Decoder, rows: ReplyRows, options: { batchSize?: number; values?: boolean } = {}): { logps: Float32Array; values?: Float32Array } {
  const { rows: R, length: L } = rows;
  const size = options.batchSize ?? 64;
  const logps = new Float32Array(R * L);
  const values = options.values ? new Float32Array(R * L) : undefined;
  for (let at = 0; at < R; at += size) {
    const n = Math.min(size, R - at);
    const part: ReplyRows = {
      rows: n, length: L, ids: rows.ids.subarray(at * L, (at + n) * L),
      lengths: rows.lengths.subarray(at, at + n), promptLengths: rows.promptLengths.subarray(at, at + n),
    };
    const r = replyTokenLogps(model, part, { values: options.values });
    logps.set(r.logps.dataSync() as Float32Array, at * L);
    if (values) values.set(r.values!.dataSync() as Float32Array, at * L);
    tf.dispose([r.logps, r.mask, r.entropy, r.values ?? []]);
  }
  return { logps, values };
}

/** Population standard deviation, for logged spreads. */
export function spread(xs: number[]): number {
  if (!xs.length) return 0;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
}

/** TRL's completion figures of a rollout: completions/mean_length, min_length, max_length, clipped_ratio, mean_terminated_length. */
export function completionStats(samples: RolloutSample[]): Record<string, number> {
  const lengths = samples.map((s) => s.reply.tokenCount);
  const terminated = samples.filter((s) => s.reply.finish !== 'length').map((s) => s.reply.tokenCount);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    'completions/mean_length': mean(lengths),
    'completions/min_length': Math.min(...lengths),
    'completions/max_length': Math.max(...lengths),
    'completions/clipped_ratio': 1 - terminated.length / samples.length,
    'completions/mean_terminated_length': mean(terminated),
  };
}
