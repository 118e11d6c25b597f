// One forward and backward pass: the summed loss of a batch and the gradient
// of that sum for every trainable tensor, copied out as flat arrays. Shared
// by the single-thread loop and the data-parallel workers.
import * as tf from '@tensorflow/tfjs';
import type { Decoder } from '../model/decoder';
import type { Objective, ObjectiveContext } from './objective';
import { trainableMap, withTrainable } from './params';

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
    return tf.valueAndGrads(f)(inputs);
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
 * (evaluation: no dropout). With gradientCheckpointing each layer's
 * intermediates are freed as soon as it is done (see evaluate).
 */
export function computeLoss<B>(model: Decoder, objective: Objective<B>, batch: B, options: { gradientCheckpointing?: boolean } = {}): LossResult {
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
