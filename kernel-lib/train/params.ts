// The trainable parameters of a model as flat float32 arrays (the optimizer's
// master copy), and the way back into the model's tensors. Full fine-tuning
// trains every weight the forward reads; with LoRA adapters only the adapters
// (and weights trained beside them, such as a reward model's head) train.
import * as tf from '@tensorflow/tfjs';
import { withTensors, type Decoder } from '../model/decoder';
import type { AdamWParam } from './adamw';
import { SCORE_WEIGHT } from '../model/weights';

/** The map the trainable tensors live in: the adapters' if the model has LoRA, else the weights. */
function trainableHome(model: Decoder): Map<string, tf.Tensor> {
  return model.lora ? model.lora.tensors : model.weights;
}

/**
 * The tensors that train, by name. A reward model (a `score.weight` head) never
 * reads an untied `lm_head.weight`: it gets no gradient, so it is left out
 * (as LlamaForSequenceClassification has no lm_head).
 */
export function trainableMap(model: Decoder): Map<string, tf.Tensor> {
  const home = trainableHome(model);
  if (model.lora || !home.has(SCORE_WEIGHT) || !home.has('lm_head.weight')) return home;
  return new Map([...home].filter(([name]) => name !== 'lm_head.weight'));
}

/** Copies the trainable tensors out as named flat arrays. */
export function readParams(model: Decoder): AdamWParam[] {
  return [...trainableMap(model)].map(([name, t]) => ({ name, shape: t.shape.slice(), values: Float32Array.from(t.dataSync() as Float32Array) }));
}

/** Replaces the trainable tensors with the arrays' current values. */
export function writeParams(model: Decoder, params: AdamWParam[]): void {
  const map = trainableHome(model);
  const trainable = trainableMap(model);
  for (const p of params) {
    const old = trainable.get(p.name);
    if (!old) throw new Error(`train: the model has no trainable tensor "${p.name}"`);
    map.set(p.name, tf.tensor(p.values, p.shape, 'float32'));
    old.dispose();
  }
}

/** A shallow copy of the model whose trainable tensors are `tensors` (same order as trainableMap). */
export function withTrainable(model: Decoder, names: string[], tensors: tf.Tensor[]): Decoder {
  return withTensors(model, new Map(names.map((n, i) => [n, tensors[i]] as [string, tf.Tensor])));
}
