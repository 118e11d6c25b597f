// The training loop every objective shares. One update step:
//   1. for each micro-batch, the summed loss and its gradients (in this
//      thread, or split over data-parallel workers);
//   2. gradients summed, divided by the total count (tokens, pairs), checked
//      for NaN/Inf, clipped to a global norm;
//   3. AdamW with the warm-up + cosine learning rate;
//   4. logging, periodic evaluation and checkpoints.
// A checkpoint due after step k is written during step k + 1, once the
// weights have given a finite loss and gradient there: the step a resumed
// run would compute first. So the checkpoint a NonFiniteLossError names can
// always resume.
// The optimizer works on flat float32 copies of the trainable tensors, which
// are written back into the model after each update.
import { checkpointedLayerCount, type Decoder, type GradientCheckpointing } from '../model/decoder';
import { AdamW, type AdamWOptions } from './adamw';
import type { EvalRecord, StepRecord, TrainCallback } from './callbacks';
import type { AsyncBatchSource, BatchSource } from './data';
import { firstNonFinite, NonFiniteLossError, nonFiniteOn } from './finite';
import { addInto, clipByGlobalNorm, scale } from './gradients';
import type { Objective, ObjectiveContext } from './objective';
import { readParams, writeParams } from './params';
import { createProgress, type ProgressMode } from './progress';
import { warmupCosine } from './schedule';
import { resumeSettings } from './resume';
import { loadTrainingCheckpoint, readTrainerState, saveTrainingCheckpoint } from './state';
import { computePass, type GradientResult } from './step';
import { combineMetric, evaluate, reportedMetric, validated } from './evaluate';
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
  /**
   * Most rows one forward and backward pass takes, in this thread or in one
   * worker (default: no limit). A micro-batch with more rows is computed in
   * passes of at most this many and their gradients summed: the same update,
   * with the activations of fewer rows held at once. A wasm heap is at most
   * 4 GB, so a large online-RL rollout (prompts x samples rows) needs this
   * where accumulation would change what a step samples. Rows as the
   * objective counts them (pairs for the preference objectives); needs an
   * objective that counts them.
   */
  rowsPerPass?: number;
  /**
   * Seeds the dropout masks (default 0). A resumed run takes the checkpoint's
   * seed when this is left out, and refuses another one.
   */
  seed?: number;
  /** Evaluate every N steps (and at the end) when eval data is given. */
  evalEvery?: number;
  /**
   * Save a training checkpoint into checkpointDir every N steps (and at the
   * end). The one due after step k is written during step k + 1, once its
   * weights have given a finite loss and gradient.
   */
  checkpointEvery?: number;
  checkpointDir?: string;
  progress?: ProgressMode;
  /**
   * Gradient checkpointing (default false): each decoder layer keeps only its
   * input during the forward pass, and the backward pass recomputes the
   * layer from it. Same gradients, much less memory for long sequences and
   * deep models, for one more forward pass a step (1.3-1.45x the time of a
   * LoRA step on wasm). A number n checkpoints only the first n layers, for
   * a step between the two in memory and time. Reaches worker threads with
   * each step's context.
   */
  gradientCheckpointing?: GradientCheckpointing;
}

export interface TrainOptions<B> {
  objective: Objective<B>;
  data: BatchSource<B> | AsyncBatchSource<B>;
  evalData?: B[];
  callbacks?: TrainCallback[];
  /**
   * A training checkpoint folder to continue from (model, optimizer, step).
   * The model and LoRA configs must equal the checkpoint's, and so must the
   * seed if the config sets one; optimizer options left out are taken from
   * the checkpoint, and changed ones are reported with console.warn.
   */
  resumeFrom?: string;
  /** Computes micro-batch gradients in worker threads; default: this thread. */
  workers?: GradientWorkers;
  /** Close `workers` when train returns or throws (for workers started for this one call). */
  closeWorkers?: boolean;
}

export interface TrainResult {
  step: number;
  history: StepRecord[];
  evals: EvalRecord[];
}

export { NonFiniteLossError } from './finite';
export { evaluate } from './evaluate';
export type { EvalResult, EvaluateOptions } from './evaluate';

async function each(callbacks: TrainCallback[], f: (c: TrainCallback) => void | Promise<void> | undefined): Promise<void> {
  for (const c of callbacks) await f(c);
}

/** One context per split part: the step's dropout seed, and where the part's rows start in the whole batch. */
function partContexts<B>(objective: Objective<B>, parts: B[], context: ObjectiveContext): ObjectiveContext[] {
  let firstRow = 0;
  return parts.map((part) => {
    const c = { ...context, firstRow };
    firstRow += objective.rows?.(part) ?? 0;
    return c;
  });
}

/** Trains `model` in place for config.steps updates (from a checkpoint's step when resuming); see TrainConfig and TrainOptions. */
export async function train<B>(model: Decoder, config: TrainConfig, options: TrainOptions<B>): Promise<TrainResult> {
  try {
    return await run(model, config, options);
  } finally {
    if (options.closeWorkers) await options.workers?.close();
  }
}

async function run<B>(model: Decoder, config: TrainConfig, options: TrainOptions<B>): Promise<TrainResult> {
  const { objective, data, evalData, callbacks = [], workers } = options;
  const accumulation = config.accumulation ?? 1;
  const clipNorm = config.clipNorm ?? 1;
  const gradientCheckpointing = config.gradientCheckpointing ?? false;
  checkpointedLayerCount(gradientCheckpointing, model.config.num_hidden_layers);
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
  const rowsPerPass = config.rowsPerPass;
  if (rowsPerPass !== undefined) {
    if (!(Number.isInteger(rowsPerPass) && rowsPerPass > 0)) throw new Error(`train: rowsPerPass must be a positive integer, got ${rowsPerPass}`);
    if (!objective.rows) throw new Error(`train: rowsPerPass needs an objective that counts its rows; "${objective.name}" does not`);
  }

  let seed = config.seed ?? 0;
  let optimizerOptions: AdamWOptions = { beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay };
  if (options.resumeFrom) {
    const saved = readTrainerState(options.resumeFrom);
    if (saved.objective !== objective.name) throw new Error(`${options.resumeFrom}: checkpoint is from a "${saved.objective}" run, this run is "${objective.name}"`);
    ({ seed, optimizer: optimizerOptions } = resumeSettings(options.resumeFrom, saved, model, config));
  }
  const optimizer = new AdamW({ ...optimizerOptions, weightDecay: optimizerOptions.weightDecay ?? 0.1 });
  let step = 0;
  let lastCheckpoint: string | null = null;
  if (options.resumeFrom) {
    step = loadTrainingCheckpoint(options.resumeFrom, model, optimizer).step;
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
      modelConfig: model.config,
      loraConfig: model.lora?.config,
      optimizer: { beta1: optimizer.beta1, beta2: optimizer.beta2, eps: optimizer.eps, weightDecay: optimizer.weightDecay },
    });
    lastCheckpoint = config.checkpointDir;
    await each(callbacks, (c) => c.onCheckpoint?.({ step, dir: config.checkpointDir! }));
  };
  const runEval = async () => {
    if (!evalData?.length) return;
    const record: EvalRecord = { step, ...evaluate(model, objective, evalData, { gradientCheckpointing }).metrics };
    evals.push(record);
    await each(callbacks, (c) => c.onEval?.(record));
  };

  await each(callbacks, (c) => c.onStart?.({ step, totalSteps: config.steps, resumed }));
  progress.start(config.steps, step);
  if (!resumed && evalData?.length && config.evalEvery) await runEval();
  let lastLoss = NaN;
  // The loss of the checkpoint due at this step, waiting for the step to vouch for its weights.
  let pendingCheckpoint: number | null = null;
  // The micro-batches of the last update: the data the current weights were made from.
  let lastBatches: B[] = [];
  const reduce = objective.metricReduce ?? {};
  // Running sums of the 'total' metrics since this run started (or resumed).
  const totals: Record<string, number> = {};
  try {
    while (step < config.steps) {
      const t0 = Date.now();
      const sums = params.map((p) => new Float32Array(p.values.length));
      let lossSum = 0;
      let count = 0;
      let tokens = 0;
      const metricSteps: Record<string, number> = {};
      const batches: B[] = [];
      for (let micro = 0; micro < accumulation; micro++) {
        const batch = validated(objective, model, await data.batch(step, micro), `train: step ${step}, micro-batch ${micro}`);
        tokens += objective.tokens?.(batch) ?? 0;
        const context: ObjectiveContext = { dropoutSeed: (seed * 1_000_003 + step * 1009 + micro) >>> 0, gradientCheckpointing };
        const lanes = workers?.size ?? 1;
        // Passes of at most rowsPerPass rows on each lane (worker, or this thread).
        const passes = rowsPerPass ? Math.max(1, Math.ceil(objective.rows!(batch) / (rowsPerPass * lanes))) : 1;
        const parts = workers || passes > 1 ? objective.split(batch, lanes * passes) : [batch];
        const contexts = parts.length > 1 ? partContexts(objective, parts, context) : [context];
        // Kept to retest the weights on (nonFiniteOn), in passes that fit.
        batches.push(...(passes > 1 ? parts : [batch]));
        const results: GradientResult[] = [];
        for (let from = 0; from < parts.length; from += lanes) {
          const round = parts.slice(from, from + lanes);
          const roundContexts = contexts.slice(from, from + lanes);
          if (workers) results.push(...await workers.compute(round, roundContexts));
          else results.push(computePass(model, objective, round[0], roundContexts[0]));
        }
        for (const r of results) {
          addInto(sums, r.grads);
          lossSum += r.lossSum;
          count += r.count;
          for (const [k, v] of Object.entries(r.metrics)) metricSteps[k] = combineMetric(reduce[k], metricSteps[k], v);
        }
      }
      if (count <= 0) throw new Error(`train: step ${step} has no ${objective.name === 'lm' ? 'tokens' : 'units'} to train on (every loss-mask entry is 0)`);
      const loss = lossSum / count;
      scale(sums, 1 / count);
      const gradNorm = clipByGlobalNorm(sums, clipNorm);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        let detail: string | undefined;
        if (pendingCheckpoint !== null) {
          // Is it these weights or this batch? Weights that also fail on the
          // batches they were trained from are not saved.
          if (!nonFiniteOn(model, objective, lastBatches, { gradientCheckpointing })) {
            await saveCheckpoint(pendingCheckpoint);
            detail = `The weights saved at step ${step} are finite on the batches of the update that made them, so this step's batch is the likely cause.`;
          } else {
            detail = `The weights after step ${step - 1}'s update also fail on that update's batches: the update broke them, so the checkpoint due at step ${step} was not saved.`;
          }
        }
        throw new NonFiniteLossError(step, loss, gradNorm, lastCheckpoint, detail);
      }
      if (pendingCheckpoint !== null) {
        await saveCheckpoint(pendingCheckpoint);
        pendingCheckpoint = null;
      }

      const lr = warmupCosine(step, schedule);
      optimizer.update(params, sums, lr);
      const bad = firstNonFinite(params);
      if (bad) {
        throw new NonFiniteLossError(step, loss, gradNorm, lastCheckpoint,
          `The update (lr ${lr}) made "${bad.name}"[${bad.index}] ${bad.value}; the model keeps the weights from before it.`);
      }
      writeParams(model, params);
      await workers?.update(params);
      step++;
      lastLoss = loss;
      lastBatches = batches;

      const seconds = (Date.now() - t0) / 1000;
      const record: StepRecord = {
        step,
        loss,
        lr,
        grad_norm: gradNorm,
        tokens: objective.tokens ? tokens : count,
        tokens_per_s: (objective.tokens ? tokens : count) / Math.max(seconds, 1e-9),
        elapsed_s: (Date.now() - started) / 1000,
      };
      for (const [k, v] of Object.entries(metricSteps)) {
        record[k] = reduce[k] === 'total' ? (totals[k] = (totals[k] ?? 0) + v) : reportedMetric(reduce[k], v, count);
      }
      history.push(record);
      progress.update(step, { loss, tokensPerSecond: record.tokens_per_s, lr });
      await each(callbacks, (c) => c.onStep?.(record));
      if (config.evalEvery && step % config.evalEvery === 0 && step < config.steps) await runEval();
      if (config.checkpointEvery && step % config.checkpointEvery === 0 && step < config.steps) pendingCheckpoint = loss;
      // Let a notebook front end receive output between steps.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (evalData?.length) await runEval();
    if (config.checkpointDir && lastBatches.length) {
      // No next step to vouch for the final weights: test them on the last update's batches.
      const bad = nonFiniteOn(model, objective, lastBatches, { gradientCheckpointing });
      if (bad) {
        throw new NonFiniteLossError(step, bad.loss, bad.gradNorm, lastCheckpoint,
          `(These are the final weights on the batches of the last update, step ${step - 1}.) The final checkpoint was not saved.`);
      }
      await saveCheckpoint(lastLoss);
    }
  } finally {
    progress.stop();
  }
  await each(callbacks, (c) => c.onEnd?.({ step, history, evals }));
  return { step, history, evals };
}
