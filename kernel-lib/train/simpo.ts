// The `simpo` objective: SimPO (simpo_loss.ts) on preference pairs, the
// policy's length-normalised reply log-probabilities against each other with
// a target margin, and no reference model at all: nothing to precompute, and
// a step runs one model. Logged with the DPO names TRL's CPOTrainer uses for it.
import * as tf from '@tensorflow/tfjs';
import type { Decoder } from '../model/decoder';
import { checkPairIds, pairLogps } from './dpo';
import { splitByRows, type Objective, type ObjectiveContext, type ObjectiveOutput } from './objective';
import { preferenceBatchTokens, slicePreferenceBatch, type PreferenceBatch } from './preference_batch';
import { checkSimpoOptions, simpoLoss, type SimpoOptions } from './simpo_loss';

function checkSimpoBatch(batch: PreferenceBatch, model: Decoder): void {
  if (!batch.promptLengths) throw new Error('simpo objective: the batch has no prompt lengths; encode the pairs with encodeDpoPairs');
  checkPairIds(batch, model, 'simpo objective');
}

/**
 * SimPO (Meng et al. 2024, arXiv:2405.14734) as an objective over pairs. Its
 * count is pairs, so the loop's loss is the mean over pairs. Metrics:
 * rewards/chosen, rewards/rejected (β · mean token log-probability),
 * rewards/margins, rewards/accuracies, logps/chosen, logps/rejected (summed),
 * entropy, num_tokens.
 */
export function simpoObjective(options: SimpoOptions = {}): Objective<PreferenceBatch> {
  checkSimpoOptions(options); // fails now on bad settings
  return {
    name: 'simpo',
    metricReduce: { num_tokens: 'total' },
    rows: (batch) => batch.pairs,
    tokens: (batch) => preferenceBatchTokens(batch),
    split: (batch, parts) => splitByRows(batch.pairs, parts, (from, to) => ({ ...slicePreferenceBatch(batch, from, to), simpo: batch.simpo ?? options })),
    validate: (batch, model) => checkSimpoBatch(batch, model),
    loss(model: Decoder, batch: PreferenceBatch, context: ObjectiveContext): ObjectiveOutput {
      checkSimpoBatch(batch, model);
      const P = batch.pairs;
      const { r, side: half, tokens } = pairLogps(model, batch, context);
      const out = simpoLoss({ policyChosen: half(r.logps, 0), policyRejected: half(r.logps, 1), chosenTokens: tokens(0), rejectedTokens: tokens(1) }, batch.simpo ?? options);
      return {
        lossSum: tf.mul(out.loss, P),
        count: P,
        metrics: {
          'rewards/chosen': tf.sum(out.chosenRewards),
          'rewards/rejected': tf.sum(out.rejectedRewards),
          'rewards/margins': tf.sum(tf.sub(out.chosenRewards, out.rejectedRewards)),
          'rewards/accuracies': tf.sum(tf.cast(tf.greater(out.chosenRewards, out.rejectedRewards), 'float32')),
          'logps/chosen': tf.sum(half(r.logps, 0)),
          'logps/rejected': tf.sum(half(r.logps, 1)),
          entropy: tf.div(tf.sum(r.meanEntropy), 2),
          num_tokens: tf.scalar(preferenceBatchTokens(batch)),
        },
      };
    },
  };
}

/** The objective a worker thread rebuilds by the name 'simpo'. */
export const defaultSimpoObjective = simpoObjective();
