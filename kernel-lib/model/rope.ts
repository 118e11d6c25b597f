// Rotary position embeddings, in transformers' "rotate half" convention:
// x' = x * cos + rotate_half(x) * sin, where rotate_half([x1, x2]) = [-x2, x1]
// splits head_dim in halves and cos/sin repeat the angles over both halves.
// rotate_half is a fixed signed permutation, so it is applied as one small
// matrix product instead of two slices, a negation and a concat (fewer
// kernels forward and backward).
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config';

export interface RopeTables {
  /** cos and sin for positions 0..max-1: [max, head_dim]. */
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
  /** [head_dim, head_dim] with x @ rotate = rotate_half(x). */
  rotate: tf.Tensor2D;
  /** cos/sin broadcastable over [B, heads, T, head_dim] for these positions (created in the caller's scope). */
  at(batch: number, time: number, past: number, positions?: tf.Tensor2D): { cos: tf.Tensor; sin: tf.Tensor };
  /** The causal additive mask [T, T], cached per length. */
  causalBias(time: number): tf.Tensor2D;
  dispose(): void;
}

export function ropeTables(config: ModelConfig): RopeTables {
  const hd = config.head_dim;
  const half = hd / 2;
  const max = config.max_position_embeddings;
  const cosV = new Float32Array(max * hd);
  const sinV = new Float32Array(max * hd);
  for (let pos = 0; pos < max; pos++) {
    for (let i = 0; i < half; i++) {
      // Same arithmetic order as transformers: inv_freq in float32, then pos * inv_freq.
      const invFreq = Math.fround(1 / Math.pow(config.rope_theta, (2 * i) / hd));
      const angle = Math.fround(pos * invFreq);
      cosV[pos * hd + i] = cosV[pos * hd + i + half] = Math.cos(angle);
      sinV[pos * hd + i] = sinV[pos * hd + i + half] = Math.sin(angle);
    }
  }
  const rot = new Float32Array(hd * hd);
  for (let j = 0; j < half; j++) {
    rot[(j + half) * hd + j] = -1; // out[j] = -x[j + half]
    rot[j * hd + j + half] = 1; // out[j + half] = x[j]
  }
  const cos = tf.keep(tf.tensor2d(cosV, [max, hd]));
  const sin = tf.keep(tf.tensor2d(sinV, [max, hd]));
  const rotate = tf.keep(tf.tensor2d(rot, [hd, hd]));
  const biases = new Map<number, tf.Tensor2D>();

  return {
    cos,
    sin,
    rotate,
    at(batch, time, past, positions) {
      if (positions) {
        const flat = tf.reshape(positions, [batch * time]);
        const max = config.max_position_embeddings;
        const pick = (table: tf.Tensor2D) => tf.reshape(tf.gather(table, tf.clipByValue(flat, 0, max - 1)), [batch, 1, time, hd]);
        return { cos: pick(cos), sin: pick(sin) };
      }
      return { cos: tf.slice(cos, [past, 0], [time, hd]), sin: tf.slice(sin, [past, 0], [time, hd]) };
    },
    causalBias(time) {
      let bias = biases.get(time);
      if (!bias) {
        const v = new Float32Array(time * time);
        for (let q = 0; q < time; q++) for (let k = q + 1; k < time; k++) v[q * time + k] = -1e9;
        bias = tf.keep(tf.tensor2d(v, [time, time]));
        biases.set(time, bias);
      }
      return bias;
    },
    dispose() {
      for (const t of [cos, sin, rotate, ...biases.values()]) t.dispose();
      biases.clear();
    },
  };
}

/** Rotates x [B, heads, T, hd] by the angles in cos/sin (broadcast to x). */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor, rotate: tf.Tensor2D): tf.Tensor4D {
  const [b, h, t, hd] = x.shape;
  const rotated = tf.reshape(tf.matMul(tf.reshape(x, [b * h * t, hd]), rotate), [b, h, t, hd]);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}
