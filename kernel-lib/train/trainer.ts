// The training loop every objective shares. One update step:
//   1. for each micro-batch, the summed loss and its gradients (in this
//      thread, or split over data-parallel workers);
//   2. gradients summed, divided by the total count (tokens, pairs), checked
//      for NaN/Inf, clipped to a global norm;
//   3. AdamW with the warm-up + cosine learning rate;
//   4. logging, periodic evaluation and checkpoints.
// The optimizer works on flat float32 copies of the trainable tensors, which
// are written back into the model after each update.
import type { Decoder } from '../model/decoder';
import { AdamW } from './adamw';
import type { EvalRecord, StepRecord, TrainCallback } from './callbacks';
import type { BatchSource } from './data';
import { addInto, clipByGlobalNorm, scale } from './gradients';
import type { Objective } from './objective';
import { readParams, writeParams } from './params';
import { createProgress, type ProgressMode } from './progress';
import { warmupCosine } from './schedule';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from './state';
import { computeGradients, computeLoss, type GradientResult } from './step';
import type { GradientWorkers } from './workers';

export interface TrainConfig {
  /** Update steps in the whole run (a resumed run continues up to this number). */
  steps: number;
  lr: number;
  /** Linear warm-up steps (default: a tenth of the run, at most 100). */
  warmupSteps?: number;
  /** End of the cosine (default lr / 10). */
  minLr?: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Global gradient-norm limit (0 turns clipping off); default 1. */
  clipNorm?: number;
  /** Micro-batches summed into one update; default 1. */
  accumulation?: number;
  seed?: number;
  /** Evaluate every N steps (and at the end) when eval data is given. */
  evalEvery?: number;
  /** Save a training checkpoint into checkpointDir every N steps (and at the end). */
  checkpointEvery?: number;
  checkpointDir?: string;
  progress?: ProgressMode;
}

export interface TrainOptions<B> {
  objective: Objective<B>;
  data: BatchSource<B>;
  evalData?: B[];
  callbacks?: TrainCallback[];
  /** A training checkpoint folder to continue from (model, optimizer, step). */
  resumeFrom?: string;
  /** Computes micro-batch gradients in worker threads; default: this thread. */
  workers?: GradientWorkers;
}

export interface TrainResult {
  step: number;
  history: StepRecord[];
  evals: EvalRecord[];
}

/** Thrown when the loss or gradients stop being finite; the last good checkpoint is left untouched. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
    readonly lastCheckpoint: string | null,
  ) {
    super(
      `train: step ${step}: ${Number.isFinite(loss) ? `gradient norm is ${gradNorm}` : `loss is ${loss}`}; stopped before the update. ` +
        (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint}.` : 'No checkpoint was saved yet.') +
        ' Lower the learning rate, check the data, or resume from the checkpoint.',
    );
    this.name = 'NonFiniteLossError';
  }
}

/** Mean loss over `batches` without updating (eval_loss, and its exp, eval_perplexity). */
export function evaluate<B>(model: Decoder, objective: Objective<B>, batches: B[]): { loss: number; perplexity: number } {
  let sum = 0;
  let count = 0;
  for (const b of batches) {
    const r = computeLoss(model, objective, b);
    sum += r.lossSum;
    count += r.count;
  }
  const loss = count > 0 ? sum / count : NaN;
  return { loss, perplexity: Math.exp(loss) };
}

async function each(callbacks: TrainCallback[], f: (c: TrainCallback) => void | Promise<void> | undefined): Promise<void> {
  for (const c of callbacks) await f(c);
}

export async function train<B>(model: Decoder, config: TrainConfig, options: TrainOptions<B>): Promise<TrainResult> {
  const { objective, data, evalData, callbacks = [], workers } = options;
  const accumulation = config.accumulation ?? 1;
  const seed = config.seed ?? 0;
  const clipNorm = config.clipNorm ?? 1;
  const schedule = {
    lr: config.lr,
    warmupSteps: config.warmupSteps ?? Math.min(100, Math.floor(config.steps / 10)),
    totalSteps: config.steps,
    minLr: config.minLr,
  };
  if (!(Number.isInteger(config.steps) && config.steps > 0)) throw new Error(`train: steps must be a positive integer, got ${config.steps}`);
  if (!(config.lr > 0)) throw new Error(`train: lr must be > 0, got ${config.lr}`);
  if (!(Number.isInteger(accumulation) && accumulation > 0)) throw new Error(`train: accumulation must be a positive integer, got ${accumulation}`);
  if (config.checkpointEvery && !config.checkpointDir) throw new Error('train: checkpointEvery needs checkpointDir');

  const optimizer = new AdamW({ beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay ?? 0.1 });
  let step = 0;
  let lastCheckpoint: string | null = null;
  if (options.resumeFrom) {
    const state = loadTrainingCheckpoint(options.resumeFrom, model, optimizer);
    if (state.objective !== objective.name) throw new Error(`${options.resumeFrom}: checkpoint is from a "${state.objective}" run, this run is "${objective.name}"`);
    step = state.step;
    lastCheckpoint = options.resumeFrom;
  }
  const params = readParams(model);
  await workers?.load(model);

  const history: StepRecord[] = [];
  const evals: EvalRecord[] = [];
  const progress = createProgress(config.progress ?? 'auto', objective.name);
  const started = Date.now();
  const resumed = Boolean(options.resumeFrom);

  const saveCheckpoint = async (loss: number) => {
    if (!config.checkpointDir) return;
    saveTrainingCheckpoint(config.checkpointDir, model, optimizer, {
      step,
      optimizerStep: optimizer.step,
      seed,
      objective: objective.name,
      lora: Boolean(model.lora),
      loss,
    });
    lastCheckpoint = config.checkpointDir;
    await each(callbacks, (c) => c.onCheckpoint?.({ step, dir: config.checkpointDir! }));
  };
  const runEval = async () => {
    if (!evalData?.length) return;
    const r = evaluate(model, objective, evalData);
    const record: EvalRecord = { step, eval_loss: r.loss, eval_perplexity: r.perplexity };
    evals.push(record);
    await each(callbacks, (c) => c.onEval?.(record));
  };

  await each(callbacks, (c) => c.onStart?.({ step, totalSteps: config.steps, resumed }));
  progress.start(config.steps, step);
  if (!resumed && evalData?.length && config.evalEvery) await runEval();
  let lastLoss = NaN;
  try {
    while (step < config.steps) {
      const t0 = Date.now();
      const sums = params.map((p) => new Float32Array(p.values.length));
      let lossSum = 0;
      let count = 0;
      const metricSums: Record<string, number> = {};
      for (let micro = 0; micro < accumulation; micro++) {
        const batch = data.batch(step, micro);
        const context = { dropoutSeed: (seed * 1_000_003 + step * 1009 + micro) >>> 0 };
        const results: GradientResult[] = workers
          ? await workers.compute(objective.split(batch, workers.size), context)
          : [computeGradients(model, objective, batch, context)];
        for (const r of results) {
          addInto(sums, r.grads);
          lossSum += r.lossSum;
          count += r.count;
          for (const [k, v] of Object.entries(r.metrics)) metricSums[k] = (metricSums[k] ?? 0) + v;
        }
      }
      if (count <= 0) throw new Error(`train: step ${step} has no ${objective.name === 'lm' ? 'tokens' : 'units'} to train on (every loss-mask entry is 0)`);
      const loss = lossSum / count;
      scale(sums, 1 / count);
      const gradNorm = clipByGlobalNorm(sums, clipNorm);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) throw new NonFiniteLossError(step, loss, gradNorm, lastCheckpoint);

      const lr = warmupCosine(step, schedule);
      optimizer.update(params, sums, lr);
      writeParams(model, params);
      await workers?.update(params);
      step++;
      lastLoss = loss;

      const seconds = (Date.now() - t0) / 1000;
      const record: StepRecord = {
        step,
        loss,
        lr,
        grad_norm: gradNorm,
        tokens: count,
        tokens_per_s: count / Math.max(seconds, 1e-9),
        elapsed_s: (Date.now() - started) / 1000,
      };
      for (const [k, v] of Object.entries(metricSums)) record[k] = v / count;
      history.push(record);
      progress.update(step, { loss, tokensPerSecond: record.tokens_per_s, lr });
      await each(callbacks, (c) => c.onStep?.(record));
      if (config.evalEvery && step % config.evalEvery === 0 && step < config.steps) await runEval();
      if (config.checkpointEvery && step % config.checkpointEvery === 0 && step < config.steps) await saveCheckpoint(loss);
      // Let a notebook front end receive output between steps.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (evalData?.length) await runEval();
    if (config.checkpointDir) await saveCheckpoint(lastLoss);
  } finally {
    progress.stop();
  }
  await each(callbacks, (c) => c.onEnd?.({ step, history, evals }));
  return { step, history, evals };
}
