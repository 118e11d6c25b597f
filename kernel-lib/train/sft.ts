// Supervised fine-tuning (instruction tuning): conversations rendered by a
// chat template and tokenized, the loss on the assistant's tokens (their
// end-of-turn token included, so the tuned model learns to stop), batches
// padded or packed. The `sft` objective is the masked next-token loss with
// TRL's metrics; which tokens train is settled when the dataset is built (the
// mask travels in the batch), so the objective needs no options and a worker
// thread rebuilds it from its name alone.
import * as tf from '@tensorflow/tfjs';
import type { Conversation, Message } from '../data/records';
import { forward, type Decoder } from '../model/decoder';
import { assistantMask, buildSftExample } from '../text/assistant_mask';
import type { BpeTokenizer } from '../text/bpe_tokenizer';
import type { ChatTemplate } from '../text/chat_types';
import { tokenCrossEntropySum } from './cross_entropy';
import { checkLmBatch, rowSeed } from './lm';
import { splitByRows, type Objective, type ObjectiveContext, type ObjectiveOutput } from './objective';
import { sftBatches, type SftBatchExample, type SftBatchSource } from './sft_batch';
import type { SftBatch } from './sft_pack';

/** What the data pipeline does; names follow TRL's SFTConfig (camelCased) where it has the option. */
export interface SftConfig {
  /** Train only on assistant replies (and their end-of-turn tokens) of conversations. Default true; false trains on every token (the ablation). */
  assistantOnlyLoss?: boolean;
  /** Prompt-completion records: train only on the completion (and its end token). Default true; false trains on the prompt too. */
  completionOnlyLoss?: boolean;
  /** Pack several conversations into each row of maxLength inputs, attention and positions kept apart per conversation. Default false (pad). */
  packing?: boolean;
  /** Longest row in model inputs (a conversation of n tokens needs n - 1). Required with packing; with padding, rows are cut to it. */
  maxLength?: number;
  /** Conversations longer than maxLength + 1 tokens: cut from the end (true), or fail naming the record (default false). */
  truncate?: boolean;
  /** Rows per micro-batch (TRL's per_device_train_batch_size): conversations when padding, packed rows when packing. */
  batchSize: number;
  /** Micro-batches per update, as in the train config (TRL's gradient_accumulation_steps); default 1. */
  accumulation?: number;
  /** Seeds the per-epoch shuffle (default 0). */
  seed?: number;
}

/** A prompt-completion record (TRL's format): text or messages for each part. */
export interface PromptCompletion {
  kind: 'prompt-completion';
  prompt: string | Message[];
  completion: string | Message[];
  source: string;
  id: string;
}

export type SftRecord = Conversation | PromptCompletion;

/** A tokenized record, named for errors. */
export interface SftExampleOf extends SftBatchExample {
  ids: number[];
  mask: number[];
  /** `${source} record ${id} (index i)` */
  name: string;
}

/** An SFT dataset that would train on nothing, or never teach the model to stop; the message names the record. */
export class SftDataError extends Error {
  override readonly name = 'SftDataError';
}

function checkConfig(c: SftConfig): void {
  if (!(Number.isInteger(c.batchSize) && c.batchSize >= 1)) throw new Error(`SftConfig.batchSize: expected a positive integer, got ${c.batchSize}`);
  if (c.maxLength !== undefined && !(Number.isInteger(c.maxLength) && c.maxLength >= 1)) throw new Error(`SftConfig.maxLength: expected a positive integer, got ${c.maxLength}`);
  if (c.packing && c.maxLength === undefined) throw new Error('SftConfig.maxLength: packing needs a row length (maxLength)');
  if (c.accumulation !== undefined && !(Number.isInteger(c.accumulation) && c.accumulation >= 1)) {
    throw new Error(`SftConfig.accumulation: expected a positive integer, got ${c.accumulation}`);
  }
}

/** Ids and mask of one record, before truncation; `stop` is the token that must be a target. */
function tokenizeRecord(record: SftRecord, tokenizer: BpeTokenizer, template: ChatTemplate, config: SftConfig, name: string): { ids: number[]; mask: number[]; stop: number | undefined } {
  if (record.kind === 'conversation') {
    const ex = buildSftExample(tokenizer, template, record.messages, { source: name });
    const mask = config.assistantOnlyLoss ?? true ? ex.mask : ex.ids.map(() => 1);
    return { ids: ex.ids, mask, stop: tokenizer.tokenToId(template.endOfTurn) };
  }
  const completionOnly = config.completionOnlyLoss ?? true;
  if (typeof record.prompt === 'string' && typeof record.completion === 'string') {
    // No template: the text is prompt + completion + EOS, as TRL writes it.
    const eos = tokenizer.eosId === undefined ? undefined : tokenizer.idToToken(tokenizer.eosId);
    if (eos === undefined) throw new SftDataError(`${name}: a text prompt-completion record needs an EOS token to end the completion, and the tokenizer has none`);
    const text = record.prompt + record.completion + eos;
    const enc = tokenizer.encodeWithOffsets(text, { addSpecialTokens: false });
    const span = [{ start: record.prompt.length, end: text.length, messageIndex: 1, open: false }];
    return { ids: enc.ids, mask: completionOnly ? assistantMask(enc, span) : enc.ids.map(() => 1), stop: tokenizer.eosId };
  }
  if (typeof record.prompt === 'string' || typeof record.completion === 'string') {
    throw new SftDataError(`${name}: prompt and completion must both be text or both be messages`);
  }
  const prompt = record.prompt;
  const ex = buildSftExample(tokenizer, template, [...prompt, ...record.completion], { source: name });
  const completionSpans = ex.spans.filter((s) => s.messageIndex >= prompt.length);
  const mask = completionOnly ? assistantMask(ex, completionSpans) : ex.ids.map(() => 1);
  return { ids: ex.ids, mask, stop: tokenizer.tokenToId(template.endOfTurn) };
}

/**
 * Tokenizes every record and checks, before any step, that each trains on
 * at least one token and has its end-of-turn token among its targets (after
 * truncation); an SftDataError names the first record that does not.
 */
export function sftExamples(records: SftRecord[], tokenizer: BpeTokenizer, template: ChatTemplate, config: SftConfig): SftExampleOf[] {
  checkConfig(config);
  if (records.length === 0) throw new SftDataError('sft: the dataset has no records');
  return records.map((record, index) => {
    const name = `${record.source} record ${record.id} (index ${index})`;
    let { ids, mask, stop } = tokenizeRecord(record, tokenizer, template, config, name);
    const limit = config.maxLength === undefined ? Infinity : config.maxLength + 1;
    const truncated = ids.length > limit;
    if (truncated) {
      if (!config.truncate) throw new SftDataError(`${name}: ${ids.length} tokens do not fit maxLength ${config.maxLength} + 1; raise maxLength or set truncate: true`);
      ids = ids.slice(0, limit);
      mask = mask.slice(0, limit);
    }
    const cut = truncated ? ' (after truncation to maxLength + 1)' : '';
    // ids[0] is never a target: only positions 1.. are predicted.
    let trained = 0;
    let stops = 0;
    for (let t = 1; t < ids.length; t++) {
      if (mask[t] === 0) continue;
      trained++;
      if (ids[t] === stop) stops++;
    }
    if (trained === 0) throw new SftDataError(`${name}: no token is trained on${cut}: the record would add nothing to the loss (check its assistant replies, the loss options or maxLength)`);
    if (stops === 0) {
      const what = stop === undefined ? 'end-of-turn token (none in the tokenizer)' : `end-of-turn token ${JSON.stringify(tokenizer.idToToken(stop))}`;
      throw new SftDataError(`${name}: the ${what} is never a target${cut}, so the model would never learn to stop`);
    }
    return { ids, mask, name };
  });
}

/** Tokenized examples and the batches drawn from them. */
export interface SftData {
  examples: SftExampleOf[];
  batches: SftBatchSource;
}

/**
 * From records to batches for `train(model, cfg, { objective: sftObjective, data: data.batches })`:
 * chat template, tokenizer, loss mask, checks, then padded or packed batches
 * shuffled per epoch. Everything that can fail does so here, naming the record.
 */
export function sftData(records: SftRecord[], tokenizer: BpeTokenizer, template: ChatTemplate, config: SftConfig): SftData {
  const examples = sftExamples(records, tokenizer, template, config);
  const batches = sftBatches(examples, {
    batchSize: config.batchSize,
    padId: tokenizer.pad,
    packing: config.packing,
    maxLength: config.maxLength,
    accumulation: config.accumulation,
    seed: config.seed,
    name: (i) => examples[i].name,
  });
  return { examples, batches };
}

/** Real tokens and sequences per row range, from the segment ids. */
function countTokens(segments: Int32Array, rows: number, length: number): { realTokens: number; numTokens: number } {
  let realTokens = 0;
  let sequences = 0;
  for (let r = 0; r < rows; r++) {
    let last = 0;
    for (let t = 0; t < length; t++) {
      const s = segments[r * length + t];
      if (s !== 0) realTokens++;
      if (s !== 0 && s !== last) sequences++;
      last = s;
    }
  }
  return { realTokens, numTokens: realTokens + sequences };
}

function sliceRows(batch: SftBatch, from: number, to: number): SftBatch {
  const a = from * batch.length;
  const b = to * batch.length;
  const segments = batch.segments?.subarray(a, b);
  // Without segment ids every slot is a token, and every row one sequence.
  const counts = segments ? countTokens(segments, to - from, batch.length) : { realTokens: (to - from) * batch.length, numTokens: (to - from) * (batch.length + 1) };
  return {
    rows: to - from,
    length: batch.length,
    inputs: batch.inputs.subarray(a, b),
    targets: batch.targets.subarray(a, b),
    mask: batch.mask?.subarray(a, b),
    segments,
    positions: batch.positions?.subarray(a, b),
    ...counts,
    source: batch.source,
  };
}

/**
 * Per-token metrics summed over trained tokens (weighted by the mask), for
 * logits [N, V]: the entropy of the predictive distribution, and how many
 * argmax predictions equal the target. Divided by the trained-token count
 * they are `entropy` and `mean_token_accuracy`. TRL's accuracy is over the
 * same tokens; its entropy averages every non-padding token, prompts
 * included, where this one watches only the tokens being learned.
 */
export function sftMetricSums(logits: tf.Tensor2D, targets: tf.Tensor1D, weights?: tf.Tensor1D): { entropy: tf.Scalar; correct: tf.Scalar } {
  return tf.tidy(() => {
    const w = weights ?? tf.onesLike(targets).toFloat();
    const logp = tf.logSoftmax(logits);
    const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1));
    const hit = tf.cast(tf.equal(tf.argMax(logits, -1), tf.cast(targets, 'int32')), 'float32');
    return { entropy: tf.sum(tf.mul(entropy, w)), correct: tf.sum(tf.mul(hit, w)) };
  });
}

function checkSftBatch(batch: SftBatch, vocabSize: number, firstRow = 0): void {
  checkLmBatch(batch, vocabSize, firstRow);
  const n = batch.rows * batch.length;
  for (const [field, a] of [['segments', batch.segments], ['positions', batch.positions]] as const) {
    if (a && a.length !== n) throw new Error(`${batch.source ?? 'sft batch'}: ${field} has ${a.length} entries, expected rows * length = ${n}`);
  }
}

/**
 * The masked next-token loss over trained tokens, with TRL's `entropy`,
 * `mean_token_accuracy` (means over trained tokens) and `num_tokens` (the
 * running total of conversation tokens, prompts included, as TRL counts
 * them: from the step a run starts or resumes at). A step's `tokens` and
 * `tokens_per_s` count the tokens fed to the model (padding left out).
 */
export const sftObjective: Objective<SftBatch> = {
  name: 'sft',
  perplexity: true,
  metricReduce: { num_tokens: 'total' },
  tokens: (batch) => batch.realTokens,
  split: (batch, parts) => splitByRows(batch.rows, parts, (from, to) => sliceRows(batch, from, to)),
  rows: (batch) => batch.rows,
  validate: (batch, model) => checkSftBatch(batch, model.config.vocab_size),
  loss(model: Decoder, batch: SftBatch, context: ObjectiveContext): ObjectiveOutput {
    checkSftBatch(batch, model.config.vocab_size, context.firstRow);
    const { rows, length } = batch;
    const n = rows * length;
    const V = model.config.vocab_size;
    const mask = batch.mask ?? new Float32Array(n).fill(1);
    const trained: number[] = [];
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (mask[i] !== 0) trained.push(i);
      count += mask[i];
    }
    const ids = tf.tensor2d(batch.inputs, [rows, length], 'int32');
    // Packed rows carry positions; padded rows (one sequence each, padding on
    // the right) need neither a block mask nor restarted positions. They get
    // a key mask all the same: without one the decoder keeps a causal mask
    // per row length, and padded batches come in many lengths.
    const packed = batch.segments !== undefined && batch.positions !== undefined;
    const options = {
      segmentIds: packed ? tf.tensor2d(batch.segments!, [rows, length], 'int32') : undefined,
      positions: packed ? tf.tensor2d(batch.positions!, [rows, length], 'int32') : undefined,
      keyMask: packed ? undefined : tf.tensor2d(batch.segments ?? new Int32Array(n).fill(1), [rows, length], 'int32'),
      dropoutRowSeeds: context.dropoutSeed === undefined ? undefined : Array.from({ length: rows }, (_, r) => rowSeed(context.dropoutSeed!, (context.firstRow ?? 0) + r)),
      gradientCheckpointing: context.gradientCheckpointing,
    };
    const logits = tf.reshape(forward(model, ids, options).logits, [n, V]) as tf.Tensor2D;
    const lossSum = tokenCrossEntropySum(logits, tf.tensor1d(batch.targets, 'int32'), tf.tensor1d(mask, 'float32'));
    // Metrics on the trained rows only (no gradient flows through them).
    const pick = tf.tensor1d(Int32Array.from(trained), 'int32');
    const m = sftMetricSums(tf.gather(logits, pick), tf.gather(tf.tensor1d(batch.targets, 'int32'), pick), tf.gather(tf.tensor1d(mask, 'float32'), pick));
    return { lossSum, count, metrics: { entropy: m.entropy, mean_token_accuracy: m.correct, num_tokens: tf.scalar(batch.numTokens) } };
  },
};
