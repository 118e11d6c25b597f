// Online RL's pieces against values worked out by hand: GRPO's
// group-relative advantages (scale_rewards group, batch, none), RLOO's
// leave-one-out baseline, GAE, and the clipped policy loss with each of TRL's
// loss_type aggregations, its clip ratios, the k3 KL penalty, and its gradient.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { gae, groupAdvantages, leaveOneOutAdvantages, policyLoss } from '../../kernel-lib/train';

const close = (a: number, b: number, what: string, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
const closeAll = (a: number[], b: number[], what: string) => { assert.equal(a.length, b.length, what); a.forEach((x, i) => close(x, b[i], `${what}[${i}]`)); };

describe('train/rl: advantages and the clipped policy loss', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  const rewards = [1, 0, 0, 1, 2, 2, 2, 2];

  it('GRPO: reward minus the group mean, over the group, batch or no standard deviation', () => {
    // Group 1: mean 0.5, sample std sqrt(1/3); group 2: all equal.
    const s1 = Math.sqrt(1 / 3);
    const g = groupAdvantages(rewards, 4, 'group');
    closeAll(g.advantages, [0.5, -0.5, -0.5, 0.5].map((x) => x / (s1 + 1e-4)).concat([0, 0, 0, 0]), 'group');
    assert.equal(g.fracZeroStd, 0.5);
    closeAll(g.groupStd, [s1, 0], 'group std');
    // Batch: mean 1.25, squared deviations sum 5.5 over 7.
    const sb = Math.sqrt(5.5 / 7);
    closeAll(groupAdvantages(rewards, 4, 'batch').advantages, [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0].map((x) => x / (sb + 1e-4)), 'batch');
    closeAll(groupAdvantages(rewards, 4, 'none').advantages, [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0], 'none');
    assert.throws(() => groupAdvantages([1, 2, 3], 2), /3 rewards do not split into groups of 2/);
    assert.throws(() => groupAdvantages([1, NaN], 2), /reward 1 is NaN/);
  });

  it('RLOO: each reward minus the mean of the others in its group', () => {
    const r = leaveOneOutAdvantages(rewards, 4);
    closeAll(r.advantages, [2 / 3, -2 / 3, -2 / 3, 2 / 3, 0, 0, 0, 0], 'rloo');
    assert.equal(r.fracZeroStd, 0.5);
    assert.throws(() => leaveOneOutAdvantages([1, 2], 1), /groupSize must be at least 2/);
  });

  it('GAE: discounted sums of TD errors, and returns for the value head', () => {
    // δ = 0.1, 0.1, 0.3 (V after the last token is 0); λ = 0.5, γ = 1.
    const r = gae([0, 0, 1], [0.5, 0.6, 0.7], 1, 0.5);
    closeAll(r.advantages, [0.225, 0.25, 0.3], 'advantages');
    closeAll(r.returns, [0.725, 0.85, 1], 'returns');
    closeAll(gae([0, 0, 1], [0, 0, 0], 0.9, 1).advantages, [0.81, 0.9, 1], 'Monte Carlo at λ = 1');
  });

  // Two replies of two tokens; the second reply's second token is padding.
  const logps = [[-1, -2], [-0.5, -3]];
  const old = [[-1.2, -1.5], [-0.5, -3]];
  const mask = [[1, 1], [1, 0]];
  const inputs = () => ({ logps: tf.tensor2d(logps), oldLogps: tf.tensor2d(old), advantages: tf.tensor1d([1, -1]), mask: tf.tensor2d(mask) });
  // Ratios e^0.2 = 1.2214 (clipped to 1.2, A > 0: high), e^-0.5 = 0.6065 (A > 0: unclipped), 1 (A < 0).
  const tokenLoss = [-1.2, -Math.exp(-0.5), 1];

  it('clips the ratio and aggregates tokens as each loss_type does', () => {
    const value = (o: Parameters<typeof policyLoss>[1]) => tf.tidy(() => policyLoss(inputs(), o).loss.dataSync()[0]);
    close(value({ lossType: 'grpo' }), ((tokenLoss[0] + tokenLoss[1]) / 2 + tokenLoss[2]) / 2, 'grpo');
    close(value({ lossType: 'bnpo' }), (tokenLoss[0] + tokenLoss[1] + tokenLoss[2]) / 3, 'bnpo');
    close(value({ lossType: 'dr_grpo', maxCompletionLength: 4 }), (tokenLoss[0] + tokenLoss[1] + tokenLoss[2]) / 8, 'dr_grpo');
    close(value({ lossType: 'dapo', tokensInBatch: 6 }), (tokenLoss[0] + tokenLoss[1] + tokenLoss[2]) / 6, 'dapo');
    close(value({ lossType: 'dapo' }), value({ lossType: 'bnpo' }), 'dapo on one micro-batch');
    // ε_high 0.3 lets the first ratio through unclipped.
    close(value({ lossType: 'bnpo', epsilonHigh: 0.3 }), (-Math.exp(0.2) + tokenLoss[1] + tokenLoss[2]) / 3, 'epsilon_high');
    const r = policyLoss(inputs(), {});
    close(r.clipHigh.dataSync()[0], 1 / 3, 'clip_ratio/high_mean');
    close(r.clipLow.dataSync()[0], 0, 'clip_ratio/low_mean');
    close(r.clipRegion.dataSync()[0], 1 / 3, 'clip_ratio/region_mean');
    tf.dispose(Object.values(r));
  });

  it('adds β times the k3 KL to the reference, and reports it', () => {
    const ref = [[-1, -1], [-1, -3]];
    const k3 = (d: number) => Math.exp(d) - d - 1;
    const kls = [k3(ref[0][0] - logps[0][0]), k3(ref[0][1] - logps[0][1]), k3(ref[1][0] - logps[1][0])];
    const r = policyLoss({ ...inputs(), refLogps: tf.tensor2d(ref) }, { lossType: 'bnpo', beta: 0.1 });
    close(r.loss.dataSync()[0], (tokenLoss[0] + tokenLoss[1] + tokenLoss[2] + 0.1 * (kls[0] + kls[1] + kls[2])) / 3, 'loss with KL');
    close(r.kl.dataSync()[0], (kls[0] + kls[1] + kls[2]) / 3, 'kl');
    tf.dispose(Object.values(r));
    assert.throws(() => policyLoss(inputs(), { beta: 0.1 }), /beta 0.1 needs refLogps/);
    assert.throws(() => policyLoss(inputs(), { lossType: 'dr_grpo' }), /maxCompletionLength/);
    assert.throws(() => policyLoss(inputs(), { lossType: 'ppo' as 'grpo' }), /unknown lossType "ppo"/);
  });

  it('on fresh samples (ratio 1) its gradient is -A per token, averaged as the loss_type says', () => {
    const x = tf.variable(tf.tensor2d(logps));
    const { grads } = tf.variableGrads(() => policyLoss({ logps: x as unknown as tf.Tensor2D, advantages: tf.tensor1d([1, -1]), mask: tf.tensor2d(mask) }, { lossType: 'grpo' }).loss, [x]);
    // grpo: each reply's tokens share 1/2 of its mean; reply 1 has one real token.
    closeAll(Array.from(grads[x.name].dataSync()), [-1 / 4, -1 / 4, 1 / 2, 0], 'gradient');
    tf.dispose([x, ...Object.values(grads)]);
  });
});
