// A reward model: the decoder with a scalar head, as transformers'
// LlamaForSequenceClassification with one label. A sequence's score is the
// head applied to the final hidden state of its last real token; rows are
// padded on the right and that token is found from the row's length, never by
// comparing ids with PAD (an end-of-turn that shares PAD's id would be missed).
//
// Where the head lives: with full fine-tuning every weight trains, so the head
// sits in model.weights. With LoRA only the adapter map trains, so the head
// moves into it beside the adapters: a trainable full copy, as PEFT's
// modules_to_save=["score"] keeps one.
import * as tf from '@tensorflow/tfjs';
import { randomStream } from '../runtime/seed';
import { hiddenStates, type Decoder, type ForwardOptions } from './decoder';
import { addLora, mergeLora } from './lora';
import type { LoraConfig } from './lora_state';
import { normalArray, SCORE_WEIGHT } from './weights';

export interface ScoreHeadOptions {
  /** Seeds the head's initial values (default 0). */
  seed?: number;
  /** Standard deviation of the initial values (default 0.02, transformers' initializer_range): small, so the first scores are near 0. */
  std?: number;
}

/** True when the model carries a score head (in its weights or beside its adapters). */
export function hasScoreHead(model: Decoder): boolean {
  return model.weights.has(SCORE_WEIGHT) || Boolean(model.lora?.tensors.has(SCORE_WEIGHT));
}

/** The head [hidden, 1]: beside the adapters under LoRA, else among the weights. */
export function scoreHead(model: Decoder): tf.Tensor2D {
  const head = model.lora?.tensors.get(SCORE_WEIGHT) ?? model.weights.get(SCORE_WEIGHT);
  if (!head) throw new Error(`reward model: the model has no "${SCORE_WEIGHT}" head; add one with addScoreHead or load a reward model`);
  return head as tf.Tensor2D;
}

/** Adds a fresh, seeded head normal(0, std) (beside the adapters if the model has LoRA, so that it trains). */
export function addScoreHead(model: Decoder, options: ScoreHeadOptions = {}): void {
  if (hasScoreHead(model)) throw new Error(`reward model: the model already has a "${SCORE_WEIGHT}" head`);
  const d = model.config.hidden_size;
  const values = normalArray(d, options.std ?? 0.02, randomStream(`score:${options.seed ?? 0}`));
  (model.lora ? model.lora.tensors : model.weights).set(SCORE_WEIGHT, tf.tensor2d(values, [d, 1]));
}

/**
 * Adds LoRA adapters to a reward model and moves its head beside them, so
 * the adapters and the head train together (PEFT's modules_to_save=["score"]).
 */
export function addRewardLora(model: Decoder, config: LoraConfig, seed = 0): void {
  const head = model.weights.get(SCORE_WEIGHT);
  if (!head) throw new Error(`reward model: addRewardLora needs a model with a "${SCORE_WEIGHT}" head among its weights (addScoreHead first)`);
  addLora(model, config, seed);
  model.weights.delete(SCORE_WEIGHT);
  model.lora!.tensors.set(SCORE_WEIGHT, head);
}

/**
 * Folds the adapters into the weights and moves the head back among them (for
 * saveRewardModel): mergeLora, after checking that the head is there to keep.
 */
export function mergeRewardLora(model: Decoder): void {
  if (!model.lora?.tensors.has(SCORE_WEIGHT)) throw new Error(`reward model: the model has no LoRA adapters with a "${SCORE_WEIGHT}" head beside them`);
  mergeLora(model);
}

/**
 * Scores [B] of right-padded rows `ids` [B, T]: the head on the final hidden
 * state at position lengths[b] - 1. The head is applied at every position
 * and the wanted one selected by a 0/1 mask, which keeps the gradient a plain
 * product (tf.gather's gradient needs a kernel some backends lack). Padding
 * is passed as a key mask (unless options give one): causal attention keeps
 * it from real tokens anyway, but without a mask the decoder caches a causal
 * mask per row length, and batches of many lengths would keep adding tensors.
 */
export function sequenceScores(model: Decoder, ids: tf.Tensor2D, lengths: ArrayLike<number>, options: ForwardOptions = {}): tf.Tensor1D {
  const [B, T] = ids.shape;
  if (lengths.length !== B) throw new Error(`reward model: ${lengths.length} lengths for ${B} rows`);
  const pick = new Float32Array(B * T);
  const real = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    if (!(Number.isInteger(n) && n >= 1 && n <= T)) throw new Error(`reward model: row ${b} has length ${n}, expected an integer in [1, ${T}]`);
    pick[b * T + n - 1] = 1;
    real.fill(1, b * T, b * T + n);
  }
  return tf.tidy(() => {
    const keyMask = options.keyMask ?? tf.tensor2d(real, [B, T], 'int32');
    const { hidden } = hiddenStates(model, ids, { ...options, keyMask });
    const all = tf.reshape(tf.matMul(hidden, scoreHead(model)), [B, T]);
    return tf.sum(tf.mul(all, tf.tensor2d(pick, [B, T])), 1) as tf.Tensor1D;
  });
}
