// Checkpoints in Hugging Face's folder layout: config.json plus
// model.safetensors (or sharded model-0000x-of-0000y.safetensors with
// model.safetensors.index.json), tensor names and [out, in] linear layout as
// LlamaForCausalLM, so transformers opens what is saved here and a small
// Llama-architecture checkpoint from disk opens here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fromHFConfig, toHFConfig, type ModelConfig } from './config';
import { decoderFromWeights, type Decoder } from './decoder';
import { writeFileSynced } from '../runtime/files';
import { encodeSafetensors, readSafetensors, type NamedArray } from './safetensors';
import { weightSpecs, type Weights } from './weights';

/** [rows, cols] row-major -> [cols, rows] row-major. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/**
 * Writes every file into a fresh sibling folder, then swaps it into place:
 * a run killed midway leaves the previous checkpoint whole, never half of a new one.
 */
export function writeCheckpointFolder(dir: string, files: Record<string, Uint8Array | string>): void {
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  const stamp = `${process.pid}.${Date.now()}`;
  const tmp = path.join(parent, `.${path.basename(dir)}.${stamp}.tmp`);
  fs.mkdirSync(tmp);
  for (const [name, content] of Object.entries(files)) writeFileSynced(path.join(tmp, name), content);
  const old = path.join(parent, `.${path.basename(dir)}.${stamp}.old`);
  const existed = fs.existsSync(dir);
  if (existed) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  if (existed) fs.rmSync(old, { recursive: true, force: true });
}

/** The model's tensors in transformers' names and layout, ready for encodeSafetensors. */
export function exportWeights(config: ModelConfig, weights: Weights): Map<string, NamedArray> {
  const out = new Map<string, NamedArray>();
  for (const spec of weightSpecs(config)) {
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

/** The files of a model checkpoint (config.json, model.safetensors), for writeCheckpointFolder. */
export function modelFiles(model: Decoder, metadata: Record<string, string> = {}): Record<string, Uint8Array | string> {
  return {
    'config.json': JSON.stringify(toHFConfig(model.config), null, 2) + '\n',
    'model.safetensors': encodeSafetensors(exportWeights(model.config, model.weights), { format: 'pt', ...metadata }),
  };
}

/** Saves config.json and model.safetensors into `dir` atomically (merge LoRA first to include adapters). */
export function saveCheckpoint(dir: string, model: Decoder, extraFiles: Record<string, Uint8Array | string> = {}): void {
  writeCheckpointFolder(dir, { ...modelFiles(model), ...extraFiles });
}

/** Reads all tensors of a checkpoint folder, single-file or sharded. */
function readCheckpointTensors(dir: string): Map<string, NamedArray & { file: string }> {
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, 'model.safetensors.index.json');
  const files: string[] = [];
  if (fs.existsSync(single)) files.push(single);
  else if (fs.existsSync(index)) {
    let map: Record<string, string>;
    try {
      map = JSON.parse(fs.readFileSync(index, 'utf8')).weight_map;
    } catch (e) {
      throw new Error(`${index}: not valid JSON (${(e as Error).message})`);
    }
    if (!map || typeof map !== 'object') throw new Error(`${index}: missing "weight_map"`);
    for (const f of new Set(Object.values(map))) files.push(path.join(dir, f));
  } else {
    throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json (a Hugging Face model folder was expected)`);
  }
  const all = new Map<string, NamedArray & { file: string }>();
  for (const file of files) for (const [name, t] of readSafetensors(file).tensors) all.set(name, { ...t, file });
  return all;
}

/** Names that transformers itself regenerates or ignores when loading a Llama. */
const IGNORABLE = /\.rotary_emb\.inv_freq$/;

export interface LoadedCheckpoint {
  model: Decoder;
  /** Tensors in the files that the model does not use (e.g. lm_head.weight of a tied model), by name. */
  ignored: string[];
}

/** Loads a LlamaForCausalLM folder; every missing, extra or misshapen tensor is an error naming it. */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const configFile = path.join(dir, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`${dir}: missing config.json (a Hugging Face model folder was expected)`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  } catch (e) {
    throw new Error(`${configFile}: not valid JSON (${(e as Error).message})`);
  }
  const arch = raw.architectures;
  if (Array.isArray(arch) && arch.length && !arch.includes('LlamaForCausalLM')) {
    throw new Error(`${configFile}: architectures ${JSON.stringify(arch)}; this decoder loads LlamaForCausalLM checkpoints`);
  }
  const config = fromHFConfig(raw, configFile);
  const tensors = readCheckpointTensors(dir);
  const weights: Weights = new Map();
  try {
    for (const spec of weightSpecs(config)) {
      const t = tensors.get(spec.name);
      if (!t) throw new Error(`${dir}: tensor "${spec.name}" is missing from the checkpoint`);
      const expected = spec.linear ? [spec.shape[1], spec.shape[0]] : spec.shape;
      if (t.shape.join(',') !== expected.join(',')) {
        throw new Error(`${t.file}: tensor "${spec.name}" has shape [${t.shape}], expected [${expected}] for this config.json`);
      }
      const data = spec.linear ? transpose2d(t.data, expected[0], expected[1]) : t.data;
      weights.set(spec.name, tf.tensor(data, spec.shape, 'float32'));
      tensors.delete(spec.name);
    }
  } catch (e) {
    for (const w of weights.values()) w.dispose();
    throw e;
  }
  const ignored: string[] = [];
  const unexpected: string[] = [];
  for (const name of tensors.keys()) {
    if (IGNORABLE.test(name) || (name === 'lm_head.weight' && config.tie_word_embeddings)) ignored.push(name);
    else unexpected.push(name);
  }
  if (unexpected.length) {
    for (const w of weights.values()) w.dispose();
    throw new Error(`${dir}: tensors not part of a LlamaForCausalLM with this config.json: ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : ''}`);
  }
  return { model: decoderFromWeights(config, weights), ignored };
}
