// The bench configs (scripts/bench/configs.json), read by scripts/bench.ts,
// scripts/bench/step.ts, scripts/bench/lora.ts and, for PyTorch,
// scripts/reference/llama_reference.py.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LoraConfig } from '../../kernel-lib/model';

export interface BenchConfig {
  model: Record<string, number | boolean>;
  /** Present for a LoRA config (L): the base is frozen and only the adapters train. */
  lora?: LoraConfig;
  train: {
    /** Rows in one update. */
    batch_size: number;
    /** Rows in one forward/backward pass (default batch_size); the rest of the update is accumulated. */
    micro_batch?: number;
    seq_len: number;
    lr: number;
    weight_decay: number;
    /** true, false, or the number of layers (the first ones) to checkpoint. */
    gradient_checkpointing?: boolean | number;
    /** Timed steps and warm-up steps when the command line does not say. */
    steps?: number;
    warmup?: number;
  };
  generate: { prompt_len: number; new_tokens: number; batch_sizes: number[] };
}

export const CONFIGS_FILE = path.join(__dirname, 'configs.json');

export function benchConfigs(file = CONFIGS_FILE): Record<string, BenchConfig> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, BenchConfig>;
}

export interface StepPlan {
  /** Rows handed to one gradient call of train(): split over the workers, micro_batch rows each. */
  rows: number;
  /** Micro-batches summed into one update (TrainConfig.accumulation). */
  accumulation: number;
}

/**
 * How train() takes one update of `batch_size` rows with `workers` workers
 * (1: this thread) so that each forward/backward pass holds `micro_batch`
 * rows: every worker gets micro_batch rows a call, and the calls repeat
 * until the update's rows are done. The update is the same for every
 * worker count.
 */
export function stepPlan(train: BenchConfig['train'], workers: number): StepPlan {
  const micro = train.micro_batch ?? train.batch_size;
  if (!(Number.isInteger(workers) && workers >= 1)) throw new Error(`bench: workers must be a positive integer, got ${workers}`);
  if (!(Number.isInteger(micro) && micro >= 1 && train.batch_size % micro === 0)) {
    throw new Error(`bench: micro_batch ${micro} must be a positive integer dividing batch_size ${train.batch_size}`);
  }
  const rows = micro * workers;
  if (train.batch_size % rows !== 0) {
    throw new Error(`bench: ${workers} workers x micro_batch ${micro} = ${rows} rows a call does not divide batch_size ${train.batch_size}`);
  }
  return { rows, accumulation: train.batch_size / rows };
}
