// What the forward pass needs to know about LoRA adapters: for a projection
// name, its low-rank pair (A [in, r], B [r, out]) and the scale alpha / r.
import type * as tf from '@tensorflow/tfjs';

export interface LoraConfig {
  /** Rank r of each adapter. */
  rank: number;
  /** The update is scaled by alpha / rank. */
  alpha: number;
  /** Dropout on the adapter's input while training. */
  dropout: number;
  /** Projection short names as in PEFT's target_modules, e.g. ["q_proj", "v_proj"]. */
  targets: string[];
}

export interface LoraAdapter {
  a: tf.Tensor2D;
  b: tf.Tensor2D;
  scale: number;
  dropout: number;
}

export interface LoraState {
  config: LoraConfig;
  /**
   * The trainable set: adapter tensors keyed `<projection>.lora_A` ([in, r])
   * and `<projection>.lora_B` ([r, out]), plus full weights that train beside
   * them under their weight names (PEFT's modules_to_save; a reward model's
   * `score.weight`), which take the place of the model's own copy.
   */
  tensors: Map<string, tf.Tensor>;
  /** The projection weight names (e.g. model.layers.0.self_attn.q_proj.weight) that carry an adapter. */
  projections: string[];
  adapterFor(weightName: string): LoraAdapter | undefined;
  dispose(): void;
}

export const loraKeys = (weightName: string): { a: string; b: string } => {
  const base = weightName.replace(/\.weight$/, '');
  return { a: `${base}.lora_A`, b: `${base}.lora_B` };
};

/** The entries of `lora.tensors` that are full weights trained beside the adapters, not adapters (PEFT's modules_to_save). */
export function savedWeightNames(lora: Pick<LoraState, 'tensors' | 'projections'>): string[] {
  const adapters = new Set(lora.projections.flatMap((p) => Object.values(loraKeys(p))));
  return [...lora.tensors.keys()].filter((k) => !adapters.has(k));
}

export function loraState(config: LoraConfig, projections: string[], tensors: Map<string, tf.Tensor>): LoraState {
  const scale = config.alpha / config.rank;
  const set = new Set(projections);
  return {
    config,
    tensors,
    projections,
    adapterFor(weightName) {
      if (!set.has(weightName)) return undefined;
      const k = loraKeys(weightName);
      const a = tensors.get(k.a);
      const b = tensors.get(k.b);
      if (!a || !b) throw new Error(`lora: adapter tensors for "${weightName}" are missing`);
      return { a: a as tf.Tensor2D, b: b as tf.Tensor2D, scale, dropout: config.dropout };
    },
    dispose() {
      for (const t of tensors.values()) t.dispose();
      tensors.clear();
    },
  };
}
