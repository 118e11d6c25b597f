// One forward and backward pass: the summed loss of a batch and the gradient
// of that sum for every trainable tensor, copied out as flat arrays. Shared
// by the single-thread loop and the data-parallel workers.
import * as tf from '@tensorflow/tfjs';
import type { Decoder, GradientCheckpointing } from '../model/decoder';
import type { Objective, ObjectiveContext } from './objective';
import { trainableMap, withTrainable } from './params';
import { valueAndGradients } from '../runtime/backprop';

export interface GradientResult {
  lossSum: number;
  count: number;
  metrics: Record<string, number>;
  /** Same order as trainableMap(model). */
  grads: Float32Array[];
}

export function computeGradients<B>(model: Decoder, objective: Objective<B>, batch: B, context: ObjectiveContext): GradientResult {
  const map = trainableMap(model);
  const names = [...map.keys()];
  const inputs = [...map.values()];
  let count = 0;
  const metricTensors: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.tidy(() => {
    const f = (...xs: tf.Tensor[]) => {
      const out = objective.loss(withTrainable(model, names, xs), batch, context);
      count = out.count;
      for (const [k, t] of Object.entries(out.metrics ?? {})) metricTensors[k] = tf.keep(t);
      return out.lossSum;
    };
    return valueAndGradients(() => f(...inputs), inputs);
  });
  const lossSum = value.dataSync()[0];
  value.dispose();
  const flat = grads.map((g) => {
    const a = Float32Array.from(g.dataSync() as Float32Array);
    g.dispose();
    return a;
  });
  return { lossSum, count, metrics: readScalars(metricTensors), grads: flat };
}

/**
 * computeGradients for one pass of the training loop. A failure that looks
 * like an exhausted WebAssembly heap is rethrown naming the pass's rows and the memory its tensors held, and
 * the setting that makes passes smaller.
 */
export function computePass<B>(model: Decoder, objective: Objective<B>, batch: B, context: ObjectiveContext): GradientResult {
  try {
    return computeGradients(model, objective, batch, context);
  } catch (e) {
    throw explainPassFailure(e, objective, batch);
  }
}

/**
 * When tfjs-wasm's heap cannot grow, XNNPACK prints "status 6" (out of
 * memory) and the backend then fails with an abort or an out-of-bounds
 * access, neither of which says why; those messages get the explanation.
 */
export function explainPassFailure<B>(e: unknown, objective: Objective<B>, batch: B): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  if (!/Aborted\(|out of memory|memory access out of bounds|Cannot enlarge memory|Array buffer allocation failed/i.test(err.message)) return err;
  const rows = objective.rows?.(batch);
  const tokens = objective.tokens?.(batch);
  let held = 'unknown';
  try {
    held = `${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MB`;
  } catch {
    // an aborted backend may not answer; the message goes out without the figure
  }
  const size = [rows !== undefined ? `${rows} rows` : '', tokens !== undefined ? `${tokens} tokens` : ''].filter(Boolean).join(', ');
  const explained = new Error(
    `${err.message} during the ${objective.name} objective's forward and backward pass${size ? ` over ${size}` : ''} ` +
      `(tensors held ${held}). This is most likely the backend's memory running out (a WebAssembly heap is at most 4 GB): ` +
      'set TrainConfig.rowsPerPass to compute each batch in smaller passes (the same update), or use fewer rows a batch.',
  );
  explained.stack = `${explained.message}\n${err.stack ?? ''}`;
  return explained;
}

/** The values of kept scalars, which are then disposed. */
function readScalars(tensors: Record<string, tf.Scalar>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, t] of Object.entries(tensors)) {
    out[k] = t.dataSync()[0];
    t.dispose();
  }
  return out;
}

export interface LossResult {
  lossSum: number;
  count: number;
  /** The objective's metrics of the batch, as its loss returns them (sums, or extremes; see MetricReduce). */
  metrics: Record<string, number>;
}

/**
 * The summed loss, count and metrics of a batch without gradients
 * (evaluation: no dropout); each layer's intermediates are freed as soon as
 * it is done, with gradientCheckpointing or without (see evaluate).
 */
export function computeLoss<B>(model: Decoder, objective: Objective<B>, batch: B, options: { gradientCheckpointing?: GradientCheckpointing } = {}): LossResult {
  let count = 0;
  const metricTensors: Record<string, tf.Scalar> = {};
  const value = tf.tidy(() => {
    const out = objective.loss(model, batch, { gradientCheckpointing: options.gradientCheckpointing });
    count = out.count;
    for (const [k, t] of Object.entries(out.metrics ?? {})) metricTensors[k] = tf.keep(t);
    return out.lossSum;
  });
  const lossSum = value.dataSync()[0];
  value.dispose();
  return { lossSum, count, metrics: readScalars(metricTensors) };
}
