// On-policy preference pairs: a model samples several replies to each
// prompt, the world's oracle scores them, and the best-scored reply is chosen
// over the worst wherever the oracle tells them apart. The pairs are then the
// mistakes this model makes, at the rates it makes them: the data of TRL's
// online and iterative DPO, built once per round.
import type { Conversation, PreferencePair } from '../data';
import type { Decoder } from '../model';
import type { ChatTemplate } from '../text';
import { oracleScore } from './accuracy';
import { EvalError } from './errors';
import { generateReplies, type ChatTokenizer, type GeneratedReply } from './replies';

export interface OnPolicyPairsOptions {
  /** Replies sampled per prompt (>= 2). */
  samples: number;
  /** Sample k is drawn with seed + k, so a round is reproducible and two rounds differ by their seeds. */
  seed?: number;
  /** Sampling temperature (default 1: the model's own distribution). */
  temperature?: number;
  /** Token budget per reply (default 48). */
  maxNewTokens?: number;
  /** Prompts per generate call (default 32). */
  batchSize?: number;
}

export interface OnPolicyPairs {
  /** One pair per prompt whose samples the oracle scored differently, in prompt order. */
  pairs: PreferencePair[];
  /** Prompts whose samples all scored the same: no preference to learn there. */
  tied: number;
  /** Tokens generated (stop tokens counted) and the seconds it took. */
  tokens: number;
  seconds: number;
}

/**
 * Samples `options.samples` replies of `model` to each task's prompt (its
 * messages without the final assistant reply) and pairs the oracle's best
 * against its worst. Ties between equally scored samples keep the earlier
 * sample, so the pairs depend on the seed only.
 */
export async function onPolicyPairs(
  model: Decoder,
  tokenizer: ChatTokenizer,
  template: ChatTemplate,
  tasks: Conversation[],
  options: OnPolicyPairsOptions,
): Promise<OnPolicyPairs> {
  const { samples: k, seed = 0, temperature = 1, maxNewTokens = 48, batchSize = 32 } = options;
  if (!(Number.isInteger(k) && k >= 2)) throw new EvalError(`onPolicyPairs: samples must be an integer >= 2 (a pair needs two replies to rank), got ${k}`);
  if (!(temperature > 0)) throw new EvalError(`onPolicyPairs: temperature must be > 0 (greedy replies are all the same), got ${temperature}`);
  tasks.forEach((task, i) => {
    if (task.messages.at(-1)?.role !== 'assistant') {
      throw new EvalError(`onPolicyPairs: task ${task.id ?? i} must end with the assistant reply the oracle checks against; its last message is ${task.messages.at(-1)?.role ?? 'missing'}`);
    }
  });
  const started = Date.now();
  const sampled: GeneratedReply[][] = [];
  for (let s = 0; s < k; s++) {
    sampled.push(await generateReplies(model, tokenizer, template, tasks, { maxNewTokens, fitContext: true, batchSize, temperature, seed: seed + s }));
  }
  const pairs: PreferencePair[] = [];
  let tied = 0;
  tasks.forEach((task, i) => {
    // A stable sort: among equal scores the earlier sample stays first.
    const ranked = sampled.map((s) => ({ text: s[i].text, score: oracleScore(task, s[i].text).score })).sort((a, b) => b.score - a.score);
    if (ranked[0].score === ranked[k - 1].score) {
      tied++;
      return;
    }
    pairs.push({
      kind: 'preference', prompt: task.messages.slice(0, -1), source: 'on-policy', id: `${task.id}-sampled`, category: task.category, meta: task.meta,
      chosen: [{ role: 'assistant', content: ranked[0].text }], rejected: [{ role: 'assistant', content: ranked[k - 1].text }],
    } as PreferencePair);
  });
  const tokens = sampled.reduce((n, s) => n + s.reduce((m, r) => m + r.tokenCount, 0), 0);
  return { pairs, tied, tokens, seconds: (Date.now() - started) / 1000 };
}
