// Rotary position embeddings, in transformers' "rotate half" convention:
// x' = x * cos + rotate_half(x) * sin, where rotate_half([x1, x2]) = [-x2, x1]
// splits head_dim in halves and cos/sin repeat the angles over both halves.
// rotate_half is a fixed signed permutation, so it is applied as one small
// matrix product instead of two slices, a negation and a concat (fewer
// kernels forward and backward).
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config';
import { inverseFrequencies } from './rope_scaling';

export interface RopeTables {
  /** [head_dim, head_dim] with x @ rotate = rotate_half(x). */
  rotate: tf.Tensor2D;
  /** Positions the cos/sin tables cover so far; they grow as longer sequences arrive. */
  readonly length: number;
  /** cos/sin broadcastable over [B, heads, T, head_dim] for these positions (created in the caller's scope). */
  at(batch: number, time: number, past: number, positions?: tf.Tensor2D): { cos: tf.Tensor; sin: tf.Tensor };
  /** The causal additive mask [T, T], cached for the last few lengths used. */
  causalBias(time: number): tf.Tensor2D;
  dispose(): void;
}

/** The first tables cover this many positions (or max_position_embeddings if smaller), then double as needed. */
const FIRST_LENGTH = 256;

/** Causal masks kept for this many sequence lengths (the most recently used). */
const CACHED_BIAS_LENGTHS = 4;

/**
 * cos/sin tables built lazily: a config may allow millions of positions, and
 * building them all up front costs seconds and gigabytes for nothing.
 */
export function ropeTables(config: ModelConfig): RopeTables {
  const hd = config.head_dim;
  const half = hd / 2;
  const max = config.max_position_embeddings;
  const invFreq = inverseFrequencies(hd, config.rope_theta, config.rope_scaling);
  let length = 0;
  let cos: tf.Tensor2D | undefined;
  let sin: tf.Tensor2D | undefined;
  // Tables replaced by larger ones stay alive until dispose(): a forward still
  // on the gradient tape may hold slices of them.
  const retired: tf.Tensor[] = [];

  const ensure = (needed: number): void => {
    if (needed <= length) return;
    if (needed > max) throw new Error(`decoder: position ${needed - 1} is beyond max_position_embeddings (${max})`);
    let next = Math.max(length, Math.min(FIRST_LENGTH, max));
    while (next < needed) next *= 2;
    next = Math.min(next, max);
    const cosV = new Float32Array(next * hd);
    const sinV = new Float32Array(next * hd);
    for (let pos = 0; pos < next; pos++) {
      for (let i = 0; i < half; i++) {
        // Same arithmetic order as transformers: inv_freq in float32, then pos * inv_freq in float32.
        const angle = Math.fround(pos * invFreq[i]);
        cosV[pos * hd + i] = cosV[pos * hd + i + half] = Math.cos(angle);
        sinV[pos * hd + i] = sinV[pos * hd + i + half] = Math.sin(angle);
      }
    }
    if (cos && sin) retired.push(cos, sin);
    cos = tf.keep(tf.tensor2d(cosV, [next, hd]));
    sin = tf.keep(tf.tensor2d(sinV, [next, hd]));
    length = next;
  };

  const rot = new Float32Array(hd * hd);
  for (let j = 0; j < half; j++) {
    rot[(j + half) * hd + j] = -1; // out[j] = -x[j + half]
    rot[j * hd + j + half] = 1; // out[j + half] = x[j]
  }
  const rotate = tf.keep(tf.tensor2d(rot, [hd, hd]));
  const biases = new Map<number, tf.Tensor2D>();

  return {
    rotate,
    get length() {
      return length;
    },
    at(batch, time, past, positions) {
      if (positions) {
        const ids = positions.dataSync();
        let top = 0;
        for (let i = 0; i < ids.length; i++) {
          if (!(ids[i] >= 0)) throw new Error(`decoder: position ${ids[i]} (entry ${i} of positions) is negative`);
          top = Math.max(top, ids[i]);
        }
        ensure(top + 1);
        const flat = tf.reshape(positions, [batch * time]);
        const pick = (table: tf.Tensor2D) => tf.reshape(tf.gather(table, flat), [batch, 1, time, hd]);
        return { cos: pick(cos!), sin: pick(sin!) };
      }
      ensure(past + time);
      return { cos: tf.slice(cos!, [past, 0], [time, hd]), sin: tf.slice(sin!, [past, 0], [time, hd]) };
    },
    causalBias(time) {
      let bias = biases.get(time);
      if (bias) {
        biases.delete(time); // re-inserted below: the Map's order is least recently used first
      } else {
        const v = new Float32Array(time * time);
        for (let q = 0; q < time; q++) for (let k = q + 1; k < time; k++) v[q * time + k] = -1e9;
        bias = tf.keep(tf.tensor2d(v, [time, time]));
        // Batches of varying length would otherwise keep a [T, T] mask for every
        // length ever seen (1.4 GB by length 1,024). The add that reads a mask
        // keeps nothing for its gradient, so an evicted one can be freed now.
        while (biases.size >= CACHED_BIAS_LENGTHS) {
          const [oldest, old] = biases.entries().next().value as [number, tf.Tensor2D];
          old.dispose();
          biases.delete(oldest);
        }
      }
      biases.set(time, bias);
      return bias;
    },
    dispose() {
      for (const t of [cos, sin, rotate, ...retired, ...biases.values()]) t?.dispose();
      retired.length = 0;
      biases.clear();
      cos = sin = undefined;
      length = 0;
    },
  };
}

/** Rotates x [B, heads, T, hd] by the angles in cos/sin (broadcast to x). */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor, rotate: tf.Tensor2D): tf.Tensor4D {
  const [b, h, t, hd] = x.shape;
  const rotated = tf.reshape(tf.matMul(tf.reshape(x, [b * h * t, hd]), rotate), [b, h, t, hd]);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}
