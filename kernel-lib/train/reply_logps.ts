// Sequence log-probabilities of replies: for rows that hold a prompt followed
// by a reply (padded on the right), the sum over the reply's tokens of
// log p(token | everything before it). Prompt tokens and padding add nothing.
// The preference objectives (DPO and its family, KTO) are functions of these.
import * as tf from '@tensorflow/tfjs';
import { forward, type Decoder } from '../model/decoder';

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

/** One forward over the rows: each reply's summed log-probability, with TRL's logits and entropy figures. */
export function replyLogps(model: Decoder, rows: ReplyRows, options: { dropoutRowSeeds?: number[] } = {}): ReplyLogps {
  const { rows: R, length: L } = rows;
  const { weights, tokens } = replyTokenWeights(rows);
  const V = model.config.vocab_size;
  // Targets: the next token at each position (the last position predicts nothing and has weight 0).
  const targets = new Int32Array(R * L);
  for (let r = 0; r < R; r++) for (let t = 0; t < L - 1; t++) targets[r * L + t] = rows.ids[r * L + t + 1];
  return tf.tidy(() => {
    const ids = tf.tensor2d(rows.ids, [R, L], 'int32');
    const keyMask = tf.tensor2d(Int32Array.from({ length: R * L }, (_, k) => (k % L < rows.lengths[Math.floor(k / L)] ? 1 : 0)), [R, L], 'int32');
    const logits = tf.reshape(forward(model, ids, { keyMask, dropoutRowSeeds: options.dropoutRowSeeds }).logits, [R * L, V]);
    const logZ = tf.logSumExp(logits, -1);
    const picked = tf.sum(tf.mul(logits, tf.oneHot(tf.tensor1d(targets, 'int32'), V)), -1);
    const w = tf.tensor1d(weights);
    const perRow = (x: tf.Tensor) => tf.sum(tf.reshape(tf.mul(x, w), [R, L]), 1);
    const logps = perRow(tf.sub(picked, logZ)) as tf.Tensor1D;
    // The figures below are logged, not trained: no gradient needed, but tidy keeps them cheap.
    const probs = tf.softmax(logits);
    const entropy = tf.sub(logZ, tf.sum(tf.mul(probs, logits), -1));
    const n = tf.tensor1d(Float32Array.from(tokens));
    return { logps, tokens, meanLogits: tf.div(perRow(tf.mean(logits, -1)), n) as tf.Tensor1D, meanEntropy: tf.div(perRow(entropy), n) as tf.Tensor1D };
  });
}
