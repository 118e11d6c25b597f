// What a resumed run must share with the run that saved the checkpoint. The
// model and its adapters must be the same (a config that differs but keeps
// the tensor shapes, such as rope_theta, would load and silently train
// another model), and so must the seed when the run sets one: the seed draws
// every dropout mask, so another seed is another run. A setting the resumed
// run leaves out is taken from the checkpoint. Optimizer options may change
// on purpose between runs, so a change there is allowed but reported.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromHFConfig } from '../model/config';
import type { Decoder } from '../model/decoder';
import type { LoraConfig } from '../model/lora_state';
import type { AdamWOptions } from './adamw';
import type { TrainerState } from './state';

export interface ResumeSettings {
  seed: number;
  optimizer: AdamWOptions;
}

const show = (v: unknown): string => (v === undefined ? 'unset' : JSON.stringify(v));

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: cannot read it as JSON (${(e as Error).message})`);
  }
}

/** The saved model config, or for checkpoints older than the field, the full model's config.json. */
function savedModelConfig(dir: string, state: TrainerState): Record<string, unknown> | undefined {
  if (state.modelConfig) return state.modelConfig as unknown as Record<string, unknown>;
  const file = path.join(dir, 'config.json');
  if (state.lora || !fs.existsSync(file)) return undefined;
  return fromHFConfig(readJson(file), file) as unknown as Record<string, unknown>;
}

/** The saved LoRA config, or for older checkpoints, the one adapter_config.json states. */
function savedLoraConfig(dir: string, state: TrainerState): LoraConfig | undefined {
  if (state.loraConfig) return state.loraConfig;
  const file = path.join(dir, 'adapter_config.json');
  if (!state.lora || !fs.existsSync(file)) return undefined;
  const raw = readJson(file);
  return { rank: raw.r as number, alpha: (raw.lora_alpha ?? raw.r) as number, dropout: (raw.lora_dropout ?? 0) as number, targets: raw.target_modules as string[] };
}

// null and a missing field both mean "not set" (config.json writes null).
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function refuseDifferences(dir: string, what: string, saved: Record<string, unknown>, ours: Record<string, unknown>): void {
  for (const key of new Set([...Object.keys(saved), ...Object.keys(ours)])) {
    if (!same(saved[key], ours[key])) {
      throw new Error(
        `${dir}: the checkpoint's ${what} has ${key} = ${show(saved[key])}, this run's has ${key} = ${show(ours[key])}; ` +
          `resume with the ${what} the checkpoint was trained with, or start a new run`,
      );
    }
  }
}

/**
 * Checks a resumed run against the checkpoint in `dir` (throws naming the
 * first differing field) and returns the seed and optimizer options to use.
 */
export function resumeSettings(
  dir: string,
  state: TrainerState,
  model: Decoder,
  config: { seed?: number } & AdamWOptions,
  warn: (message: string) => void = console.warn,
): ResumeSettings {
  const savedModel = savedModelConfig(dir, state);
  if (savedModel) refuseDifferences(dir, 'model config', savedModel, model.config as unknown as Record<string, unknown>);
  const savedLora = savedLoraConfig(dir, state);
  if (savedLora && model.lora) refuseDifferences(dir, 'LoRA config', savedLora as unknown as Record<string, unknown>, model.lora.config as unknown as Record<string, unknown>);
  if (config.seed !== undefined && config.seed !== state.seed) {
    throw new Error(
      `${dir}: the checkpoint's run used seed ${state.seed}, this run sets seed ${config.seed}; ` +
        `another seed draws other dropout masks, so the run would not continue the saved one. Set seed: ${state.seed} (or leave it out) to resume`,
    );
  }
  const optimizer: AdamWOptions = {};
  for (const key of ['beta1', 'beta2', 'eps', 'weightDecay'] as const) {
    const saved = state.optimizer?.[key];
    optimizer[key] = config[key] ?? saved;
    if (config[key] !== undefined && saved !== undefined && config[key] !== saved) {
      warn(`train: resuming ${dir} with ${key} = ${config[key]}; the checkpoint's run used ${key} = ${saved}`);
    }
  }
  return { seed: state.seed, optimizer };
}
