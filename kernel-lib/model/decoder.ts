// A Llama-style decoder, top to bottom: token embedding, then per layer
// RMSNorm -> attention with rotary positions -> residual, RMSNorm -> SwiGLU
// MLP -> residual; a final RMSNorm and the output projection. The same
// forward serves training (whole sequences) and generation (new tokens
// against a KV cache).
//
// Layouts are chosen for tfjs's wasm backend: activations stay 2-D
// [tokens, features] around every matrix product, attention works on rank-4
// [batch, heads, time, head_dim] tensors (rank-5 transposes take a slow
// generic path), and grouped-query attention folds the query heads that share
// a key head into the time axis instead of copying keys and values.
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config';
import { validateConfig } from './config';
import { initWeights, layerPrefix, weightSpecs, type Weights } from './weights';
import { applyRope, ropeTables, type RopeTables } from './rope';
import { loraKeys, type LoraState } from './lora_state';
import { recomputed } from './recompute';
import { loraLinear } from './lora_linear';

export interface Decoder {
  config: ModelConfig;
  weights: Weights;
  /** LoRA adapters added to some projections, if any. */
  lora?: LoraState;
  /** Constant tables built once per model (kept out of tf.tidy). */
  rope: RopeTables;
}

/** Keys and values of every layer for the tokens seen so far: [batch, kv_heads, time, head_dim]. */
export type KVCache = {
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
};

export interface ForwardOptions {
  /** Position of each token, [batch, time] int32; default 0..time-1 (after the cache). */
  positions?: tf.Tensor2D;
  /** 1 for real tokens, 0 for padding, over cached plus new keys: [batch, cache + time]. */
  keyMask?: tf.Tensor2D;
  /**
   * Packed rows: which sequence each token belongs to, [batch, time] int32,
   * 0 for padding. A token attends only to earlier tokens of its own segment
   * (a block-diagonal causal mask), and positions restart at 0 where a
   * segment starts unless `positions` is given. Segments must be contiguous
   * runs; not with a cache (packing is for training, not generation).
   */
  segmentIds?: tf.Tensor2D;
  /** Keys and values of earlier tokens; the result carries the extended cache. */
  cache?: KVCache;
  /** Return the extended cache (generation) even when none was given. */
  returnCache?: boolean;
  /** Training mode turns on LoRA dropout, seeded by this number. */
  dropoutSeed?: number;
  /**
   * Training mode with one dropout seed per batch row (instead of
   * dropoutSeed): a row draws the masks it would draw alone with dropoutSeed
   * set to its seed, so its masks do not depend on the rows beside it.
   */
  dropoutRowSeeds?: number[];
  /**
   * Gradient checkpointing, for training: each layer keeps only its input,
   * and the backward pass runs the layer's forward again from it to take its
   * gradients (see recompute.ts). Activation memory falls from every layer's
   * intermediates to one [tokens, hidden] tensor a layer plus one layer's
   * intermediates, for about one more forward pass of time. The gradients
   * flow to the layers' adapters with LoRA, else to their weights (the
   * trainable tensors, as train/params.ts picks them). A number n
   * checkpoints the first n layers only: the others keep their activations,
   * a memory plan between the two (each layer checkpointed saves its
   * activations and costs its forward again). Not with a cache (generation).
   */
  gradientCheckpointing?: GradientCheckpointing;
}

/** Gradient checkpointing: every layer (true), none (false), or the first n layers. */
export type GradientCheckpointing = boolean | number;

/** How many of `layers` layers (the first ones) a gradientCheckpointing setting recomputes; checks a count. */
export function checkpointedLayerCount(setting: GradientCheckpointing | undefined, layers: number): number {
  if (setting === undefined || setting === false) return 0;
  if (setting === true) return layers;
  if (!(Number.isInteger(setting) && setting >= 0 && setting <= layers)) {
    throw new Error(`decoder: gradientCheckpointing ${setting} must be true, false, or a whole number of layers from 0 to ${layers}`);
  }
  return setting;
}

/** A forward's dropout seeds: one for the whole batch, or one per batch row. */
type DropoutSeeds = number | number[];

export interface ForwardResult {
  /** [batch, time, vocab] */
  logits: tf.Tensor3D;
  cache?: KVCache;
}

/** A decoder with fresh weights drawn from `seed`. */
export function createDecoder(config: ModelConfig, seed = 0): Decoder {
  validateConfig(config, 'model config');
  return decoderFromWeights(config, initWeights(config, seed));
}

/** Wraps existing weights (for example a loaded checkpoint); checks every shape. */
export function decoderFromWeights(config: ModelConfig, weights: Weights): Decoder {
  for (const spec of weightSpecs(config)) {
    const t = weights.get(spec.name);
    if (!t) throw new Error(`decoder: missing weight "${spec.name}"`);
    if (t.shape.join(',') !== spec.shape.join(',')) {
      throw new Error(`decoder: weight "${spec.name}" has shape [${t.shape}], expected [${spec.shape}]`);
    }
  }
  return { config, weights, rope: ropeTables(config) };
}

/** Frees the weights, adapters and tables. */
export function disposeDecoder(model: Decoder): void {
  for (const t of model.weights.values()) t.dispose();
  model.weights.clear();
  model.lora?.dispose();
  model.rope.dispose();
}

/**
 * A shallow copy of the model that reads `tensors` in place of the adapters
 * (LoRA tensors) or weights of the same names; the model is left as it is.
 */
export function withTensors(model: Decoder, tensors: Map<string, tf.Tensor>): Decoder {
  const lora = model.lora;
  const adapters = lora ? new Map(lora.tensors) : undefined;
  const weights = new Map(model.weights);
  for (const [name, t] of tensors) {
    if (adapters?.has(name)) adapters.set(name, t);
    else if (weights.has(name)) weights.set(name, t);
    else throw new Error(`decoder: the model has no weight or adapter "${name}" to replace`);
  }
  if (!lora || !adapters) return { ...model, weights };
  const adapterFor = (weightName: string) => {
    const original = lora.adapterFor(weightName);
    if (!original) return undefined;
    const k = loraKeys(weightName);
    return { ...original, a: adapters.get(k.a) as tf.Tensor2D, b: adapters.get(k.b) as tf.Tensor2D };
  };
  return { ...model, weights, lora: { ...lora, tensors: adapters, adapterFor } };
}

function weight(model: Decoder, name: string): tf.Tensor {
  const w = model.weights.get(name);
  if (!w) throw new Error(`decoder: missing weight "${name}"`);
  return w;
}

/**
 * Inverted dropout of x [B*T, in] at `rate`, for the adapter of projection
 * `name`. Each adapter draws its own mask (as PEFT's per-module dropout does):
 * the seed is combined with the projection's name. Per-row seeds draw each
 * row's uniforms [T, in] as tf.dropout would for that row alone, and the keep
 * mask is the same arithmetic, so a batch gives its rows' single-row masks bit
 * for bit in one pass.
 */
function dropoutRows(x: tf.Tensor2D, rate: number, seeds: DropoutSeeds, name: string): tf.Tensor {
  if (typeof seeds === 'number') return tf.dropout(x, rate, undefined, `${seeds}:${name}`);
  const [tokens, features] = x.shape;
  const time = tokens / seeds.length;
  const uniform = tf.concat(seeds.map((seed) => tf.randomUniform([time, features], 0, 1, 'float32', `${seed}:${name}`)), 0);
  const keep = 1 - rate;
  return tf.mul(x, tf.div(tf.floor(tf.add(uniform, keep)), keep));
}

/** x @ W for x [tokens, in], plus the LoRA update when the projection has an adapter. */
function linear(model: Decoder, x: tf.Tensor2D, name: string, dropout?: DropoutSeeds): tf.Tensor2D {
  const w = weight(model, name) as tf.Tensor2D;
  const adapter = model.lora?.adapterFor(name);
  if (!adapter) return tf.matMul(x, w);
  const dropped = dropout !== undefined && adapter.dropout > 0;
  // Frozen weight, no dropout: one tape entry keeping x and x A (lora_linear.ts).
  if (!dropped && !model.lora!.tensors.has(name)) return loraLinear(x, w, adapter.a, adapter.b, adapter.scale);
  const y = tf.matMul(x, w);
  const xin = dropped ? dropoutRows(x, adapter.dropout, dropout, name) : x;
  const update = tf.matMul(tf.matMul(xin, adapter.a), adapter.b);
  return tf.add(y, tf.mul(update, adapter.scale));
}

/** x / rms(x) * w over the last axis (computed in float32, as transformers does). */
export function rmsNorm(x: tf.Tensor2D, w: tf.Tensor, eps: number): tf.Tensor2D {
  const meanSquare = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), w);
}

/** [B*T, n*hd] -> [B, n, T, hd] */
function splitHeads(x: tf.Tensor2D, batch: number, time: number, heads: number, headDim: number): tf.Tensor4D {
  return tf.transpose(tf.reshape(x, [batch, time, heads, headDim]), [0, 2, 1, 3]);
}

/** The additive mask: 0 where a query may see a key, -1e9 where not (causal, plus padding). */
function attentionBias(past: number, time: number, keyMask?: tf.Tensor2D): tf.Tensor {
  const keys = past + time;
  const q = tf.range(past, keys, 1, 'int32').reshape([time, 1]);
  const k = tf.range(0, keys, 1, 'int32').reshape([1, keys]);
  let allowed: tf.Tensor = tf.lessEqual(k, q); // [time, keys]
  if (keyMask) allowed = tf.logicalAnd(allowed, tf.cast(keyMask, 'bool').reshape([keyMask.shape[0], 1, 1, keys]));
  return tf.mul(tf.sub(1, tf.cast(allowed, 'float32')), -1e9);
}

/**
 * Where each token's run of equal segment ids starts, [batch * time]: a token
 * of segment s > 0 sees the keys from there up to itself; a padding token
 * (segment 0) starts at itself and sees only itself, so its softmax stays
 * well defined. Throws when a segment id comes back after another one.
 */
function segmentStarts(segmentIds: ArrayLike<number>, batch: number, time: number): Int32Array {
  const starts = new Int32Array(batch * time);
  for (let b = 0; b < batch; b++) {
    const seen = new Set<number>();
    let start = 0;
    for (let t = 0; t < time; t++) {
      const i = b * time + t;
      const s = segmentIds[i];
      if (t > 0 && s !== segmentIds[i - 1]) {
        if (s !== 0 && seen.has(s)) throw new Error(`decoder: segmentIds row ${b}: segment ${s} appears again at position ${t}; a segment must be one contiguous run`);
        start = t;
      }
      if (s !== 0) seen.add(s);
      starts[i] = s === 0 ? t : start;
    }
  }
  return starts;
}

/** Positions restarting at 0 where each segment starts (padding at 0: nothing reads it); checks that segments are contiguous. */
export function segmentPositions(segmentIds: ArrayLike<number>, batch: number, time: number): Int32Array {
  const starts = segmentStarts(segmentIds, batch, time);
  return Int32Array.from(starts, (start, i) => (i % time) - start);
}

/**
 * The additive mask of packed rows, [B, 1, T, T]: query t sees keys
 * start(t)..t of its own segment (a block-diagonal causal mask). Written on
 * the CPU from the run starts: one fill per query, instead of half a dozen
 * tensor ops over B * T * T booleans.
 */
function segmentBias(starts: Int32Array, batch: number, time: number): tf.Tensor {
  const v = new Float32Array(batch * time * time).fill(-1e9);
  for (let i = 0; i < batch * time; i++) {
    const t = i % time;
    v.fill(0, i * time + starts[i], i * time + t + 1);
  }
  return tf.tensor4d(v, [batch, 1, time, time]);
}

interface AttentionContext {
  batch: number;
  time: number;
  cos: tf.Tensor;
  sin: tf.Tensor;
  bias: tf.Tensor;
  dropout?: DropoutSeeds;
}

function attention(
  model: Decoder,
  layer: number,
  x: tf.Tensor2D,
  ctx: AttentionContext,
  cached?: { k: tf.Tensor4D; v: tf.Tensor4D },
): { out: tf.Tensor2D; k: tf.Tensor4D; v: tf.Tensor4D } {
  const { num_attention_heads: H, num_key_value_heads: KV, head_dim: hd } = model.config;
  const { batch: B, time: T } = ctx;
  const p = `${layerPrefix(layer)}.self_attn`;
  const rotate = model.rope.rotate;
  // Scaling q by 1/sqrt(hd) before the product is cheaper than scaling the scores.
  const q = tf.mul(applyRope(splitHeads(linear(model, x, `${p}.q_proj.weight`, ctx.dropout), B, T, H, hd), ctx.cos, ctx.sin, rotate), 1 / Math.sqrt(hd));
  let k = applyRope(splitHeads(linear(model, x, `${p}.k_proj.weight`, ctx.dropout), B, T, KV, hd), ctx.cos, ctx.sin, rotate);
  let v = splitHeads(linear(model, x, `${p}.v_proj.weight`, ctx.dropout), B, T, KV, hd);
  if (cached) {
    k = tf.concat([cached.k, k], 2);
    v = tf.concat([cached.v, v], 2);
  }
  const keys = k.shape[2];
  // Grouped-query attention: the H/KV query heads sharing key head j are
  // heads j*rep .. j*rep+rep-1 (transformers' repeat_kv order), so [B, H, T, hd]
  // reshapes for free to [B, KV, rep*T, hd] and meets k [B, KV, keys, hd] directly.
  const rep = H / KV;
  const scores = tf.reshape(tf.matMul(tf.reshape(q, [B, KV, rep * T, hd]), k, false, true), [B, H, T, keys]);
  const probs = tf.softmax(tf.add(scores, ctx.bias));
  const mixed = tf.reshape(tf.matMul(tf.reshape(probs, [B, KV, rep * T, keys]), v), [B, H, T, hd]);
  const merged = tf.reshape(tf.transpose(mixed, [0, 2, 1, 3]), [B * T, H * hd]) as tf.Tensor2D;
  return { out: linear(model, merged, `${p}.o_proj.weight`, ctx.dropout), k, v };
}

function mlp(model: Decoder, layer: number, x: tf.Tensor2D, dropout?: DropoutSeeds): tf.Tensor2D {
  const p = `${layerPrefix(layer)}.mlp`;
  const gate = linear(model, x, `${p}.gate_proj.weight`, dropout);
  const up = linear(model, x, `${p}.up_proj.weight`, dropout);
  return linear(model, tf.mul(tf.mul(gate, tf.sigmoid(gate)), up), `${p}.down_proj.weight`, dropout);
}

/** One decoder layer: h + attention(norm(h)), then + mlp(norm(...)); with the layer's keys and values for a cache. */
function decoderLayer(
  model: Decoder,
  layer: number,
  h: tf.Tensor2D,
  ctx: AttentionContext,
  cached?: { k: tf.Tensor4D; v: tf.Tensor4D },
): { h: tf.Tensor2D; k: tf.Tensor4D; v: tf.Tensor4D } {
  const p = layerPrefix(layer);
  const eps = model.config.rms_norm_eps;
  const att = attention(model, layer, rmsNorm(h, weight(model, `${p}.input_layernorm.weight`), eps), ctx, cached);
  const mid = tf.add<tf.Tensor2D>(h, att.out);
  const out = tf.add<tf.Tensor2D>(mid, mlp(model, layer, rmsNorm(mid, weight(model, `${p}.post_attention_layernorm.weight`), eps), ctx.dropout));
  return { h: out, k: att.k, v: att.v };
}

/**
 * A layer's tensors that train, by name: its adapters when the model has
 * LoRA (the base weights stay constant), else its weights; the rule of
 * train/params.ts trainableMap.
 */
function layerTrainables(model: Decoder, layer: number): Map<string, tf.Tensor> {
  const prefix = `${layerPrefix(layer)}.`;
  const home = model.lora ? model.lora.tensors : model.weights;
  return new Map([...home].filter(([name]) => name.startsWith(prefix)));
}

/**
 * A layer under gradient checkpointing (see recompute.ts): its input and
 * trainable tensors are the explicit inputs, which get the gradients; the
 * rotary tables and the attention mask are kept for the recomputation. The
 * dropout masks are seeded by (seed, projection), so the recomputation draws
 * the same ones.
 */
function checkpointedLayer(model: Decoder, layer: number, h: tf.Tensor2D, ctx: AttentionContext): tf.Tensor2D {
  const trainables = layerTrainables(model, layer);
  const names = [...trainables.keys()];
  return recomputed(
    ([x, ...params], [cos, sin, bias]) => {
      const replica = withTensors(model, new Map(names.map((name, i) => [name, params[i]])));
      return decoderLayer(replica, layer, x as tf.Tensor2D, { ...ctx, cos, sin, bias }).h;
    },
    [h, ...trainables.values()],
    [ctx.cos, ctx.sin, ctx.bias],
  );
}

/** The forward's dropout seeds, checked against the batch size; undefined outside training. */
function dropoutSeeds(options: ForwardOptions, batch: number): DropoutSeeds | undefined {
  const rowSeeds = options.dropoutRowSeeds;
  if (rowSeeds === undefined) return options.dropoutSeed;
  if (options.dropoutSeed !== undefined) throw new Error('decoder: give dropoutSeed or dropoutRowSeeds, not both');
  if (rowSeeds.length !== batch) throw new Error(`decoder: dropoutRowSeeds has ${rowSeeds.length} seeds, expected one per batch row (${batch})`);
  return rowSeeds;
}

/** Final hidden states [B*T, D] after the last norm (a scalar head, e.g. a reward model's, reads them). */
export function hiddenStates(model: Decoder, ids: tf.Tensor2D, options: ForwardOptions): { hidden: tf.Tensor2D; cache?: KVCache } {
  const config = model.config;
  const [B, T] = ids.shape;
  const segments = options.segmentIds;
  if (segments) {
    if (options.cache || options.keyMask) throw new Error('decoder: segmentIds cannot be combined with a cache or a keyMask (segment 0 already marks padding)');
    if (segments.shape[0] !== B || segments.shape[1] !== T) throw new Error(`decoder: segmentIds has shape [${segments.shape}], expected [${B}, ${T}] like ids`);
  }
  const recomputedLayers = checkpointedLayerCount(options.gradientCheckpointing, config.num_hidden_layers);
  if (recomputedLayers > 0 && (options.cache || options.returnCache)) {
    throw new Error('decoder: gradientCheckpointing is for training and cannot be combined with a cache or returnCache (generation)');
  }
  const past = options.cache ? options.cache.keys[0].shape[2] : 0;
  const starts = segments ? segmentStarts(segments.dataSync(), B, T) : undefined;
  const positions = options.positions ?? (starts ? tf.tensor2d(Int32Array.from(starts, (start, i) => (i % T) - start), [B, T], 'int32') : undefined);
  if (past + T > config.max_position_embeddings && !positions) {
    throw new Error(`decoder: ${past + T} tokens exceed max_position_embeddings (${config.max_position_embeddings})`);
  }
  const { cos, sin } = model.rope.at(B, T, past, positions);
  const bias = starts
    ? segmentBias(starts, B, T)
    : options.cache || options.keyMask || options.positions
      ? attentionBias(past, T, options.keyMask)
      : model.rope.causalBias(T);
  const ctx: AttentionContext = { batch: B, time: T, cos, sin, bias, dropout: dropoutSeeds(options, B) };

  let h: tf.Tensor2D = tf.gather(weight(model, 'model.embed_tokens.weight'), tf.reshape(ids, [B * T])) as tf.Tensor2D;
  const keep = options.cache !== undefined || options.returnCache === true;
  const cache: KVCache = { keys: [], values: [] };
  for (let i = 0; i < config.num_hidden_layers; i++) {
    if (i < recomputedLayers) {
      h = checkpointedLayer(model, i, h, ctx);
      continue;
    }
    if (!keep) {
      // Each layer in a tidy: what its operations made and no gradient reads
      // is freed when the layer is done, instead of when the whole forward
      // pass is (the gradient tape keeps what it reads; runtime/backprop.ts).
      const input = h;
      h = tf.tidy(() => decoderLayer(model, i, input, ctx).h);
      continue;
    }
    const cached = options.cache ? { k: options.cache.keys[i], v: options.cache.values[i] } : undefined;
    const layer = decoderLayer(model, i, h, ctx, cached);
    h = layer.h;
    cache.keys.push(layer.k);
    cache.values.push(layer.v);
  }
  const hidden = rmsNorm(h, weight(model, 'model.norm.weight'), config.rms_norm_eps);
  return { hidden, cache: keep ? cache : undefined };
}

/** Logits [B*T, V] from final hidden states. */
export function outputLogits(model: Decoder, hidden: tf.Tensor2D): tf.Tensor2D {
  return model.config.tie_word_embeddings
    ? tf.matMul(hidden, weight(model, 'model.embed_tokens.weight') as tf.Tensor2D, false, true)
    : linear(model, hidden, 'lm_head.weight');
}

/**
 * Logits for every position of `ids` [batch, time] (int32). With a cache,
 * `ids` are the new tokens only and the result carries the extended cache;
 * the caller owns (and disposes) both.
 */
export function forward(model: Decoder, ids: tf.Tensor2D, options: ForwardOptions = {}): ForwardResult {
  const [B, T] = ids.shape;
  const { hidden, cache } = hiddenStates(model, ids, options);
  const logits = tf.reshape(outputLogits(model, hidden), [B, T, model.config.vocab_size]) as tf.Tensor3D;
  return { logits, cache };
}

/** Frees a cache's tensors. */
export function disposeCache(cache: KVCache | undefined): void {
  if (!cache) return;
  for (const t of [...cache.keys, ...cache.values]) t.dispose();
}
