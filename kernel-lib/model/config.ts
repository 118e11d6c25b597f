// The decoder's configuration, named and laid out as Hugging Face's
// LlamaForCausalLM `config.json`, so one file describes a model here and there.
import { ropeFromHFConfig, validateRopeScaling, type RopeScaling } from './rope_scaling';

/** A Llama-style decoder's shape. Field names are transformers' config.json keys. */
export interface ModelConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** Fewer than num_attention_heads gives grouped-query attention. */
  num_key_value_heads: number;
  head_dim: number;
  /** The longest sequence (prompt plus generation) the model accepts. */
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  /** Rotary scaling (linear, dynamic, llama3); absent for plain RoPE. */
  rope_scaling?: RopeScaling;
  /** The output projection reuses the token embedding matrix. */
  tie_word_embeddings: boolean;
  bos_token_id?: number;
  eos_token_id?: number | number[];
  pad_token_id?: number;
}

/** Fields a caller must give; the rest have Llama's defaults. */
export type ModelConfigInput = Pick<ModelConfig, 'vocab_size' | 'hidden_size' | 'num_hidden_layers' | 'num_attention_heads'> &
  Partial<ModelConfig>;

/** Fills defaults (SwiGLU width ~8/3 d rounded up to 32, no GQA, tied embeddings) and checks the shape. */
export function modelConfig(input: ModelConfigInput): ModelConfig {
  const d = input.hidden_size;
  const config: ModelConfig = {
    intermediate_size: Math.ceil((8 * d) / 3 / 32) * 32,
    num_key_value_heads: input.num_attention_heads,
    head_dim: Math.floor(d / input.num_attention_heads),
    max_position_embeddings: 256,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: true,
    ...input,
  };
  validateConfig(config, 'model config');
  return config;
}

/**
 * Upper bounds on each size, far above any released Llama-family model
 * (vocabularies reach ~260k, depths ~130 layers, contexts 10M): a config
 * beyond them is a mistake or an attack, and would otherwise drive unbounded
 * work before a tensor is checked.
 */
export const CONFIG_LIMITS = {
  vocab_size: 1 << 24,
  hidden_size: 1 << 17,
  intermediate_size: 1 << 20,
  num_hidden_layers: 1 << 10,
  num_attention_heads: 1 << 10,
  num_key_value_heads: 1 << 10,
  // The rotate_half matrix is head_dim², so this bound also caps it (4 MB).
  head_dim: 1 << 10,
  max_position_embeddings: 1 << 24,
} as const;

/** Throws naming the first field that is missing, out of bounds or inconsistent. */
export function validateConfig(config: ModelConfig, where: string): void {
  for (const [key, limit] of Object.entries(CONFIG_LIMITS) as [keyof typeof CONFIG_LIMITS, number][]) {
    const v = config[key];
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${where}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    if (v > limit) throw new Error(`${where}: "${key}" is ${v}, above the limit of ${limit} this library accepts`);
  }
  for (const key of ['rms_norm_eps', 'rope_theta'] as const) {
    if (typeof config[key] !== 'number' || !(config[key] > 0)) {
      throw new Error(`${where}: "${key}" must be a positive number, got ${JSON.stringify(config[key])}`);
    }
  }
  if (config.num_attention_heads % config.num_key_value_heads !== 0) {
    throw new Error(
      `${where}: num_attention_heads (${config.num_attention_heads}) must be a multiple of num_key_value_heads (${config.num_key_value_heads})`,
    );
  }
  if (config.head_dim % 2 !== 0) throw new Error(`${where}: head_dim must be even for rotary positions, got ${config.head_dim}`);
  validateRopeScaling(config.rope_scaling, where);
}

/**
 * The config.json transformers writes for this model (float32 weights): a
 * LlamaForCausalLM, or with head 'score' a LlamaForSequenceClassification
 * with one label (a reward model), whose labels transformers writes as
 * id2label / label2id rather than num_labels.
 */
export function toHFConfig(config: ModelConfig, head: 'lm' | 'score' = 'lm'): Record<string, unknown> {
  const classifier = head === 'score' ? { id2label: { '0': 'LABEL_0' }, label2id: { LABEL_0: 0 } } : {};
  return {
    architectures: [head === 'score' ? 'LlamaForSequenceClassification' : 'LlamaForCausalLM'],
    ...classifier,
    model_type: 'llama',
    hidden_act: 'silu',
    attention_bias: false,
    attention_dropout: 0.0,
    mlp_bias: false,
    initializer_range: 0.02,
    pretraining_tp: 1,
    rope_scaling: null,
    use_cache: true,
    torch_dtype: 'float32',
    ...config,
  };
}

/**
 * Reads a transformers config.json object. Accepts what LlamaForCausalLM
 * accepts and rejects, by name, what this decoder does not implement
 * (biases, rope types other than default/linear/dynamic/llama3, another
 * activation). Rotary settings are read in transformers 4's form (top-level
 * rope_theta, rope_scaling) and transformers 5's (rope_parameters).
 */
export function fromHFConfig(raw: Record<string, unknown>, where = 'config.json'): ModelConfig {
  const num = (key: string, fallback?: number): number => {
    const v = raw[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${where}: missing "${key}"`);
    }
    if (typeof v !== 'number') throw new Error(`${where}: "${key}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') throw new Error(`${where}: hidden_act "${String(act)}" is not supported (this decoder uses silu)`);
  for (const key of ['attention_bias', 'mlp_bias'] as const) {
    if (raw[key] === true) throw new Error(`${where}: "${key}": true is not supported (this decoder has no biases)`);
  }
  const heads = num('num_attention_heads');
  const hidden = num('hidden_size');
  const config: ModelConfig = {
    vocab_size: num('vocab_size'),
    hidden_size: hidden,
    intermediate_size: num('intermediate_size'),
    num_hidden_layers: num('num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: num('num_key_value_heads', heads),
    head_dim: num('head_dim', Math.floor(hidden / heads)),
    max_position_embeddings: num('max_position_embeddings', 2048),
    rms_norm_eps: num('rms_norm_eps', 1e-6),
    rope_theta: 10000,
    // transformers' default for Llama is untied.
    tie_word_embeddings: raw.tie_word_embeddings === undefined ? false : raw.tie_word_embeddings === true,
  };
  const rope = ropeFromHFConfig(raw, config.max_position_embeddings, where);
  config.rope_theta = rope.rope_theta;
  if (rope.rope_scaling) config.rope_scaling = rope.rope_scaling;
  for (const key of ['bos_token_id', 'pad_token_id'] as const) {
    if (typeof raw[key] === 'number') config[key] = raw[key] as number;
  }
  if (typeof raw.eos_token_id === 'number' || Array.isArray(raw.eos_token_id)) {
    config.eos_token_id = raw.eos_token_id as number | number[];
  }
  validateConfig(config, where);
  return config;
}

/** Number of weights, with the tied embedding counted once. */
export function parameterCount(config: ModelConfig): number {
  const { vocab_size: v, hidden_size: d, intermediate_size: f, head_dim: hd } = config;
  const q = config.num_attention_heads * hd;
  const kv = config.num_key_value_heads * hd;
  const perLayer = d * q + 2 * d * kv + q * d + 3 * d * f + 2 * d;
  return v * d + config.num_hidden_layers * perLayer + d + (config.tie_word_embeddings ? 0 : d * v);
}

/**
 * Forward FLOPs per token at context length `context` (2 per multiply-add):
 * every matrix product, plus attention's scores and weighted sum averaged over
 * a causal window. Training costs about three times this.
 */
export function flopsPerToken(config: ModelConfig, context = config.max_position_embeddings): number {
  const { vocab_size: v, hidden_size: d, intermediate_size: f, head_dim: hd } = config;
  const q = config.num_attention_heads * hd;
  const kv = config.num_key_value_heads * hd;
  const matmuls = config.num_hidden_layers * (d * q + 2 * d * kv + q * d + 3 * d * f) + d * v;
  const attention = config.num_hidden_layers * 2 * q * ((context + 1) / 2);
  return 2 * (matmuls + attention);
}
