// Instruction-tuning examples (token ids plus an assistant mask) packed into
// the `lm` objective's batch: inputs are ids[0..n-1], targets ids[1..n], and a
// target is trained on only when its token is an assistant token. Rows are
// padded on the right (causal attention never looks right, so padding cannot
// change a real token's logits) and the padding's mask is 0, set by length,
// never by comparing ids with PAD: that comparison would also drop an
// end-of-turn token that shares PAD's id.
// sftBatches draws such batches (padded, or packed by sft_pack.ts) from a
// whole dataset, shuffled per epoch.
import { randomStream } from '../runtime/seed';
import type { BatchSource } from './data';
import { exampleSlots, packedBatch, planPacking, type PackPlan, type SftBatch } from './sft_pack';

export interface SftBatchExample {
  ids: ArrayLike<number>;
  mask: ArrayLike<number>;
}

export interface SftBatchOptions {
  padId: number;
  /** Row length (tokens fed in); default: the longest example minus one. */
  length?: number;
  /** Cut examples longer than length + 1 tokens from the end instead of failing. */
  truncate?: boolean;
  /** Names the examples in errors, e.g. 'train.jsonl'; row i is reported as `${source} row i`. */
  source?: string;
}

/** One example a row, right-padded; see the file's header. */
export function sftBatch(examples: SftBatchExample[], options: SftBatchOptions): SftBatch {
  if (examples.length === 0) throw new Error('sftBatch: no examples');
  const name = (i: number) => `${options.source ?? 'sftBatch'} row ${i}`;
  examples.forEach((e, i) => {
    if (e.ids.length !== e.mask.length) throw new Error(`${name(i)}: ${e.ids.length} ids but ${e.mask.length} mask entries`);
    if (e.ids.length < 2) throw new Error(`${name(i)}: ${e.ids.length} token(s); an example needs at least 2 to predict anything`);
  });
  const length = options.length ?? Math.max(...examples.map((e) => e.ids.length - 1));
  const rows = examples.length;
  const inputs = new Int32Array(rows * length).fill(options.padId);
  const targets = new Int32Array(rows * length).fill(options.padId);
  const mask = new Float32Array(rows * length);
  const segments = new Int32Array(rows * length);
  let realTokens = 0;
  let numTokens = 0;
  examples.forEach((e, r) => {
    let n = e.ids.length - 1;
    if (n > length) {
      if (!options.truncate) throw new Error(`${name(r)}: ${e.ids.length} tokens do not fit rows of ${length} + 1; pass truncate: true to cut them`);
      n = length;
    }
    let trained = 0;
    for (let t = 0; t < n; t++) {
      inputs[r * length + t] = e.ids[t];
      targets[r * length + t] = e.ids[t + 1];
      mask[r * length + t] = e.mask[t + 1];
      segments[r * length + t] = 1;
      trained += e.mask[t + 1];
    }
    realTokens += n;
    numTokens += n + 1;
    if (trained === 0) {
      throw new Error(
        `${name(r)}: no assistant token among its targets${n < e.ids.length - 1 ? ' after truncation' : ''}: the row would train on nothing (check the template's assistant spans, or the truncation length)`,
      );
    }
  });
  return { rows, length, inputs, targets, mask, segments, realTokens, numTokens, source: options.source };
}

export interface SftSourceOptions {
  /** Rows per micro-batch: conversations when padding, packed rows when packing. */
  batchSize: number;
  padId: number;
  /** Pack several conversations into rows of maxLength inputs (see sft_pack.ts); default false: one a row, padded to the longest in the batch. */
  packing?: boolean;
  /** Longest row in inputs; a conversation of n ids needs n - 1. Required with packing. */
  maxLength?: number;
  /** Cut conversations longer than maxLength + 1 ids instead of failing. */
  truncate?: boolean;
  /** Micro-batches per update (the train config's accumulation), so that batch (step, micro) is the (step * accumulation + micro)-th of the stream. */
  accumulation?: number;
  /** Seeds the per-epoch shuffle (default 0). */
  seed?: number;
  /** Names the data in errors, e.g. 'data/world/sft-train.jsonl'. */
  source?: string;
  /** Names example i in errors (its record's source and id). */
  name?: (index: number) => string;
}

/** A batch source over tokenized conversations, shuffled per epoch; also says how full its rows are. */
export interface SftBatchSource extends BatchSource<SftBatch> {
  /** Units an epoch goes through: conversations (padding) or packed rows (packing). */
  readonly unitsPerEpoch: number;
  /** The packing plan (with packing). */
  readonly plan?: PackPlan;
  /** Micro-batches per update it was made for. */
  readonly accumulation: number;
}

/**
 * Batches for the `sft` objective from tokenized examples. The stream of
 * units (conversations, or packed rows made once by best-fit decreasing) is
 * shuffled anew every epoch from (seed, epoch); batch k takes the stream's
 * units k * batchSize ... (k + 1) * batchSize - 1, so a batch is a pure
 * function of (step, micro) and a resumed run sees what an uninterrupted one would.
 */
export function sftBatches(examples: SftBatchExample[], options: SftSourceOptions): SftBatchSource {
  const { batchSize, padId } = options;
  if (examples.length === 0) throw new Error(`${options.source ?? 'sftBatches'}: no examples`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`sftBatches: batchSize must be a positive integer, got ${batchSize}`);
  const accumulation = options.accumulation ?? 1;
  if (options.packing && options.maxLength === undefined) throw new Error('sftBatches: packing needs maxLength (the row length)');
  const fit = { rowLength: options.maxLength ?? Math.max(...examples.map((e) => e.ids.length - 1)), truncate: options.truncate, source: options.source, name: options.name };
  const plan = options.packing ? planPacking(examples, fit) : undefined;
  // Everything a batch could fail on is found now, before the first step, naming the example.
  exampleSlots(examples, fit).forEach((slots, i) => {
    let trained = 0;
    for (let t = 1; t <= slots; t++) trained += examples[i].mask[t];
    if (trained === 0) {
      throw new Error(`${options.name ? options.name(i) : `${options.source ?? 'sft'} example ${i}`}: no target is trained on${slots < examples[i].ids.length - 1 ? ' after truncation' : ''}: the example would add nothing to the loss`);
    }
  });
  const units = plan ? plan.rows.length : examples.length;
  const perms = new Map<number, Int32Array>();
  const permutation = (epoch: number): Int32Array => {
    let p = perms.get(epoch);
    if (!p) {
      p = Int32Array.from({ length: units }, (_, i) => i);
      const uniform = randomStream(`sft-epoch:${options.seed ?? 0}:${epoch}`);
      for (let i = units - 1; i > 0; i--) {
        const j = Math.floor(uniform() * (i + 1));
        [p[i], p[j]] = [p[j], p[i]];
      }
      if (perms.size > 4) perms.clear();
      perms.set(epoch, p);
    }
    return p;
  };
  return {
    unitsPerEpoch: units,
    plan,
    accumulation,
    batch(step, micro) {
      const first = (step * accumulation + micro) * batchSize;
      const picked = Array.from({ length: batchSize }, (_, j) => permutation(Math.floor((first + j) / units))[(first + j) % units]);
      if (plan) return packedBatch(examples, plan, picked, padId, options.source);
      const chosen = picked.map((i) => examples[i]);
      const length = options.maxLength === undefined ? undefined : Math.min(options.maxLength, Math.max(...chosen.map((e) => e.ids.length - 1)));
      return sftBatch(chosen, { padId, length, truncate: options.truncate, source: options.source });
    },
  };
}

/**
 * Every example exactly once, in order, as batches of `batchSize` rows (padded,
 * or packed by the same best-fit decreasing rule): for evaluation, where the
 * loss must cover a fixed set once rather than a shuffled stream.
 */
export function sftEvalBatches(examples: SftBatchExample[], options: Omit<SftSourceOptions, 'accumulation' | 'seed'>): SftBatch[] {
  const source = sftBatches(examples, options);
  const units = source.unitsPerEpoch;
  const batches: SftBatch[] = [];
  for (let from = 0; from < units; from += options.batchSize) {
    const picked = Array.from({ length: Math.min(options.batchSize, units - from) }, (_, j) => from + j);
    if (source.plan) {
      batches.push(packedBatch(examples, source.plan, picked, options.padId, options.source));
    } else {
      const chosen = picked.map((i) => examples[i]);
      const length = options.maxLength === undefined ? undefined : Math.min(options.maxLength, Math.max(...chosen.map((e) => e.ids.length - 1)));
      batches.push(sftBatch(chosen, { padId: options.padId, length, truncate: options.truncate, source: options.source }));
    }
  }
  return batches;
}
