// LoRA: a frozen projection W plus a trainable low-rank update
// (alpha / r) * A B, with B starting at zero so training begins from the base
// model. Adapters save and load alone in PEFT's layout (adapter_config.json,
// adapter_model.safetensors), and merge into W for export. Full weights that
// train beside the adapters (a reward model's head) travel with them as
// PEFT's modules_to_save, and stay in the model when the adapters are merged
// or removed, as PEFT's merge_and_unload and unload keep them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { randomStream } from '../runtime/seed';
import type { Decoder } from './decoder';
import type { ModelConfig } from './config';
import { loraKeys, loraState, savedWeightNames, type LoraConfig } from './lora_state';
import { readSafetensors, encodeSafetensors, type NamedArray } from './safetensors';
import { recoverCheckpointFolder, transpose2d, writeCheckpointFolder } from './checkpoint';
import { fileInsideFolder, readJsonObject } from './files';
import { scoreSpec, weightSpecs, type WeightSpec } from './weights';

export type { LoraConfig } from './lora_state';

const PEFT_PREFIX = 'base_model.model.';

/**
 * The full weights the forward reads from beside the adapters, by PEFT
 * module name: a reward model's head only (a Linear, kept [in, out] here).
 * Another module (lm_head, embed_tokens) would load, but the forward would go
 * on using the model's own copy, so it is refused.
 */
function savableModules(config: ModelConfig): Map<string, WeightSpec> {
  return new Map([['score', scoreSpec(config)]]);
}

/** Moves the weights trained beside the adapters into the model's weights, replacing its copies. */
function keepSavedWeights(model: Decoder): void {
  const lora = model.lora!;
  for (const name of savedWeightNames(lora)) {
    const trained = lora.tensors.get(name)!;
    lora.tensors.delete(name);
    const old = model.weights.get(name);
    model.weights.set(name, trained);
    if (old && old !== trained) old.dispose();
  }
}

/** The projection weights a LoRA config targets, checked against the model. */
export function loraProjections(model: Decoder, targets: string[]): string[] {
  const linear = weightSpecs(model.config).filter((s) => s.linear && s.kind !== 'head');
  const known = new Set(linear.map((s) => s.name.split('.').slice(-2, -1)[0]));
  for (const t of targets) {
    if (!known.has(t)) throw new Error(`lora: unknown target "${t}"; expected some of ${[...known].join(', ')}`);
  }
  return linear.filter((s) => targets.includes(s.name.split('.').slice(-2, -1)[0])).map((s) => s.name);
}

/**
 * Adds fresh adapters to the projections named in `config.targets`: A drawn
 * uniform in +-1/sqrt(in) (PEFT's default, Kaiming-uniform with a = sqrt 5),
 * B zero. Afterwards only the adapters are trained.
 */
export function addLora(model: Decoder, config: LoraConfig, seed = 0): void {
  if (model.lora) throw new Error('lora: the model already has adapters; merge or remove them first');
  if (!(Number.isInteger(config.rank) && config.rank > 0)) throw new Error(`lora: rank must be a positive integer, got ${config.rank}`);
  if (!(config.dropout >= 0 && config.dropout < 1)) throw new Error(`lora: dropout must be in [0, 1), got ${config.dropout}`);
  const projections = loraProjections(model, config.targets);
  const draw = randomStream(`lora:${seed}`);
  const tensors = new Map<string, tf.Tensor>();
  for (const name of projections) {
    const [inDim, outDim] = model.weights.get(name)!.shape;
    const bound = 1 / Math.sqrt(inDim);
    const a = new Float32Array(inDim * config.rank);
    for (let i = 0; i < a.length; i++) a[i] = (2 * draw() - 1) * bound;
    const k = loraKeys(name);
    tensors.set(k.a, tf.tensor2d(a, [inDim, config.rank]));
    tensors.set(k.b, tf.zeros([config.rank, outDim]));
  }
  model.lora = loraState({ ...config, targets: [...config.targets] }, projections, tensors);
}

/**
 * Folds every adapter into its projection (W + alpha/r * A B) and removes the
 * adapters; weights trained beside them (the head) replace the model's copies.
 */
export function mergeLora(model: Decoder): void {
  const lora = model.lora;
  if (!lora) throw new Error('lora: the model has no adapters to merge');
  keepSavedWeights(model);
  for (const name of lora.projections) {
    const adapter = lora.adapterFor(name)!;
    const old = model.weights.get(name)!;
    model.weights.set(name, tf.tidy(() => tf.add(old, tf.mul(tf.matMul(adapter.a, adapter.b), adapter.scale))));
    old.dispose();
  }
  lora.dispose();
  model.lora = undefined;
}

/** Removes the adapters without merging; weights trained beside them (the head) stay, replacing the model's copies. */
export function removeLora(model: Decoder): void {
  if (model.lora) keepSavedWeights(model);
  model.lora?.dispose();
  model.lora = undefined;
}

/** Writes adapter_config.json and adapter_model.safetensors (PEFT layout, see adapterFiles) atomically. */
export function saveAdapters(dir: string, model: Decoder, baseModel = ''): void {
  writeCheckpointFolder(dir, adapterFiles(model, baseModel));
}

/**
 * The files of a PEFT adapter folder, for writeCheckpointFolder: the
 * adapters, and each weight trained beside them as PEFT saves a module of
 * modules_to_save (`base_model.model.score.weight`, listed in the config's
 * modules_to_save). With a score head the task is SEQ_CLS, so that PEFT
 * opens the folder on the base loaded as a sequence classifier.
 */
export function adapterFiles(model: Decoder, baseModel = ''): Record<string, Uint8Array | string> {
  const lora = model.lora;
  if (!lora) throw new Error('lora: the model has no adapters to save');
  const tensors = new Map<string, NamedArray>();
  for (const name of lora.projections) {
    const base = name.replace(/\.weight$/, '');
    const { a, b } = lora.adapterFor(name)!;
    const [inDim, r] = a.shape;
    const outDim = b.shape[1];
    tensors.set(`${PEFT_PREFIX}${base}.lora_A.weight`, { shape: [r, inDim], data: transpose2d(a.dataSync() as Float32Array, inDim, r) });
    tensors.set(`${PEFT_PREFIX}${base}.lora_B.weight`, { shape: [outDim, r], data: transpose2d(b.dataSync() as Float32Array, r, outDim) });
  }
  const savable = [...savableModules(model.config)];
  const modulesToSave: string[] = [];
  for (const name of savedWeightNames(lora)) {
    const module = savable.find(([, spec]) => spec.name === name)?.[0];
    if (!module) throw new Error(`lora: "${name}" trains beside the adapters, but only ${savable.map(([, s]) => `"${s.name}"`).join(', ')} can be saved with them`);
    const t = lora.tensors.get(name)!;
    const [inDim, outDim] = t.shape;
    tensors.set(`${PEFT_PREFIX}${name}`, { shape: [outDim, inDim], data: transpose2d(t.dataSync() as Float32Array, inDim, outDim) });
    modulesToSave.push(module);
  }
  const config = {
    peft_type: 'LORA',
    task_type: modulesToSave.includes('score') ? 'SEQ_CLS' : 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: lora.config.rank,
    lora_alpha: lora.config.alpha,
    lora_dropout: lora.config.dropout,
    target_modules: lora.config.targets,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    modules_to_save: modulesToSave.length ? modulesToSave : null,
  };
  return {
    'adapter_config.json': JSON.stringify(config, null, 2) + '\n',
    'adapter_model.safetensors': encodeSafetensors(tensors, { format: 'pt' }),
  };
}

/**
 * Loads PEFT-layout adapters onto a model that has none; shapes are checked
 * against the model. A head listed in modules_to_save loads beside the
 * adapters (it then takes the place of a head the model may already have).
 */
export function loadAdapters(dir: string, model: Decoder): void {
  recoverCheckpointFolder(dir);
  const configFile = path.join(dir, 'adapter_config.json');
  if (!fs.existsSync(configFile)) throw new Error(`${dir}: missing adapter_config.json (a PEFT LoRA folder was expected)`);
  const raw = readJsonObject(fileInsideFolder(dir, 'adapter_config.json', dir), 'adapter_config.json') as Record<string, any>;
  if (raw.peft_type !== 'LORA') throw new Error(`${configFile}: peft_type ${JSON.stringify(raw.peft_type)}; expected "LORA"`);
  const targets: string[] = Array.isArray(raw.target_modules) ? raw.target_modules : [];
  if (!targets.length) throw new Error(`${configFile}: "target_modules" must list projection names`);
  const config: LoraConfig = { rank: raw.r, alpha: raw.lora_alpha ?? raw.r, dropout: raw.lora_dropout ?? 0, targets };
  const modulesToSave = raw.modules_to_save ?? [];
  if (!(Array.isArray(modulesToSave) && modulesToSave.every((m) => typeof m === 'string'))) {
    throw new Error(`${configFile}: "modules_to_save" must be a list of module names or null, got ${JSON.stringify(raw.modules_to_save)}`);
  }
  const savable = savableModules(model.config);
  for (const m of modulesToSave) {
    if (!savable.has(m)) {
      throw new Error(
        `${configFile}: modules_to_save names "${m}"; only ${[...savable.keys()].map((k) => `"${k}"`).join(', ')} can be loaded ` +
          '(the forward reads no other full weight from beside the adapters)',
      );
    }
  }
  const file = fileInsideFolder(dir, 'adapter_model.safetensors', dir);
  const { tensors: stored } = readSafetensors(file);
  if (model.lora) throw new Error('lora: the model already has adapters; merge or remove them first');
  const projections = loraProjections(model, targets);
  const tensors = new Map<string, tf.Tensor>();
  try {
    for (const name of projections) {
      const base = name.replace(/\.weight$/, '');
      const [inDim, outDim] = model.weights.get(name)!.shape;
      const k = loraKeys(name);
      for (const [key, shape, ours] of [
        [`${PEFT_PREFIX}${base}.lora_A.weight`, [config.rank, inDim], k.a],
        [`${PEFT_PREFIX}${base}.lora_B.weight`, [outDim, config.rank], k.b],
      ] as [string, number[], string][]) {
        const t = stored.get(key);
        if (!t) throw new Error(`${file}: tensor "${key}" is missing`);
        if (t.shape.join(',') !== shape.join(',')) throw new Error(`${file}: tensor "${key}" has shape [${t.shape}], expected [${shape}]`);
        tensors.set(ours, tf.tensor2d(transpose2d(t.data, shape[0], shape[1]), [shape[1], shape[0]]));
        stored.delete(key);
      }
    }
    for (const m of modulesToSave) {
      const spec = savable.get(m)!;
      const key = `${PEFT_PREFIX}${spec.name}`;
      const t = stored.get(key);
      const [inDim, outDim] = spec.shape;
      if (!t) throw new Error(`${file}: tensor "${key}" is missing (adapter_config.json lists "${m}" in modules_to_save)`);
      if (t.shape.join(',') !== `${outDim},${inDim}`) throw new Error(`${file}: tensor "${key}" has shape [${t.shape}], expected [${outDim},${inDim}]`);
      tensors.set(spec.name, tf.tensor2d(transpose2d(t.data, outDim, inDim), [inDim, outDim]));
      stored.delete(key);
    }
    if (stored.size) {
      throw new Error(
        `${file}: tensors not matching target_modules ${JSON.stringify(targets)} or modules_to_save ${JSON.stringify(modulesToSave)}: ${[...stored.keys()].slice(0, 5).join(', ')}`,
      );
    }
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  model.lora = loraState(config, projections, tensors);
}
