// A tuned model handed back to the Python ecosystem as a folder transformers
// loads: config.json, model.safetensors (bfloat16 or float32), the tokenizer
// with its chat template, and generation_config.json with the stop tokens.
// LoRA adapters are folded in on the way out (W + alpha/r · A B), leaving the
// model in memory as it was, so a notebook can export and keep training.
import * as tf from '@tensorflow/tfjs';
import { encodeSafetensors, exportWeights, toHFConfig, writeCheckpointFolder, type Decoder } from '../model';
import { savedWeightNames } from '../model/lora_state';
import { tokenizerConfigJson, tokenizerToJson, type BpeTokenizer, type ChatTemplate } from '../text';

export interface ExportMergedOptions {
  /** How the weights are stored: 'bf16' (half the size, what most published models use) or 'f32' (exact). Default 'bf16'. */
  dtype?: 'bf16' | 'f32';
  /** Token ids generation stops at (loadPretrained's info.stopIds); default the tokenizer's EOS and the template's end-of-turn. */
  stopIds?: number[];
}

/** The model's weights with its adapters (and the weights trained beside them) folded in; the model is not changed. */
function mergedWeights(model: Decoder): Map<string, tf.Tensor> {
  const weights = new Map(model.weights);
  const lora = model.lora;
  if (!lora) return weights;
  for (const name of savedWeightNames(lora)) weights.set(name, lora.tensors.get(name)!);
  for (const name of lora.projections) {
    const { a, b, scale } = lora.adapterFor(name)!;
    weights.set(name, tf.tidy(() => tf.add(model.weights.get(name)!, tf.mul(tf.matMul(a, b), scale))));
  }
  return weights;
}

function stopTokens(tokenizer: BpeTokenizer, template: ChatTemplate | null, given?: number[]): number[] {
  if (given?.length) return [...new Set(given)];
  const ids = [tokenizer.eosId, template ? tokenizer.tokenToId(template.endOfTurn) : undefined].filter((id): id is number => id !== undefined);
  return [...new Set(ids)];
}

/**
 * Writes `model` (adapters merged) with its tokenizer and chat template as a
 * Hugging Face folder, atomically; returns the files written.
 */
export function exportMerged(dir: string, model: Decoder, tokenizer: BpeTokenizer, template: ChatTemplate | null, options: ExportMergedOptions = {}): string[] {
  const dtype = options.dtype ?? 'bf16';
  if (dtype !== 'bf16' && dtype !== 'f32') throw new Error(`exportMerged: dtype must be 'bf16' or 'f32', got ${JSON.stringify(dtype)}`);
  if (template && !template.jinja) throw new Error(`exportMerged: template ${template.name} has no Jinja source to write as chat_template`);
  if (tokenizer.vocabSize > model.config.vocab_size) {
    throw new Error(`exportMerged: the tokenizer has ${tokenizer.vocabSize} ids but the model's vocab_size is ${model.config.vocab_size}`);
  }
  const weights = mergedWeights(model);
  let safetensors: Uint8Array;
  try {
    safetensors = encodeSafetensors(exportWeights(model.config, weights), { format: 'pt' }, dtype === 'bf16' ? 'BF16' : 'F32');
  } finally {
    for (const [name, t] of weights) if (t !== model.weights.get(name) && !model.lora?.tensors.has(name)) t.dispose();
  }
  const stop = stopTokens(tokenizer, template, options.stopIds);
  const config = { ...toHFConfig(model.config), torch_dtype: dtype === 'bf16' ? 'bfloat16' : 'float32', eos_token_id: stop.length === 1 ? stop[0] : stop };
  const generation: Record<string, unknown> = { eos_token_id: stop.length === 1 ? stop[0] : stop };
  if (tokenizer.bosId !== undefined) generation.bos_token_id = tokenizer.bosId;
  if (tokenizer.padId !== undefined) generation.pad_token_id = tokenizer.padId;
  const files: Record<string, Uint8Array | string> = {
    'config.json': JSON.stringify(config, null, 2) + '\n',
    'generation_config.json': JSON.stringify(generation, null, 2) + '\n',
    'model.safetensors': safetensors,
    'tokenizer.json': JSON.stringify(tokenizerToJson(tokenizer), null, 2),
    'tokenizer_config.json': JSON.stringify(tokenizerConfigJson(tokenizer, template?.jinja ? { chatTemplate: template.jinja } : {}), null, 2),
  };
  writeCheckpointFolder(dir, files);
  return Object.keys(files);
}
