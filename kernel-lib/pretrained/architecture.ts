// Which Hugging Face architectures the decoder runs, and for the ones it
// does not, what it lacks: a user pointing the workbook at a model folder
// learns at once, from config.json alone, whether it can work and why not.

/** The architectures whose checkpoints are exactly this decoder (RMSNorm, RoPE, GQA, SwiGLU, no biases). */
export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM'] as const;

/** What a known architecture has that this decoder does not. */
const UNSUPPORTED: Record<string, string> = {
  Qwen2ForCausalLM: 'biases on the query, key and value projections (q_proj.bias, k_proj.bias, v_proj.bias)',
  Qwen3ForCausalLM: 'an RMSNorm of each head\'s queries and keys (self_attn.q_norm, self_attn.k_norm)',
  Qwen3MoeForCausalLM: 'mixture-of-experts MLPs and per-head query/key norms',
  MistralForCausalLM: 'sliding-window attention',
  MixtralForCausalLM: 'mixture-of-experts MLPs',
  GemmaForCausalLM: 'GeLU MLPs, a (1 + weight) RMSNorm and embeddings scaled by sqrt(hidden_size)',
  Gemma2ForCausalLM: 'GeLU MLPs, logit soft-capping, sliding-window layers and extra norms',
  Gemma3ForCausalLM: 'GeLU MLPs, per-head query/key norms, sliding-window layers and extra norms',
  Phi3ForCausalLM: 'fused query/key/value and gate/up projections (qkv_proj, gate_up_proj)',
  PhiForCausalLM: 'LayerNorm, biases, partial rotary embeddings and a parallel attention/MLP block',
  GPT2LMHeadModel: 'learned positions, LayerNorm, biases and fused attention projections',
  GPTNeoXForCausalLM: 'LayerNorm, biases, partial rotary embeddings and a parallel attention/MLP block',
  OlmoForCausalLM: 'a LayerNorm without parameters and optional query/key clipping',
  MllamaForConditionalGeneration: 'a vision encoder and cross-attention layers',
};

/**
 * Null when `config` describes an architecture this decoder runs; else why
 * not, naming the architecture (or field) and what it needs.
 */
export function unsupportedArchitecture(config: Record<string, unknown>, where: string): string | null {
  const listed = config.architectures;
  const archs = Array.isArray(listed) ? listed.map(String) : [];
  const supported = SUPPORTED_ARCHITECTURES.join(', ');
  if (archs.length === 0) {
    const type = typeof config.model_type === 'string' ? config.model_type : null;
    if (type === 'llama') return null;
    return `${where}: no "architectures" and model_type ${JSON.stringify(type)}; this loader runs ${supported} (model_type "llama")`;
  }
  if (archs.some((a) => (SUPPORTED_ARCHITECTURES as readonly string[]).includes(a))) return null;
  const arch = archs[0];
  const lacks = UNSUPPORTED[arch];
  return lacks
    ? `${where}: architecture ${arch} is not supported: it has ${lacks}, which this decoder lacks; supported: ${supported} (Llama 2 and 3.x, SmolLM and SmolLM2, TinyLlama and other Llama-layout models)`
    : `${where}: architecture ${arch} is not supported; supported: ${supported} (Llama 2 and 3.x, SmolLM and SmolLM2, TinyLlama and other Llama-layout models)`;
}
