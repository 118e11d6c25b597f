// Checkpoints in Hugging Face's folder layout: config.json plus
// model.safetensors (or sharded model-0000x-of-0000y.safetensors with
// model.safetensors.index.json), tensor names and [out, in] linear layout as
// LlamaForCausalLM, so transformers opens what is saved here and a small
// Llama-architecture checkpoint from disk opens here. A model carrying a
// reward head (score.weight) is saved and loaded as a
// LlamaForSequenceClassification with one label.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fromHFConfig, toHFConfig, type ModelConfig } from './config';
import { decoderFromWeights, type Decoder } from './decoder';
import { recoverCheckpointFolder, writeCheckpointFolder } from './atomic_folder';
import { fileInsideFolder, readJsonObject } from './files';
import { encodeSafetensors, readSafetensorsHeader, readSafetensorsTensors, type NamedArray, type TensorEntry } from './safetensors';
import { checkpointSpecs, SCORE_WEIGHT, type Weights } from './weights';

/** [rows, cols] row-major -> [cols, rows] row-major. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

export { recoverCheckpointFolder, writeCheckpointFolder } from './atomic_folder';

/** Which head a weight map carries: a reward model's score, else the language-model head. */
export function headOf(weights: Weights): 'lm' | 'score' {
  return weights.has(SCORE_WEIGHT) ? 'score' : 'lm';
}

/**
 * The model's tensors in transformers' names and layout, ready for
 * encodeSafetensors. With a score head: the sequence classifier's tensors
 * (no lm_head, plus score.weight).
 */
export function exportWeights(config: ModelConfig, weights: Weights): Map<string, NamedArray> {
  const out = new Map<string, NamedArray>();
  for (const spec of checkpointSpecs(config, headOf(weights))) {
    const t = weights.get(spec.name);
    if (!t) throw new Error(`checkpoint: missing weight "${spec.name}"`);
    const data = t.dataSync() as Float32Array;
    if (spec.linear) {
      const [rows, cols] = spec.shape;
      out.set(spec.name, { shape: [cols, rows], data: transpose2d(data, rows, cols) });
    } else {
      out.set(spec.name, { shape: spec.shape.slice(), data: Float32Array.from(data) });
    }
  }
  return out;
}

/**
 * The files of a model checkpoint (config.json, model.safetensors), for
 * writeCheckpointFolder: a LlamaForCausalLM, or a LlamaForSequenceClassification
 * when the model's weights hold a score head.
 */
export function modelFiles(model: Decoder, metadata: Record<string, string> = {}): Record<string, Uint8Array | string> {
  return {
    'config.json': JSON.stringify(toHFConfig(model.config, headOf(model.weights)), null, 2) + '\n',
    'model.safetensors': encodeSafetensors(exportWeights(model.config, model.weights), { format: 'pt', ...metadata }),
  };
}

/** Saves config.json and model.safetensors into `dir` atomically (merge LoRA first to include adapters). */
export function saveCheckpoint(dir: string, model: Decoder, extraFiles: Record<string, Uint8Array | string> = {}): void {
  writeCheckpointFolder(dir, { ...modelFiles(model), ...extraFiles });
}

/** Where each tensor of a checkpoint folder is, from the headers only (no tensor data is read). */
function checkpointTensors(dir: string): Map<string, TensorEntry & { file: string }> {
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, 'model.safetensors.index.json');
  const all = new Map<string, TensorEntry & { file: string }>();
  if (fs.existsSync(single)) {
    const file = fileInsideFolder(dir, 'model.safetensors', dir);
    for (const [name, t] of readSafetensorsHeader(file).tensors) all.set(name, { ...t, file });
    return all;
  }
  if (!fs.existsSync(index)) {
    throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json (a Hugging Face model folder was expected)`);
  }
  const map = readJsonObject(fileInsideFolder(dir, 'model.safetensors.index.json', dir), 'index').weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new Error(`${index}: "weight_map" must be an object of tensor name -> shard file`);
  const listed = new Map<string, string>(); // tensor -> shard as named in the index
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string') throw new Error(`${index}: weight_map "${name}" must name a shard file, got ${JSON.stringify(shard)}`);
    listed.set(name, shard);
  }
  for (const shard of new Set(listed.values())) {
    const file = fileInsideFolder(dir, shard, index);
    for (const [name, t] of readSafetensorsHeader(file).tensors) {
      const before = all.get(name);
      if (before) throw new Error(`${index}: tensor "${name}" is in both ${before.file} and ${file}`);
      all.set(name, { ...t, file });
    }
  }
  for (const [name, shard] of listed) {
    const found = all.get(name);
    if (!found) throw new Error(`${index}: tensor "${name}" is listed in shard "${shard}" but that file does not hold it`);
    if (path.basename(found.file) !== path.basename(shard)) {
      throw new Error(`${index}: tensor "${name}" is listed in shard "${shard}" but found in ${found.file}`);
    }
  }
  return all;
}

/** Names that transformers itself regenerates or ignores when loading a Llama. */
const IGNORABLE = /\.rotary_emb\.inv_freq$/;

export interface LoadedCheckpoint {
  model: Decoder;
  /** 'score' for a LlamaForSequenceClassification (a reward model: its weights hold score.weight), else 'lm'. */
  head: 'lm' | 'score';
  /** Tensors in the files that the model does not use (e.g. lm_head.weight of a tied model), by name. */
  ignored: string[];
}

/** The config's depth must match the layers the files hold, before anything is sized by it. */
function checkDepth(configFile: string, config: ModelConfig, names: Iterable<string>): void {
  let layers = 0;
  for (const name of names) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
  }
  if (layers !== config.num_hidden_layers) {
    throw new Error(`${configFile}: num_hidden_layers is ${config.num_hidden_layers} but the checkpoint's tensors hold ${layers} layers`);
  }
}

/** A sequence classifier must have one label (a scalar reward); transformers' default without labels is two. */
function checkOneLabel(configFile: string, raw: Record<string, unknown>): void {
  const labels = typeof raw.num_labels === 'number'
    ? raw.num_labels
    : typeof raw.id2label === 'object' && raw.id2label !== null ? Object.keys(raw.id2label).length : 2;
  if (labels !== 1) {
    throw new Error(`${configFile}: a LlamaForSequenceClassification with ${labels} labels; a reward model has one (id2label {"0": "LABEL_0"})`);
  }
}

/**
 * Loads a LlamaForCausalLM folder, or a LlamaForSequenceClassification with
 * one label (a reward model: score.weight joins the weights, and an untied
 * config gets a zero lm_head, as the classifier has none; nothing reads it).
 * Every missing, extra or misshapen tensor
 * is an error naming it. The config is checked against the tensor headers
 * before any tensor data is read or any table is built, so nothing is sized
 * by the config alone. A folder left missing by an interrupted save is
 * restored first (see recoverCheckpointFolder).
 */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  recoverCheckpointFolder(dir);
  const configFile = path.join(dir, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`${dir}: missing config.json (a Hugging Face model folder was expected)`);
  const raw = readJsonObject(fileInsideFolder(dir, 'config.json', dir), 'config.json');
  const arch = raw.architectures;
  const head = Array.isArray(arch) && arch.includes('LlamaForSequenceClassification') ? 'score' : 'lm';
  if (Array.isArray(arch) && arch.length && head === 'lm' && !arch.includes('LlamaForCausalLM')) {
    throw new Error(`${configFile}: architectures ${JSON.stringify(arch)}; this decoder loads LlamaForCausalLM and LlamaForSequenceClassification checkpoints`);
  }
  if (head === 'score') checkOneLabel(configFile, raw);
  const config = fromHFConfig(raw, configFile);
  const headers = checkpointTensors(dir);
  checkDepth(configFile, config, headers.keys());
  const specs = checkpointSpecs(config, head);
  const byFile = new Map<string, string[]>();
  for (const spec of specs) {
    const t = headers.get(spec.name);
    if (!t) throw new Error(`${dir}: tensor "${spec.name}" is missing from the checkpoint`);
    const expected = spec.linear ? [spec.shape[1], spec.shape[0]] : spec.shape;
    if (t.shape.join(',') !== expected.join(',')) {
      throw new Error(`${t.file}: tensor "${spec.name}" has shape [${t.shape}], expected [${expected}] for this config.json`);
    }
    if (!['F32', 'F16', 'BF16'].includes(t.dtype)) throw new Error(`${t.file}: tensor "${spec.name}" has dtype ${t.dtype}; expected F32, F16 or BF16`);
    byFile.set(t.file, [...(byFile.get(t.file) ?? []), spec.name]);
  }
  const needed = new Map(specs.map((s) => [s.name, s]));
  const ignored: string[] = [];
  const unexpected: string[] = [];
  for (const name of headers.keys()) {
    if (needed.has(name)) continue;
    if (IGNORABLE.test(name) || (name === 'lm_head.weight' && (config.tie_word_embeddings || head === 'score'))) ignored.push(name);
    else unexpected.push(name);
  }
  if (unexpected.length) {
    throw new Error(`${dir}: tensors not part of a ${head === 'score' ? 'LlamaForSequenceClassification' : 'LlamaForCausalLM'} with this config.json: ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : ''}`);
  }
  const weights: Weights = new Map();
  try {
    for (const [file, names] of byFile) {
      const { tensors } = readSafetensorsTensors(file, names);
      for (const name of names) {
        const spec = needed.get(name)!;
        const t = tensors.get(name)!;
        tensors.delete(name);
        const data = spec.linear ? transpose2d(t.data, spec.shape[1], spec.shape[0]) : t.data;
        weights.set(name, tf.tensor(data, spec.shape, 'float32'));
      }
    }
  } catch (e) {
    for (const w of weights.values()) w.dispose();
    throw e;
  }
  if (head === 'score' && !config.tie_word_embeddings) weights.set('lm_head.weight', tf.zeros([config.hidden_size, config.vocab_size]));
  return { model: decoderFromWeights(config, weights), head, ignored };
}
