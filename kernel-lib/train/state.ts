// A training checkpoint: the model (full weights, or only the LoRA adapters
// and the weights trained beside them, such as a reward model's head, when
// those are what trains), the optimizer's moments, and the loop's position. Everything is float32 and written in one atomic folder swap, so
// resuming continues bit for bit where the run stopped.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModelConfig } from '../model/config';
import type { Decoder } from '../model/decoder';
import type { LoraConfig } from '../model/lora_state';
import { modelFiles, writeCheckpointFolder } from '../model/checkpoint';
import { recoverCheckpointFolder } from '../model/atomic_folder';
import { loadCheckpoint } from '../model/checkpoint';
import { adapterFiles, loadAdapters } from '../model/lora';
import { encodeSafetensors, readSafetensors, type NamedArray } from '../model/safetensors';
import type { AdamW, AdamWOptions } from './adamw';
import { trainableMap } from './params';

export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

export interface TrainerState {
  /** Update steps completed; the next step to run. */
  step: number;
  /** The optimizer's own count (bias correction). */
  optimizerStep: number;
  seed: number;
  objective: string;
  lora: boolean;
  /** The last logged training loss. */
  loss?: number;
  /** The run's model and adapters, and its optimizer's options: a resumed run is checked against them (absent in older checkpoints). */
  modelConfig?: ModelConfig;
  loraConfig?: LoraConfig;
  optimizer?: Required<AdamWOptions>;
}

/** Reads trainer_state.json of a training checkpoint folder. */
export function readTrainerState(dir: string): TrainerState {
  // A save killed between its two renames leaves the previous checkpoint under a hidden name: put it back first.
  recoverCheckpointFolder(dir);
  const stateFile = path.join(dir, TRAINER_STATE_FILE);
  if (!fs.existsSync(stateFile)) throw new Error(`${dir}: missing ${TRAINER_STATE_FILE}; not a training checkpoint`);
  let state: TrainerState;
  try {
    state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as TrainerState;
  } catch (e) {
    throw new Error(`${stateFile}: not valid JSON (${(e as Error).message})`);
  }
  for (const key of ['step', 'optimizerStep', 'seed'] as const) {
    if (!Number.isInteger(state[key])) throw new Error(`${stateFile}: "${key}" must be an integer, got ${JSON.stringify(state[key])}`);
  }
  return state;
}

/** Writes model (or adapters), optimizer moments and loop state into `dir` atomically. */
export function saveTrainingCheckpoint(dir: string, model: Decoder, optimizer: AdamW, state: TrainerState): void {
  const moments = new Map<string, NamedArray>();
  for (const [name, t] of trainableMap(model)) {
    const m = optimizer.m.get(name);
    const v = optimizer.v.get(name);
    if (!m || !v) continue;
    moments.set(`${name}.exp_avg`, { shape: t.shape.slice(), data: m });
    moments.set(`${name}.exp_avg_sq`, { shape: t.shape.slice(), data: v });
  }
  const files = model.lora ? adapterFiles(model) : modelFiles(model);
  files[OPTIMIZER_FILE] = encodeSafetensors(moments, { step: String(optimizer.step) });
  files[TRAINER_STATE_FILE] = JSON.stringify(state, null, 2) + '\n';
  writeCheckpointFolder(dir, files);
}

/**
 * Restores a training checkpoint into `model` (weights, or adapters for a
 * LoRA run: the model must carry the same base weights) and `optimizer`.
 */
export function loadTrainingCheckpoint(dir: string, model: Decoder, optimizer: AdamW): TrainerState {
  const state = readTrainerState(dir);
  if (state.lora !== Boolean(model.lora)) {
    throw new Error(`${dir}: checkpoint was saved from a ${state.lora ? 'LoRA' : 'full'} run but the model ${model.lora ? 'has' : 'has no'} LoRA adapters`);
  }
  if (model.lora) {
    // Loaded beside the model first, so that a checkpoint that does not fit leaves the model as it was.
    const probe: Decoder = { ...model, lora: undefined };
    loadAdapters(dir, probe);
    const loaded = probe.lora!;
    const trains = new Set(model.lora.tensors.keys());
    const missing = [...trains].filter((n) => !loaded.tensors.has(n));
    const extra = [...loaded.tensors.keys()].filter((n) => !trains.has(n));
    const problem = loaded.config.rank !== model.lora.config.rank
      ? `adapters have rank ${loaded.config.rank}, the run uses ${model.lora.config.rank}`
      : missing.length
        ? `the checkpoint lacks ${missing.slice(0, 5).join(', ')}, which this run trains (was it saved from another kind of run?)`
        : extra.length
          ? `the checkpoint holds ${extra.slice(0, 5).join(', ')}, which this run does not train`
          : null;
    if (problem) {
      loaded.dispose();
      throw new Error(`${dir}: ${problem}`);
    }
    model.lora.dispose();
    model.lora = loaded;
  } else {
    const loaded = loadCheckpoint(dir).model;
    for (const [name, t] of loaded.weights) {
      const old = model.weights.get(name);
      if (!old) throw new Error(`${dir}: tensor "${name}" is not part of this model`);
      if (old.shape.join(',') !== t.shape.join(',')) throw new Error(`${dir}: tensor "${name}" has shape [${t.shape}], the model has [${old.shape}]`);
      model.weights.set(name, t);
      old.dispose();
    }
    loaded.rope.dispose();
  }
  const { tensors, metadata } = readSafetensors(path.join(dir, OPTIMIZER_FILE));
  optimizer.m.clear();
  optimizer.v.clear();
  for (const [name, t] of trainableMap(model)) {
    const m = tensors.get(`${name}.exp_avg`);
    const v = tensors.get(`${name}.exp_avg_sq`);
    if (!m || !v) throw new Error(`${path.join(dir, OPTIMIZER_FILE)}: missing moments for "${name}"`);
    if (m.data.length !== t.size) throw new Error(`${path.join(dir, OPTIMIZER_FILE)}: moments of "${name}" have ${m.data.length} values, expected ${t.size}`);
    optimizer.m.set(name, m.data);
    optimizer.v.set(name, v.data);
  }
  optimizer.step = Number(metadata.step ?? state.optimizerStep);
  return state;
}
