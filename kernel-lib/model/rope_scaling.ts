// Rotary position settings as config.json states them, and the inverse
// frequencies they give. Two forms exist: transformers 4 writes top-level
// `rope_theta` and `rope_scaling` ({"rope_type" or "type", "factor", ...});
// transformers 5 writes one `rope_parameters` object holding `rope_theta`,
// `rope_type` and the scaling fields. Both are read; the types Llama-family
// checkpoints use are computed as transformers' modeling_rope_utils does, and
// any other type is refused by name rather than silently run as "default".

/** Rotary scaling of the Llama family; absent means plain RoPE ("default"). */
export type RopeScaling =
  /** Positions divided by `factor` (inverse frequencies / factor). */
  | { rope_type: 'linear'; factor: number }
  /**
   * NTK-aware scaling that changes the base only for sequences longer than
   * max_position_embeddings; within it, it is plain RoPE. This decoder never
   * runs past max_position_embeddings, so no longer sequence is computed.
   */
  | { rope_type: 'dynamic'; factor: number }
  /** Llama 3.1's band-wise scaling: low frequencies / factor, high kept, a smooth ramp between. */
  | { rope_type: 'llama3'; factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number };

export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'dynamic', 'llama3'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function positiveNumber(where: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`${where}: "${key}" must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Reads rope_theta and the scaling from a raw config.json object, in either
 * form. When both forms are present, transformers 5's order decides:
 * rope_scaling over rope_parameters, and a theta inside the object over the
 * top-level one; the default theta is 10000.
 */
export function ropeFromHFConfig(
  raw: Record<string, unknown>,
  maxPositions: number,
  where: string,
): { rope_theta: number; rope_scaling?: RopeScaling } {
  const scalingRaw = raw.rope_scaling ?? null;
  const paramsRaw = raw.rope_parameters ?? null;
  if (scalingRaw !== null && !isObject(scalingRaw)) throw new Error(`${where}: "rope_scaling" must be an object or null, got ${JSON.stringify(scalingRaw)}`);
  if (paramsRaw !== null && !isObject(paramsRaw)) throw new Error(`${where}: "rope_parameters" must be an object or null, got ${JSON.stringify(paramsRaw)}`);
  const field = scalingRaw ? 'rope_scaling' : 'rope_parameters';
  const params: Record<string, unknown> = scalingRaw ?? paramsRaw ?? {};
  const at = `${where}: "${field}"`;

  const thetaRaw = params.rope_theta ?? raw.rope_theta ?? 10000;
  const rope_theta = positiveNumber(where, params.rope_theta !== undefined ? `${field}.rope_theta` : 'rope_theta', thetaRaw);
  if (params.partial_rotary_factor !== undefined && params.partial_rotary_factor !== 1 && params.partial_rotary_factor !== null) {
    throw new Error(`${at}: partial_rotary_factor ${JSON.stringify(params.partial_rotary_factor)} is not supported (Llama rotates the whole head)`);
  }
  const type = params.rope_type ?? params.type ?? 'default';
  if (typeof type !== 'string' || !(SUPPORTED_ROPE_TYPES as readonly string[]).includes(type)) {
    throw new Error(`${at}: rope_type ${JSON.stringify(type)} is not supported; this decoder implements ${SUPPORTED_ROPE_TYPES.join(', ')}`);
  }
  if (type === 'default') return { rope_theta };
  const factor = positiveNumber(where, `${field}.factor`, params.factor);
  if (type === 'linear' || type === 'dynamic') return { rope_theta, rope_scaling: { rope_type: type, factor } };
  const original = params.original_max_position_embeddings ?? maxPositions;
  if (!Number.isSafeInteger(original) || (original as number) <= 0) {
    throw new Error(`${where}: "${field}.original_max_position_embeddings" must be a positive integer, got ${JSON.stringify(original)}`);
  }
  const scaling: RopeScaling = {
    rope_type: 'llama3',
    factor,
    low_freq_factor: positiveNumber(where, `${field}.low_freq_factor`, params.low_freq_factor),
    high_freq_factor: positiveNumber(where, `${field}.high_freq_factor`, params.high_freq_factor),
    original_max_position_embeddings: original as number,
  };
  validateRopeScaling(scaling, where);
  return { rope_theta, rope_scaling: scaling };
}

/** Throws naming the field when a scaling (given in code or read from a file) cannot be computed. */
export function validateRopeScaling(scaling: RopeScaling | undefined, where: string): void {
  if (scaling === undefined) return;
  if (!isObject(scaling) || !(SUPPORTED_ROPE_TYPES as readonly string[]).includes(scaling.rope_type)) {
    throw new Error(`${where}: "rope_scaling" ${JSON.stringify(scaling)} is not supported; rope_type must be one of ${SUPPORTED_ROPE_TYPES.join(', ')}`);
  }
  positiveNumber(where, 'rope_scaling.factor', scaling.factor);
  if (scaling.rope_type === 'llama3') {
    positiveNumber(where, 'rope_scaling.low_freq_factor', scaling.low_freq_factor);
    positiveNumber(where, 'rope_scaling.high_freq_factor', scaling.high_freq_factor);
    if (!(scaling.high_freq_factor > scaling.low_freq_factor)) {
      throw new Error(`${where}: "rope_scaling.high_freq_factor" (${scaling.high_freq_factor}) must be greater than low_freq_factor (${scaling.low_freq_factor})`);
    }
    if (!Number.isSafeInteger(scaling.original_max_position_embeddings) || scaling.original_max_position_embeddings <= 0) {
      throw new Error(`${where}: "rope_scaling.original_max_position_embeddings" must be a positive integer, got ${JSON.stringify(scaling.original_max_position_embeddings)}`);
    }
  }
}

/**
 * The head_dim/2 inverse frequencies, each rounded to float32 as transformers
 * computes them (float32 tensors), with the scaling applied.
 */
export function inverseFrequencies(headDim: number, theta: number, scaling?: RopeScaling): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / headDim))));
  if (!scaling || scaling.rope_type === 'dynamic') return out;
  if (scaling.rope_type === 'linear') return out.map((f) => Math.fround(f / scaling.factor));
  const { factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: context } = scaling;
  const lowWavelen = context / low;
  const highWavelen = context / high;
  return out.map((f) => {
    const wavelen = Math.fround((2 * Math.PI) / f);
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return Math.fround(f / factor);
    const smooth = Math.fround((context / wavelen - low) / (high - low));
    return Math.fround((1 - smooth) * Math.fround(f / factor) + smooth * f);
  });
}
