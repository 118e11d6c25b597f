// What the loop reports, and two writers of it: JSON lines appended as the
// run goes (readable mid-run, survives a crash) and an Arrow IPC table at the
// end (loads straight into danfojs, pandas or polars).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';

export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens: number;
  tokens_per_s: number;
  elapsed_s: number;
  [metric: string]: number;
}

/**
 * An evaluation's results at a step, with TRL's names: eval_loss,
 * eval_perplexity for objectives whose loss is a mean over tokens (lm, sft),
 * and the objective's metrics prefixed eval_ (eval_accuracy, eval_margin,
 * eval_mean_token_accuracy, eval_entropy, ...).
 */
export interface EvalRecord {
  step: number;
  eval_loss: number;
  [metric: string]: number;
}

export interface TrainCallback {
  onStart?(info: { step: number; totalSteps: number; resumed: boolean }): void | Promise<void>;
  onStep?(record: StepRecord): void | Promise<void>;
  onEval?(record: EvalRecord): void | Promise<void>;
  onCheckpoint?(info: { step: number; dir: string }): void | Promise<void>;
  onEnd?(info: { step: number; history: StepRecord[]; evals: EvalRecord[] }): void | Promise<void>;
}

/** Appends every step and eval record to `file` as one JSON object per line (kind: "train" | "eval"). */
export function jsonlMetrics(file: string): TrainCallback {
  const write = (kind: string, r: object) => fs.appendFileSync(file, JSON.stringify({ kind, ...r }) + '\n');
  return {
    onStart({ resumed }) {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      // A resumed run continues the log; a fresh run starts it over.
      if (!resumed) fs.writeFileSync(file, '');
    },
    onStep: (r) => write('train', r),
    onEval: (r) => write('eval', r),
  };
}

/** Writes the run's step records as an Arrow IPC file at the end (evals go to `<name>.eval.arrow`). */
export function arrowMetrics(file: string): TrainCallback {
  const columns = (rows: Record<string, number>[]) => {
    const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    return Object.fromEntries(keys.map((k) => [k, Float64Array.from(rows, (r) => r[k] ?? NaN)]));
  };
  return {
    onEnd({ history, evals }) {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      if (history.length) fs.writeFileSync(file, tableToIPC(tableFromArrays(columns(history)), 'file'));
      if (evals.length) fs.writeFileSync(file.replace(/(\.arrow)?$/, '.eval.arrow'), tableToIPC(tableFromArrays(columns(evals)), 'file'));
    },
  };
}
