// The decoder's weights: their Hugging Face names, their shapes, and their
// initial values. Linear layers are kept here as [in, out] so the forward
// pass multiplies x @ W without a transpose; checkpoints store transformers'
// nn.Linear layout [out, in] and transpose on the way in and out.
import * as tf from '@tensorflow/tfjs';
import { randomStream } from '../runtime/seed';
import type { ModelConfig } from './config';

/** One weight's name (as in transformers' state dict) and its shape here. */
export interface WeightSpec {
  name: string;
  shape: number[];
  /** Stored transposed in checkpoints (nn.Linear keeps [out, in]). */
  linear: boolean;
  kind: 'embedding' | 'norm' | 'attention' | 'mlp' | 'head';
}

export type Weights = Map<string, tf.Tensor>;

export const layerPrefix = (i: number): string => `model.layers.${i}`;

/** Every weight of the model, in the order transformers lists them. */
export function weightSpecs(config: ModelConfig): WeightSpec[] {
  const { vocab_size: v, hidden_size: d, intermediate_size: f, head_dim: hd } = config;
  const q = config.num_attention_heads * hd;
  const kv = config.num_key_value_heads * hd;
  const specs: WeightSpec[] = [{ name: 'model.embed_tokens.weight', shape: [v, d], linear: false, kind: 'embedding' }];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = layerPrefix(i);
    specs.push(
      { name: `${p}.self_attn.q_proj.weight`, shape: [d, q], linear: true, kind: 'attention' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [d, kv], linear: true, kind: 'attention' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [d, kv], linear: true, kind: 'attention' },
      { name: `${p}.self_attn.o_proj.weight`, shape: [q, d], linear: true, kind: 'attention' },
      { name: `${p}.mlp.gate_proj.weight`, shape: [d, f], linear: true, kind: 'mlp' },
      { name: `${p}.mlp.up_proj.weight`, shape: [d, f], linear: true, kind: 'mlp' },
      { name: `${p}.mlp.down_proj.weight`, shape: [f, d], linear: true, kind: 'mlp' },
      { name: `${p}.input_layernorm.weight`, shape: [d], linear: false, kind: 'norm' },
      { name: `${p}.post_attention_layernorm.weight`, shape: [d], linear: false, kind: 'norm' },
    );
  }
  specs.push({ name: 'model.norm.weight', shape: [d], linear: false, kind: 'norm' });
  if (!config.tie_word_embeddings) specs.push({ name: 'lm_head.weight', shape: [d, v], linear: true, kind: 'head' });
  return specs;
}

/**
 * A reward model's scalar head (transformers' LlamaForSequenceClassification
 * with one label: `score`, a Linear(hidden, 1) without bias), read from the
 * final hidden state of a sequence's last real token. Kept [hidden, 1] here,
 * [1, hidden] in checkpoints.
 */
export const SCORE_WEIGHT = 'score.weight';

export function scoreSpec(config: ModelConfig): WeightSpec {
  return { name: SCORE_WEIGHT, shape: [config.hidden_size, 1], linear: true, kind: 'head' };
}

/**
 * The tensors a checkpoint holds: the decoder's for a causal LM; for a
 * reward model (head 'score') the same without lm_head (a sequence
 * classifier has no language-model head) plus score.weight.
 */
export function checkpointSpecs(config: ModelConfig, head: 'lm' | 'score'): WeightSpec[] {
  const specs = weightSpecs(config);
  return head === 'lm' ? specs : [...specs.filter((s) => s.name !== 'lm_head.weight'), scoreSpec(config)];
}

/** Standard normal draws from a seeded generator (Box-Muller), the same on every backend. */
export function normalArray(n: number, std: number, rng: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rng();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    const t = 2 * Math.PI * rng();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/**
 * Fresh weights: normal(0, 0.02) matrices, with the two projections that
 * write into the residual stream (o_proj, down_proj) scaled by 1/sqrt(2L) so
 * the stream's variance does not grow with depth; norms start at 1.
 */
export function initWeights(config: ModelConfig, seed: number): Weights {
  const draw = randomStream(`weights:${seed}`);
  const residualStd = 0.02 / Math.sqrt(2 * config.num_hidden_layers);
  const weights: Weights = new Map();
  for (const spec of weightSpecs(config)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    let values: Float32Array;
    if (spec.kind === 'norm') values = new Float32Array(n).fill(1);
    else {
      const residual = spec.name.endsWith('o_proj.weight') || spec.name.endsWith('down_proj.weight');
      values = normalArray(n, residual ? residualStd : 0.02, draw);
    }
    weights.set(spec.name, tf.tensor(values, spec.shape, 'float32'));
  }
  return weights;
}

/** Frees every tensor of a weight map. */
export function disposeWeights(weights: Weights): void {
  for (const t of weights.values()) t.dispose();
  weights.clear();
}
