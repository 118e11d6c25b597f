// Sequence log-probabilities of replies: for rows that hold a prompt followed
// by a reply (padded on the right), the sum over the reply's tokens of
// log p(token | everything before it). Prompt tokens and padding add nothing.
// The preference objectives (DPO and its family, KTO) are functions of these.
import * as tf from '@tensorflow/tfjs';
import { hiddenStates, outputLogits, type Decoder, type GradientCheckpointing } from '../model/decoder';
import { scoreHead } from '../model/reward_model';

export interface ReplyRows {
  rows: number;
  length: number;
  /** [rows * length] token ids, each row a prompt, its reply, then padding. */
  ids: Int32Array;
  /** Real tokens per row (prompt + reply). */
  lengths: Int32Array;
  /** Prompt tokens per row; the reply is tokens promptLength .. length - 1. */
  promptLengths: Int32Array;
}

export interface ReplyLogps {
  /** Summed log-probability of each row's reply tokens [rows] (differentiable). */
  logps: tf.Tensor1D;
  /** Reply tokens per row. */
  tokens: Int32Array;
  /** Per row, the mean over reply tokens of the mean logit over the vocabulary (TRL's logits/chosen, logits/rejected) [rows]. */
  meanLogits: tf.Tensor1D;
  /** Per row, the mean over reply tokens of the predicted distribution's entropy (nats) [rows]. */
  meanEntropy: tf.Tensor1D;
}

/** The training settings of the forward: per-row dropout seeds and gradient checkpointing (ForwardOptions). */
export interface ReplyForwardOptions {
  dropoutRowSeeds?: number[];
  gradientCheckpointing?: GradientCheckpointing;
}

/**
 * The weight of each prediction: position t predicts token t + 1, which
 * counts when it is a reply token (promptLength <= t + 1 < length).
 * Throws, naming the row, when a row has no reply token or lengths do not fit.
 */
export function replyTokenWeights(rows: ReplyRows, where = 'replyLogps'): { weights: Float32Array; tokens: Int32Array } {
  const { rows: R, length: L } = rows;
  if (rows.ids.length !== R * L) throw new Error(`${where}: ${rows.ids.length} ids for ${R} rows of ${L}`);
  const weights = new Float32Array(R * L);
  const tokens = new Int32Array(R);
  for (let r = 0; r < R; r++) {
    const [n, p] = [rows.lengths[r], rows.promptLengths[r]];
    if (!(n >= 2 && n <= L)) throw new Error(`${where}: row ${r} has length ${n}; rows hold 2 to ${L} tokens`);
    if (!(p >= 1 && p < n)) throw new Error(`${where}: row ${r} has a prompt of ${p} tokens in ${n}; a reply needs at least one token after a non-empty prompt`);
    for (let t = p - 1; t < n - 1; t++) weights[r * L + t] = 1;
    tokens[r] = n - p;
  }
  return { weights, tokens };
}

/** Next-token targets of each position (the last position predicts nothing) and the key mask of the real tokens. */
function targetsAndMask(rows: ReplyRows): { targets: Int32Array; keyMask: Int32Array } {
  const { rows: R, length: L } = rows;
  const targets = new Int32Array(R * L);
  const keyMask = new Int32Array(R * L);
  for (let r = 0; r < R; r++) {
    for (let t = 0; t < L - 1; t++) targets[r * L + t] = rows.ids[r * L + t + 1];
    for (let t = 0; t < rows.lengths[r]; t++) keyMask[r * L + t] = 1;
  }
  return { targets, keyMask };
}

/**
 * log p(next token) at every position [R * L], with the flat logits, their
 * log-normaliser and the final hidden states (inside the caller's tidy).
 */
function positionLogps(model: Decoder, rows: ReplyRows, options: ReplyForwardOptions): { logp: tf.Tensor1D; logits: tf.Tensor2D; logZ: tf.Tensor1D; hidden: tf.Tensor2D } {
  const { rows: R, length: L } = rows;
  const V = model.config.vocab_size;
  const { targets, keyMask } = targetsAndMask(rows);
  const ids = tf.tensor2d(rows.ids, [R, L], 'int32');
  const { hidden } = hiddenStates(model, ids, { keyMask: tf.tensor2d(keyMask, [R, L], 'int32'), dropoutRowSeeds: options.dropoutRowSeeds, gradientCheckpointing: options.gradientCheckpointing });
  const logits = outputLogits(model, hidden);
  const logZ = tf.logSumExp(logits, -1) as tf.Tensor1D;
  const picked = tf.sum(tf.mul(logits, tf.oneHot(tf.tensor1d(targets, 'int32'), V)), -1);
  return { logp: tf.sub(picked, logZ) as tf.Tensor1D, logits, logZ, hidden };
}

/** Entropy (nats) of the predicted distribution at every position [R * L]. */
function positionEntropy(logits: tf.Tensor2D, logZ: tf.Tensor1D): tf.Tensor1D {
  return tf.sub(logZ, tf.sum(tf.mul(tf.softmax(logits), logits), -1)) as tf.Tensor1D;
}

/** One forward over the rows: each reply's summed log-probability, with TRL's logits and entropy figures. */
export function replyLogps(model: Decoder, rows: ReplyRows, options: ReplyForwardOptions = {}): ReplyLogps {
  const { rows: R, length: L } = rows;
  const { weights, tokens } = replyTokenWeights(rows);
  return tf.tidy(() => {
    const { logp, logits, logZ } = positionLogps(model, rows, options);
    const w = tf.tensor1d(weights);
    const perRow = (x: tf.Tensor) => tf.sum(tf.reshape(tf.mul(x, w), [R, L]), 1);
    const logps = perRow(logp) as tf.Tensor1D;
    // The figures below are logged, not trained: no gradient needed, but tidy keeps them cheap.
    const n = tf.tensor1d(Float32Array.from(tokens));
    return { logps, tokens, meanLogits: tf.div(perRow(tf.mean(logits, -1)), n) as tf.Tensor1D, meanEntropy: tf.div(perRow(positionEntropy(logits, logZ)), n) as tf.Tensor1D };
  });
}

export interface ReplyTokenLogps {
  /** log p of each reply token at the position that predicts it [rows, length]: column t holds the token at t + 1; 0 off the reply (differentiable). */
  logps: tf.Tensor2D;
  /** 1 where column t predicts a reply token, else 0 [rows, length]. */
  mask: tf.Tensor2D;
  /** Entropy (nats) of the predicted distribution at each position [rows, length], 0 off the reply. */
  entropy: tf.Tensor2D;
  /** Reply tokens per row. */
  tokens: Int32Array;
  /** With `values`: the model's score head at each position [rows, length] (PPO's value of the state before each reply token), 0 off the reply. */
  values?: tf.Tensor2D;
}

/**
 * The per-token form of replyLogps, for policy-gradient losses, which weigh
 * each sampled token by its own probability ratio: one forward, every reply
 * token's log-probability in place, prompt and padding masked out.
 */
export function replyTokenLogps(model: Decoder, rows: ReplyRows, options: ReplyForwardOptions & { values?: boolean } = {}): ReplyTokenLogps {
  const { rows: R, length: L } = rows;
  const { weights, tokens } = replyTokenWeights(rows, 'replyTokenLogps');
  return tf.tidy(() => {
    const { logp, logits, logZ, hidden } = positionLogps(model, rows, options);
    const mask = tf.tensor2d(weights, [R, L]);
    return {
      logps: tf.mul(tf.reshape(logp, [R, L]), mask) as tf.Tensor2D,
      mask,
      entropy: tf.mul(tf.reshape(positionEntropy(logits, logZ), [R, L]), mask) as tf.Tensor2D,
      tokens,
      ...(options.values ? { values: tf.mul(tf.reshape(tf.matMul(hidden, scoreHead(model)), [R, L]), mask) as tf.Tensor2D } : {}),
    };
  });
}
