// Preference pairs (a prompt, a chosen and a rejected reply) as token rows for
// the reward objective. Each reply is rendered with the conversation by the
// chat template as the assistant's turn and cut right after its end-of-turn
// marker, so the reward is read where the reply ends, whatever the template
// writes after a turn (ChatML's newline). Rows are padded on the right and
// carry their lengths.
//
// A pair too long for maxLength is refused (an error naming it) or, when
// asked, left out and listed: cutting a reply would remove the end-of-turn
// token the score is read at, so nothing is truncated.
import type { Message, PreferencePair } from '../data/records';
import type { BpeTokenizer } from '../text/bpe_tokenizer';
import type { ChatMessage, ChatTemplate, RenderOptions } from '../text/chat_types';
import { randomStream } from '../runtime/seed';
import type { BatchSource } from './data';
import type { DpoLossOptions } from './dpo_loss';
import type { SimpoOptions } from './simpo_loss';

/** One pair as token ids, each sequence ending with the end-of-turn token. */
export interface EncodedPair {
  /** The record's id (named in errors). */
  id: string;
  chosen: number[];
  rejected: number[];
  /** TRL's per-pair margin: subtracted inside the Bradley-Terry loss. */
  margin?: number;
  /** Tokens of the prompt (with the template's generation prompt) that open both sequences; the reply is the rest (DPO). */
  promptLength?: number;
  /** The frozen reference model's log-probabilities of the chosen and rejected replies, computed once (DPO). */
  refChosen?: number;
  refRejected?: number;
}

/** Ids of `prompt` followed by `reply` as the assistant's turn, up to and including the reply's end-of-turn token. */
export function encodeReply(
  tokenizer: BpeTokenizer,
  template: ChatTemplate,
  prompt: ChatMessage[],
  reply: ChatMessage[] | string,
  where = 'reply',
  render: RenderOptions = {},
): number[] {
  const replyMessages = typeof reply === 'string' ? [{ role: 'assistant', content: reply }] : reply;
  const last = replyMessages.at(-1);
  if (!last || last.role !== 'assistant') throw new Error(`${where}: the reply must end with an assistant message, got ${last ? `role "${last.role}"` : 'no message'}`);
  const rendered = template.render([...prompt, ...replyMessages], { ...render, spans: true });
  const span = rendered.assistantSpans.at(-1);
  if (!span || span.open) throw new Error(`${where}: template ${template.name} rendered no closed assistant turn for the reply`);
  const ids = tokenizer.encode(rendered.text.slice(0, span.end), { addSpecialTokens: false });
  const eot = tokenizer.tokenToId(template.endOfTurn);
  if (eot === undefined || ids.at(-1) !== eot) {
    const last = ids.length ? JSON.stringify(tokenizer.idToToken(ids.at(-1)!)) : 'nothing (no tokens)';
    throw new Error(
      `${where}: the rendered reply ends with token ${last}, not the end-of-turn ${JSON.stringify(template.endOfTurn)}` +
        `${eot === undefined ? ' (which is not a token of this tokenizer: add the template\'s markers as special tokens)' : ''}`,
    );
  }
  return ids;
}

export interface EncodePreferencesOptions {
  /** Most tokens a sequence (prompt plus reply) may have; default: no limit. */
  maxLength?: number;
  /** A pair with a sequence over maxLength: 'error' (default) refuses it, naming it; 'drop' leaves it out and lists it. */
  tooLong?: 'error' | 'drop';
  /** The per-pair margin (TRL's `margin` column), e.g. from a rating gap; default none. */
  margin?: (pair: PreferencePair) => number | undefined;
  render?: RenderOptions;
}

export interface DroppedPair {
  id: string;
  chosenLength: number;
  rejectedLength: number;
}

export interface EncodedPreferences {
  pairs: EncodedPair[];
  /** Pairs left out for length (tooLong: 'drop'), by id. */
  dropped: DroppedPair[];
}

/** Renders and tokenizes preference records; see EncodePreferencesOptions for long pairs. */
export function encodePreferences(
  records: PreferencePair[],
  tokenizer: BpeTokenizer,
  template: ChatTemplate,
  options: EncodePreferencesOptions = {},
): EncodedPreferences {
  const pairs: EncodedPair[] = [];
  const dropped: DroppedPair[] = [];
  const max = options.maxLength ?? Infinity;
  for (const r of records) {
    const where = (side: string) => `${r.source} pair ${r.id} (${side})`;
    const prompt = r.prompt as Message[] as ChatMessage[];
    const chosen = encodeReply(tokenizer, template, prompt, r.chosen as Message[] as ChatMessage[], where('chosen'), options.render);
    const rejected = encodeReply(tokenizer, template, prompt, r.rejected as Message[] as ChatMessage[], where('rejected'), options.render);
    if (chosen.length > max || rejected.length > max) {
      if (options.tooLong !== 'drop') {
        throw new Error(
          `${r.source} pair ${r.id}: chosen has ${chosen.length} tokens and rejected ${rejected.length}, over maxLength ${max}; raise maxLength or pass tooLong: 'drop' (nothing is truncated: the score is read at the end-of-turn token)`,
        );
      }
      dropped.push({ id: r.id, chosenLength: chosen.length, rejectedLength: rejected.length });
      continue;
    }
    const margin = options.margin?.(r);
    if (margin !== undefined && !Number.isFinite(margin)) throw new Error(`${r.source} pair ${r.id}: margin ${margin} is not a finite number`);
    pairs.push(margin === undefined ? { id: r.id, chosen, rejected } : { id: r.id, chosen, rejected, margin });
  }
  return { pairs, dropped };
}

/** Pairs as right-padded rows: the reward objective's batch. */
export interface PreferenceBatch {
  pairs: number;
  /** Tokens per row. */
  length: number;
  /** [pairs * length] chosen sequences, padded on the right. */
  chosen: Int32Array;
  /** [pairs * length] rejected sequences. */
  rejected: Int32Array;
  /** Real tokens of each chosen row; its score is read at position length - 1. */
  chosenLengths: Int32Array;
  rejectedLengths: Int32Array;
  /** Per-pair margins (all pairs or none). */
  margin?: Float32Array;
  /** The pairs' ids, named in errors. */
  ids?: string[];
  /** Set by the reward objective when it splits a batch for worker threads: the run's loss settings travel with the rows. */
  centerRewardsCoefficient?: number;
  /** Prompt tokens of each pair (all pairs or none; the DPO objective needs them). */
  promptLengths?: Int32Array;
  /** Reference log-probabilities of each pair's replies (all pairs or none). */
  refChosen?: Float32Array;
  refRejected?: Float32Array;
  /** Set by the DPO objective when it splits a batch for worker threads: the run's loss settings. */
  dpo?: DpoLossOptions;
  /** The simpo objective's settings, carried to worker threads with the batch. */
  simpo?: SimpoOptions;
}

/** Real tokens of a batch's rows, chosen and rejected (TRL's num_tokens counts the attention mask). */
export function preferenceBatchTokens(batch: PreferenceBatch): number {
  let n = 0;
  for (const k of batch.chosenLengths) n += k;
  for (const k of batch.rejectedLengths) n += k;
  return n;
}

/** Pairs from..to-1 of a batch, every per-pair field sliced and the run's settings kept: an objective's split for workers. */
export function slicePreferenceBatch(batch: PreferenceBatch, from: number, to: number): PreferenceBatch {
  const L = batch.length;
  return {
    ...batch,
    pairs: to - from,
    chosen: batch.chosen.slice(from * L, to * L),
    rejected: batch.rejected.slice(from * L, to * L),
    chosenLengths: batch.chosenLengths.slice(from, to),
    rejectedLengths: batch.rejectedLengths.slice(from, to),
    margin: batch.margin?.slice(from, to),
    ids: batch.ids?.slice(from, to),
    promptLengths: batch.promptLengths?.slice(from, to),
    refChosen: batch.refChosen?.slice(from, to),
    refRejected: batch.refRejected?.slice(from, to),
  };
}

export interface PreferenceBatchOptions {
  /** Fills rows past their length; any id in the vocabulary (scores are read by length, and attention is causal). */
  padId: number;
  /** Row length; default the longest sequence. */
  length?: number;
}

export function preferenceBatch(pairs: EncodedPair[], options: PreferenceBatchOptions): PreferenceBatch {
  if (pairs.length === 0) throw new Error('preferenceBatch: no pairs');
  const withMargin = pairs.filter((p) => p.margin !== undefined).length;
  if (withMargin !== 0 && withMargin !== pairs.length) {
    const missing = pairs.find((p) => p.margin === undefined)!;
    throw new Error(`preferenceBatch: pair ${missing.id} has no margin while ${withMargin} of ${pairs.length} pairs have one; give every pair a margin or none`);
  }
  const length = options.length ?? Math.max(...pairs.map((p) => Math.max(p.chosen.length, p.rejected.length)));
  const n = pairs.length;
  const batch: PreferenceBatch = {
    pairs: n,
    length,
    chosen: new Int32Array(n * length).fill(options.padId),
    rejected: new Int32Array(n * length).fill(options.padId),
    chosenLengths: new Int32Array(n),
    rejectedLengths: new Int32Array(n),
    ids: pairs.map((p) => p.id),
  };
  if (withMargin) batch.margin = Float32Array.from(pairs, (p) => p.margin!);
  // DPO's per-pair fields travel only when every pair has them: a batch is all prepared or not at all.
  if (pairs.every((p) => p.promptLength !== undefined)) batch.promptLengths = Int32Array.from(pairs, (p) => p.promptLength!);
  if (pairs.every((p) => p.refChosen !== undefined && p.refRejected !== undefined)) {
    batch.refChosen = Float32Array.from(pairs, (p) => p.refChosen!);
    batch.refRejected = Float32Array.from(pairs, (p) => p.refRejected!);
  }
  pairs.forEach((p, i) => {
    for (const [side, ids, rows, lengths] of [
      ['chosen', p.chosen, batch.chosen, batch.chosenLengths],
      ['rejected', p.rejected, batch.rejected, batch.rejectedLengths],
    ] as const) {
      if (ids.length === 0 || ids.length > length) throw new Error(`preferenceBatch: pair ${p.id} (${side}) has ${ids.length} tokens; rows hold 1 to ${length}`);
      rows.set(ids, i * length);
      lengths[i] = ids.length;
    }
  });
  return batch;
}

export interface PreferenceBatchesOptions extends PreferenceBatchOptions {
  /** Pairs per micro-batch. */
  batchSize: number;
  /** Micro-batches per update step (the training config's accumulation; default 1). */
  accumulation?: number;
  /** Seeds the order of each epoch (default 0). */
  seed?: number;
}

/**
 * Batches that go through the pairs once per epoch, each epoch in its own
 * seeded order (the last batch of an epoch may be smaller). A batch is a
 * pure function of (seed, step, micro-batch), so a resumed run sees the same
 * batches. Rows are as long as the longest sequence of their batch, or
 * `length` for every batch (one shape: the decoder caches a causal mask per
 * row length).
 */
export function preferenceBatches(pairs: EncodedPair[], options: PreferenceBatchesOptions): BatchSource<PreferenceBatch> & { batchesPerEpoch: number } {
  const { batchSize } = options;
  const accumulation = options.accumulation ?? 1;
  if (pairs.length === 0) throw new Error('preferenceBatches: no pairs');
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`preferenceBatches: batchSize must be a positive integer, got ${batchSize}`);
  if (!(Number.isInteger(accumulation) && accumulation > 0)) throw new Error(`preferenceBatches: accumulation must be a positive integer, got ${accumulation}`);
  const batchesPerEpoch = Math.ceil(pairs.length / batchSize);
  let cached: { epoch: number; order: number[] } | null = null;
  const orderOf = (epoch: number): number[] => {
    if (cached?.epoch === epoch) return cached.order;
    const order = pairs.map((_, i) => i);
    const draw = randomStream(`preferences:${options.seed ?? 0}:${epoch}`);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(draw() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    cached = { epoch, order };
    return order;
  };
  return {
    batchesPerEpoch,
    batch(step, micro) {
      if (micro >= accumulation) throw new Error(`preferenceBatches: micro-batch ${micro} of a step, but accumulation is ${accumulation}; pass the run's accumulation`);
      const index = step * accumulation + micro;
      const epoch = Math.floor(index / batchesPerEpoch);
      const at = (index % batchesPerEpoch) * batchSize;
      const chosen = orderOf(epoch).slice(at, at + batchSize).map((i) => pairs[i]);
      return preferenceBatch(chosen, { padId: options.padId, length: options.length });
    },
  };
}
