// The `dpo` objective: the policy's reply log-probabilities on preference
// pairs against a frozen reference's, through any of TRL's DPO loss types
// (dpo_loss.ts), logged with DPOTrainer's names. The reference's
// log-probabilities are computed once before training (TRL's
// precompute_ref_log_probs), so a step runs one model, and worker threads
// need only the policy.
import * as tf from '@tensorflow/tfjs';
import type { PreferencePair } from '../data/records';
import type { Decoder } from '../model/decoder';
import { hashString } from '../runtime/seed';
import type { BpeTokenizer } from '../text/bpe_tokenizer';
import type { ChatMessage, ChatTemplate } from '../text/chat_types';
import { dpoLoss, dpoLossSettings, type DpoLossOptions } from './dpo_loss';
import { splitByRows, type MetricReduce, type Objective, type ObjectiveContext, type ObjectiveOutput } from './objective';
import { encodePreferences, preferenceBatch, preferenceBatchTokens, slicePreferenceBatch, type EncodePreferencesOptions, type EncodedPair, type PreferenceBatch } from './preference_batch';
import { replyLogps, type ReplyLogps, type ReplyRows } from './reply_logps';

/**
 * Pairs as token ids with the prompt's length: encodePreferences, plus a
 * check that the prompt rendered with the generation prompt is where both
 * replies start (a template or tokenizer that merges across that boundary is
 * named, since the reply tokens would be wrong).
 */
export function encodeDpoPairs(
  records: PreferencePair[],
  tokenizer: BpeTokenizer,
  template: ChatTemplate,
  options: EncodePreferencesOptions = {},
): { pairs: EncodedPair[]; dropped: { id: string; chosenLength: number; rejectedLength: number }[] } {
  const encoded = encodePreferences(records, tokenizer, template, options);
  const byId = new Map(records.map((r) => [r.id, r]));
  const pairs = encoded.pairs.map((pair) => {
    const record = byId.get(pair.id)!;
    const prompt = tokenizer.encode(template.render(record.prompt as ChatMessage[], { ...options.render, addGenerationPrompt: true }).text, { addSpecialTokens: false });
    for (const [side, ids] of [['chosen', pair.chosen], ['rejected', pair.rejected]] as const) {
      const at = prompt.findIndex((id, i) => ids[i] !== id);
      if (at >= 0 || ids.length <= prompt.length) {
        throw new Error(`${record.source} pair ${record.id} (${side}): the prompt's ${prompt.length} tokens are not where the reply starts` +
          (at >= 0 ? ` (they differ at token ${at})` : ' (the reply is empty)') + '; the template or tokenizer joins the prompt to the reply');
      }
    }
    return { ...pair, promptLength: prompt.length };
  });
  return { pairs, dropped: encoded.dropped };
}

function sideRows(batch: PreferenceBatch, side: 'chosen' | 'rejected', from: number, to: number): ReplyRows {
  const L = batch.length;
  return {
    rows: to - from,
    length: L,
    ids: batch[side].slice(from * L, to * L),
    lengths: (side === 'chosen' ? batch.chosenLengths : batch.rejectedLengths).slice(from, to),
    promptLengths: batch.promptLengths!.slice(from, to),
  };
}

/** A batch's chosen rows, then its rejected rows, as reply rows (the layout replyLogps takes). */
export function preferenceRows(batch: PreferenceBatch): ReplyRows {
  const [c, r] = [sideRows(batch, 'chosen', 0, batch.pairs), sideRows(batch, 'rejected', 0, batch.pairs)];
  return {
    rows: 2 * batch.pairs,
    length: batch.length,
    ids: Int32Array.from([...c.ids, ...r.ids]),
    lengths: Int32Array.from([...c.lengths, ...r.lengths]),
    promptLengths: Int32Array.from([...c.promptLengths, ...r.promptLengths]),
  };
}

export interface ReferenceLogpsOptions {
  padId: number;
  /** Pairs a forward (default 16). */
  batchSize?: number;
}

/** The pairs with the reference model's reply log-probabilities attached (computed in batches, without gradients). */
export function referenceLogps(reference: Decoder, pairs: EncodedPair[], options: ReferenceLogpsOptions): EncodedPair[] {
  const size = options.batchSize ?? 16;
  const out: EncodedPair[] = [];
  for (let at = 0; at < pairs.length; at += size) {
    const part = pairs.slice(at, at + size);
    const missing = part.find((p) => p.promptLength === undefined);
    if (missing) throw new Error(`referenceLogps: pair ${missing.id} has no promptLength (encode the pairs with encodeDpoPairs)`);
    const batch = preferenceBatch(part, { padId: options.padId });
    const r = replyLogps(reference, preferenceRows(batch));
    const values = r.logps.dataSync();
    tf.dispose([r.logps, r.meanLogits, r.meanEntropy]);
    part.forEach((p, i) => out.push({ ...p, refChosen: values[i], refRejected: values[part.length + i] }));
  }
  return out;
}

const DPO_METRICS: Record<string, MetricReduce> = { num_tokens: 'total' };

/** Throws, naming the pair, side and position, when a reply row holds an id outside the model's vocabulary. */
export function checkPairIds(batch: PreferenceBatch, model: Decoder, where: string): void {
  const V = model.config.vocab_size;
  for (const [side, rows] of [['chosen', batch.chosen], ['rejected', batch.rejected]] as const) {
    const k = rows.findIndex((id) => !(id >= 0 && id < V));
    if (k >= 0) throw new Error(`${where}: pair ${batch.ids?.[Math.floor(k / batch.length)] ?? Math.floor(k / batch.length)} (${side}), position ${k % batch.length}: id ${rows[k]} is outside the vocabulary [0, ${V - 1}]`);
  }
}

function checkDpoBatch(batch: PreferenceBatch, model: Decoder): void {
  if (!batch.promptLengths) throw new Error('dpo objective: the batch has no prompt lengths; encode the pairs with encodeDpoPairs');
  if (!batch.refChosen || !batch.refRejected) throw new Error('dpo objective: the batch has no reference log-probabilities; attach them with referenceLogps(reference, pairs) first');
  checkPairIds(batch, model, 'dpo objective');
}

/**
 * The policy's reply log-probabilities of a batch's chosen and rejected
 * rows in one forward (dropout masks drawn per global pair and side), with
 * per-side views: what every pairwise preference objective starts from.
 */
export function pairLogps(model: Decoder, batch: PreferenceBatch, context: ObjectiveContext): {
  r: ReplyLogps; side: (t: tf.Tensor1D, k: 0 | 1) => tf.Tensor1D; tokens: (k: 0 | 1) => tf.Tensor1D;
} {
  const P = batch.pairs;
  const seed = context.dropoutSeed;
  const first = context.firstRow ?? 0;
  const dropoutRowSeeds = seed === undefined ? undefined : [
    ...Array.from({ length: P }, (_, i) => hashString(`${seed}:${first + i}:chosen`)),
    ...Array.from({ length: P }, (_, i) => hashString(`${seed}:${first + i}:rejected`)),
  ];
  const r = replyLogps(model, preferenceRows(batch), { dropoutRowSeeds, gradientCheckpointing: context.gradientCheckpointing });
  return {
    r,
    side: (t, k) => tf.slice(t, [k * P], [P]) as tf.Tensor1D,
    tokens: (k) => tf.tensor1d(Float32Array.from(r.tokens.slice(k * P, (k + 1) * P))),
  };
}

/**
 * The DPO objective with the given loss settings. Its count is pairs, so the
 * loop's loss is the mean over pairs, as in TRL. Metrics, by DPOTrainer's
 * names: rewards/chosen, rewards/rejected (β · log-ratio), rewards/margins,
 * rewards/accuracies (chosen reward strictly higher), logps/chosen,
 * logps/rejected, logits/chosen, logits/rejected, entropy, num_tokens. TRL
 * weights logits and entropy by tokens over the batch; here each pair's
 * per-token mean counts once.
 */
export function dpoObjective(options: DpoLossOptions = {}): Objective<PreferenceBatch> {
  dpoLossSettings(options); // fails now, before any batch, on bad settings
  return {
    name: 'dpo',
    metricReduce: DPO_METRICS,
    rows: (batch) => batch.pairs,
    tokens: (batch) => preferenceBatchTokens(batch),
    split: (batch, parts) => splitByRows(batch.pairs, parts, (from, to) => ({ ...slicePreferenceBatch(batch, from, to), dpo: batch.dpo ?? options })),
    validate: (batch, model) => checkDpoBatch(batch, model),
    loss(model: Decoder, batch: PreferenceBatch, context: ObjectiveContext): ObjectiveOutput {
      checkDpoBatch(batch, model);
      const P = batch.pairs;
      const { r, side: half, tokens } = pairLogps(model, batch, context);
      const settings = batch.dpo ?? options;
      const out = dpoLoss({
        policyChosen: half(r.logps, 0), policyRejected: half(r.logps, 1),
        refChosen: tf.tensor1d(batch.refChosen!), refRejected: tf.tensor1d(batch.refRejected!),
        chosenTokens: tokens(0), rejectedTokens: tokens(1),
      }, settings);
      return {
        lossSum: tf.mul(out.loss, P),
        count: P,
        metrics: {
          'rewards/chosen': tf.sum(out.chosenRewards),
          'rewards/rejected': tf.sum(out.rejectedRewards),
          'rewards/margins': tf.sum(tf.sub(out.chosenRewards, out.rejectedRewards)),
          'rewards/accuracies': tf.sum(tf.cast(tf.greater(out.chosenRewards, out.rejectedRewards), 'float32')),
          'logps/chosen': tf.sum(half(r.logps, 0)),
          'logps/rejected': tf.sum(half(r.logps, 1)),
          'logits/chosen': tf.sum(half(r.meanLogits, 0)),
          'logits/rejected': tf.sum(half(r.meanLogits, 1)),
          entropy: tf.div(tf.sum(r.meanEntropy), 2),
          num_tokens: tf.scalar(preferenceBatchTokens(batch)),
        },
      };
    },
  };
}

/** The objective a worker thread rebuilds by the name 'dpo' (the run's settings come with the split parts). */
export const defaultDpoObjective = dpoObjective();
