// Evaluation on held-out batches, and how a metric's parts (micro-batches,
// workers, eval batches) combine into one value: shared with the training
// loop so that eval_accuracy means what accuracy means in training.
import type { Decoder, GradientCheckpointing } from '../model/decoder';
import type { MetricReduce, Objective } from './objective';
import { computeLoss } from './step';

/** Prefixes an error from checking a batch with where the batch was used. */
export function validated<B>(objective: Objective<B>, model: Decoder, batch: B, where: string): B {
  try {
    objective.validate?.(batch, model);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  return batch;
}

/** Adds one part's metric value into the running one (a sum, or the extreme for min/max). */
export function combineMetric(how: MetricReduce | undefined, sofar: number | undefined, part: number): number {
  if (sofar === undefined) return part;
  if (how === 'min') return Math.min(sofar, part);
  if (how === 'max') return Math.max(sofar, part);
  return sofar + part;
}

/** A combined metric as it is reported: a 'mean' divided by the units counted, others as combined. */
export function reportedMetric(how: MetricReduce | undefined, combined: number, count: number): number {
  return (how ?? 'mean') === 'mean' ? combined / count : combined;
}

export interface EvalResult {
  /** Mean loss over the batches' units (tokens, pairs). */
  loss: number;
  /** exp(loss) for objectives whose units are tokens (lm, sft); absent otherwise. */
  perplexity?: number;
  /**
   * With TRL's eval_ prefix: eval_loss, eval_perplexity where there is one,
   * and each of the objective's metrics over all the batches, reduced as in
   * training: means over all units, min/max over all batches, and a 'total'
   * (num_tokens) summed over the evaluation set.
   */
  metrics: { eval_loss: number; [metric: string]: number };
}

export interface EvaluateOptions {
  /**
   * The forward as training runs it (the trainer passes its
   * TrainConfig.gradientCheckpointing). Same numbers either way; without a
   * gradient, each layer's intermediates are freed when the layer is done
   * in both modes.
   */
  gradientCheckpointing?: GradientCheckpointing;
}

/** Loss and metrics over `batches` without updating the model. */
export function evaluate<B>(model: Decoder, objective: Objective<B>, batches: B[], options: EvaluateOptions = {}): EvalResult {
  const reduce = objective.metricReduce ?? {};
  let sum = 0;
  let count = 0;
  const combined: Record<string, number> = {};
  batches.forEach((b, i) => {
    const r = computeLoss(model, objective, validated(objective, model, b, `evaluate: eval batch ${i}`), options);
    sum += r.lossSum;
    count += r.count;
    for (const [k, v] of Object.entries(r.metrics)) combined[k] = combineMetric(reduce[k], combined[k], v);
  });
  const loss = count > 0 ? sum / count : NaN;
  const metrics: EvalResult['metrics'] = { eval_loss: loss };
  const perplexity = objective.perplexity ? Math.exp(loss) : undefined;
  if (perplexity !== undefined) metrics.eval_perplexity = perplexity;
  for (const [k, v] of Object.entries(combined)) metrics[`eval_${k}`] = reportedMetric(reduce[k], v, count);
  return perplexity === undefined ? { loss, metrics } : { loss, perplexity, metrics };
}
