// How far a model has moved from a reference model, measured along the
// model's own replies. Each reply (prompt ids + generated ids, stop token
// included) is teacher-forced through both models, and at every reply
// position t:
//   kl_t       = sum_v p_model(v | x, y<t) (log p_model(v | x, y<t) - log p_ref(v | x, y<t))
//   logRatio_t = log p_model(y_t | x, y<t) - log p_ref(y_t | x, y<t)
// Summed over a reply, then divided by the reply tokens of all replies
// pooled, these are `compare`'s two per-token figures:
// - `kl`: the exact KL of the next-token distributions along the replies.
//   Never negative, 0 exactly for a model against itself.
// - `logRatio`: the single-token estimate RLHF uses (Schulman's k1). On
//   replies *sampled* from the model its mean is the sequence KL per token;
//   on greedy replies it is not an estimate of KL at all, and can be
//   negative: two untrained decoders gave -0.24 per token, while `kl` was
//   +0.05 (a near-uniform model's own argmax is often likelier under a more
//   peaked reference).
import * as tf from '@tensorflow/tfjs';
import { forward, type Decoder } from '../model';
import { EvalError } from './errors';

export interface ReplySequence {
  promptIds: number[];
  /** The reply's ids, stop token included. */
  tokens: number[];
}

export interface ReplyDivergence {
  /** Sum over reply positions of KL(p_model || p_ref) of the next-token distributions. */
  kl: number;
  /** Sum over reply tokens of log p_model - log p_ref. */
  logRatio: number;
  tokens: number;
}

/** Per reply, the summed log-ratio and exact KL of `model` against `reference` (same vocabulary), in batches. */
export async function replyDivergences(model: Decoder, reference: Decoder, sequences: ReplySequence[], options: { batchSize?: number; label?: string } = {}): Promise<ReplyDivergence[]> {
  const batchSize = options.batchSize ?? 8;
  const where = `replyDivergences (${options.label ?? 'model'})`;
  const V = model.config.vocab_size;
  if (reference.config.vocab_size !== V) {
    throw new EvalError(`${where}: the model has vocab_size ${V} but the reference has ${reference.config.vocab_size}; KL needs the same vocabulary`);
  }
  const room = Math.min(model.config.max_position_embeddings, reference.config.max_position_embeddings);
  sequences.forEach((s, i) => {
    if (s.promptIds.length + s.tokens.length - 1 > room) {
      throw new EvalError(`${where}: reply ${i} needs ${s.promptIds.length + s.tokens.length - 1} positions, more than max_position_embeddings (${room}) of the model or the reference`);
    }
  });
  const out: ReplyDivergence[] = [];
  for (let start = 0; start < sequences.length; start += batchSize) {
    const batch = sequences.slice(start, start + batchSize);
    // Inputs are the sequence without its last id; targets are shifted by one.
    // Rows are right-padded: causal attention never reads what comes after.
    const L = Math.max(...batch.map((s) => s.promptIds.length + s.tokens.length - 1));
    const B = batch.length;
    const inputs = new Int32Array(B * L);
    const targets = new Int32Array(B * L);
    const mask = new Float32Array(B * L);
    batch.forEach((s, r) => {
      const ids = [...s.promptIds, ...s.tokens];
      for (let t = 0; t < ids.length - 1; t++) {
        inputs[r * L + t] = ids[t];
        targets[r * L + t] = ids[t + 1];
        if (t >= s.promptIds.length - 1) mask[r * L + t] = 1;
      }
    });
    const [ratioT, klT] = tf.tidy(() => {
      const ids = tf.tensor2d(inputs, [B, L], 'int32');
      const lpModel = tf.logSoftmax(forward(model, ids).logits);
      const lpRef = tf.logSoftmax(forward(reference, ids).logits);
      // oneHot as int32, then cast: tfjs-wasm 4.22 writes a float32 oneHot wrongly.
      const chosen = tf.cast(tf.oneHot(tf.tensor2d(targets, [B, L], 'int32'), V), 'float32');
      const diff = tf.sub(lpModel, lpRef);
      const m = tf.tensor2d(mask, [B, L]);
      return [tf.mul(tf.sum(tf.mul(diff, chosen), -1), m), tf.mul(tf.sum(tf.mul(tf.exp(lpModel), diff), -1), m)];
    });
    const [ratio, kl] = [(await ratioT.data()) as Float32Array, (await klT.data()) as Float32Array];
    ratioT.dispose();
    klT.dispose();
    batch.forEach((s, r) => {
      let a = 0;
      let b = 0;
      for (let t = 0; t < L; t++) {
        a += ratio[r * L + t];
        b += kl[r * L + t];
      }
      out.push({ logRatio: a, kl: b, tokens: s.tokens.length });
    });
  }
  return out;
}
