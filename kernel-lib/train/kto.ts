// The `kto` objective: KTO (kto_loss.ts) on single replies labelled
// desirable or undesirable, the way TRL's KTOTrainer takes unpaired data.
// The world's pairs become singles (the chosen reply desirable, the rejected
// one undesirable) with ktoSingles. Each batch carries the reference's reply
// log-probabilities and KTO's reference point z0: the KL estimate from the
// batch's replies matched to other prompts (prompt i with reply i + 1, as TRL
// shifts them), computed without gradients from the policy's current weights
// when the batch is made, so that splitting a batch over workers leaves it
// unchanged.
import * as tf from '@tensorflow/tfjs';
import type { Decoder } from '../model/decoder';
import { hashString, randomStream } from '../runtime/seed';
import type { AsyncBatchSource } from './data';
import { checkKtoOptions, ktoLoss, type KtoOptions } from './kto_loss';
import { splitByRows, type Objective, type ObjectiveContext, type ObjectiveOutput } from './objective';
import type { EncodedPair } from './preference_batch';
import { replyLogps, type ReplyRows } from './reply_logps';

/** One reply to its prompt, labelled. */
export interface KtoSingle {
  id: string;
  /** Prompt (with the generation prompt) followed by the reply. */
  ids: number[];
  promptLength: number;
  desirable: boolean;
}

/** Each encoded pair (encodeDpoPairs) as two singles: the chosen reply desirable, the rejected one not. */
export function ktoSingles(pairs: EncodedPair[]): KtoSingle[] {
  return pairs.flatMap((p) => {
    if (p.promptLength === undefined) throw new Error(`ktoSingles: pair ${p.id} has no promptLength (encode the pairs with encodeDpoPairs)`);
    return [
      { id: `${p.id}:chosen`, ids: p.chosen, promptLength: p.promptLength, desirable: true },
      { id: `${p.id}:rejected`, ids: p.rejected, promptLength: p.promptLength, desirable: false },
    ];
  });
}

export interface KtoBatch extends ReplyRows {
  /** Each row's single (named in errors). */
  replyIds: string[];
  /** 1 desirable, 0 undesirable, per row. */
  desirable: Float32Array;
  /** The reference's summed reply log-probability per row. */
  refLogps: Float32Array;
  /** KTO's reference point z0 for this batch (the clamped KL estimate). */
  z0: number;
  /** Rows, desirable rows and undesirable rows of the whole batch before any split (for per-class means). */
  counts: { rows: number; desirable: number; undesirable: number };
  kto?: KtoOptions;
}

function rowsOf(items: { ids: number[]; promptLength: number }[], padId: number): ReplyRows {
  const L = Math.max(...items.map((s) => s.ids.length));
  const ids = new Int32Array(items.length * L).fill(padId);
  items.forEach((s, r) => ids.set(s.ids, r * L));
  return { rows: items.length, length: L, ids, lengths: Int32Array.from(items, (s) => s.ids.length), promptLengths: Int32Array.from(items, (s) => s.promptLength) };
}

function summedLogps(model: Decoder, rows: ReplyRows): Float32Array {
  const r = replyLogps(model, rows);
  const out = Float32Array.from(r.logps.dataSync());
  tf.dispose([r.logps, r.meanLogits, r.meanEntropy]);
  return out;
}

export interface KtoBatchesOptions {
  /** The model being trained (its current weights give z0) and the frozen reference. */
  policy: Decoder;
  reference: Decoder;
  batchSize: number;
  padId: number;
  seed?: number;
}

/**
 * Batches of singles, shuffled per epoch, each with the reference's
 * log-probabilities and z0 computed when it is made (two no-gradient passes
 * of the reference, one of the policy).
 */
export function ktoBatches(singles: KtoSingle[], o: KtoBatchesOptions): AsyncBatchSource<KtoBatch> {
  if (singles.length < 2) throw new Error(`ktoBatches: ${singles.length} singles; the KL estimate needs at least two`);
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 2)) throw new Error(`ktoBatches: batchSize must be an integer >= 2 (the KL estimate matches each prompt with another row's reply), got ${o.batchSize}`);
  const perEpoch = Math.ceil(singles.length / o.batchSize);
  return {
    async batch(step, micro) {
      const index = step + micro;
      const epoch = Math.floor(index / perEpoch);
      const order = singles.map((_, i) => i);
      const draw = randomStream(`kto:${o.seed ?? 0}:${epoch}`);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(draw() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      const at = (index % perEpoch) * o.batchSize;
      const picked = order.slice(at, at + o.batchSize).map((i) => singles[i]);
      if (picked.length < 2) picked.push(singles[order[0]]); // a lone last row of an epoch gets a partner for the KL estimate
      const rows = rowsOf(picked, o.padId);
      // Prompt i with the reply of row i + 1: replies unrelated to their prompt, whose log-ratio estimates KL(π || π_ref).
      // A long prompt with a long reply can outgrow the context: the mismatched reply is cut to fit (it only estimates z0).
      const room = o.policy.config.max_position_embeddings;
      const mismatched = rowsOf(picked.map((s, i) => {
        const other = picked[(i + 1) % picked.length];
        const reply = other.ids.slice(other.promptLength).slice(0, Math.max(1, room - s.promptLength));
        return { ids: [...s.ids.slice(0, s.promptLength), ...reply], promptLength: s.promptLength };
      }), o.padId);
      const policyKl = summedLogps(o.policy, mismatched);
      const referenceKl = summedLogps(o.reference, mismatched);
      const z0 = Math.max(0, policyKl.reduce((a, x, i) => a + x - referenceKl[i], 0) / picked.length);
      const desirable = Float32Array.from(picked, (s) => (s.desirable ? 1 : 0));
      const nd = desirable.reduce((a, b) => a + b, 0);
      return {
        ...rows, replyIds: picked.map((s) => s.id), desirable, refLogps: summedLogps(o.reference, rows), z0,
        counts: { rows: picked.length, desirable: nd, undesirable: picked.length - nd },
      };
    },
  };
}

function sliceKto(batch: KtoBatch, from: number, to: number): KtoBatch {
  const L = batch.length;
  return {
    ...batch, rows: to - from, ids: batch.ids.slice(from * L, to * L), lengths: batch.lengths.slice(from, to), promptLengths: batch.promptLengths.slice(from, to),
    replyIds: batch.replyIds.slice(from, to), desirable: batch.desirable.slice(from, to), refLogps: batch.refLogps.slice(from, to),
  };
}

/**
 * KTO (Ethayarajh et al. 2024, arXiv:2402.01306) as an objective. Its count is
 * replies, so the loop's loss is the mean over replies, as in TRL. Metrics by
 * KTOTrainer's names: kl (z0), rewards/chosen and rewards/rejected (β ·
 * log-ratio, means over the desirable and the undesirable replies),
 * rewards/margins, logps/chosen, logps/rejected, num_tokens.
 */
export function ktoObjective(options: KtoOptions = {}): Objective<KtoBatch> {
  checkKtoOptions(options); // fails now on bad settings
  return {
    name: 'kto',
    metricReduce: { num_tokens: 'total' },
    rows: (batch) => batch.rows,
    tokens: (batch) => batch.lengths.reduce((a, b) => a + b, 0),
    split: (batch, parts) => splitByRows(batch.rows, parts, (from, to) => ({ ...sliceKto(batch, from, to), kto: batch.kto ?? options })),
    validate(batch, model) {
      const V = model.config.vocab_size;
      const k = batch.ids.findIndex((id) => !(id >= 0 && id < V));
      if (k >= 0) throw new Error(`kto objective: reply ${batch.replyIds[Math.floor(k / batch.length)]}, position ${k % batch.length}: id ${batch.ids[k]} is outside the vocabulary [0, ${V - 1}]`);
    },
    loss(model: Decoder, batch: KtoBatch, context: ObjectiveContext): ObjectiveOutput {
      const R = batch.rows;
      const seed = context.dropoutSeed;
      const first = context.firstRow ?? 0;
      const r = replyLogps(model, batch, {
        dropoutRowSeeds: seed === undefined ? undefined : Array.from({ length: R }, (_, i) => hashString(`${seed}:${first + i}`)),
        gradientCheckpointing: context.gradientCheckpointing,
      });
      const desirable = tf.tensor1d(batch.desirable);
      const out = ktoLoss({ policy: r.logps, reference: tf.tensor1d(batch.refLogps), desirable, klPolicy: tf.tensor1d([batch.z0]), klReference: tf.tensor1d([0]) }, batch.kto ?? options);
      const { rows, desirable: nd, undesirable: nu } = batch.counts;
      // Per-class means of the whole batch, as sums that the loop divides by its row count.
      const classMean = (x: tf.Tensor1D, mask: tf.Tensor1D, n: number) => tf.mul(tf.sum(tf.mul(x, mask)), n > 0 ? rows / n : 0) as tf.Scalar;
      const undesirable = tf.sub(1, desirable) as tf.Tensor1D;
      const chosen = classMean(out.rewards, desirable, nd);
      const rejected = classMean(out.rewards, undesirable, nu);
      return {
        lossSum: tf.mul(out.loss, R),
        count: R,
        metrics: {
          kl: tf.mul(out.kl, R) as tf.Scalar,
          'rewards/chosen': chosen,
          'rewards/rejected': rejected,
          'rewards/margins': tf.sub(chosen, rejected) as tf.Scalar,
          'logps/chosen': classMean(r.logps, desirable, nd),
          'logps/rejected': classMean(r.logps, undesirable, nu),
          num_tokens: tf.scalar(batch.lengths.reduce((a, b) => a + b, 0)),
        },
      };
    },
  };
}

/** The objective a worker thread rebuilds by the name 'kto'. */
export const defaultKtoObjective = ktoObjective();
