// The offline preference losses (TRL's DPO loss types, SimPO, KTO) against
// values worked out by hand on three pairs, their implicit rewards, the
// combination of several types with weights, gradients through the sorted
// AOT losses, and the errors for settings that cannot train.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { DPO_LOSS_TYPES, dpoLoss, ktoLoss, simpoLoss, type DpoLossType, type PreferenceLogps } from '../../kernel-lib/train';

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const logSig = (x: number) => -Math.log1p(Math.exp(-x));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const close = (a: number, b: number, what: string, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

// Three pairs: log-probabilities summed over reply tokens, and the reply lengths.
const pc = [-4, -10, -3];
const pr = [-6, -9, -5];
const rc = [-5, -9.5, -3.5];
const rr = [-5, -9, -4];
const nc = [2, 5, 1];
const nr = [3, 4, 2];
const beta = 0.5;
// Log-ratios and h per pair: chosen 1, -0.5, 0.5; rejected -1, 0, -1; h 2, -0.5, 1.5.
const cr = pc.map((v, i) => v - rc[i]);
const rjr = pr.map((v, i) => v - rr[i]);
const h = cr.map((v, i) => v - rjr[i]);

function inputs(): PreferenceLogps {
  return {
    policyChosen: tf.tensor1d(pc), policyRejected: tf.tensor1d(pr), refChosen: tf.tensor1d(rc), refRejected: tf.tensor1d(rr),
    chosenTokens: tf.tensor1d(nc), rejectedTokens: tf.tensor1d(nr),
  };
}

function lossOf(type: DpoLossType | DpoLossType[], options: { labelSmoothing?: number; lossWeights?: number[]; discopopTau?: number } = {}): number {
  return tf.tidy(() => dpoLoss(inputs(), { lossType: type, beta, ...options }).loss.dataSync()[0]);
}

describe('train/dpo_loss: the DPO family, SimPO and KTO', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it('has worked-out values for every TRL loss type', () => {
    assert.deepEqual([cr, rjr, h], [[1, -0.5, 0.5], [-1, 0, -1], [2, -0.5, 1.5]]);
    const eps = 0.1;
    const expected: Record<DpoLossType, number> = {
      sigmoid: mean(h.map((x) => -logSig(beta * x))),
      hinge: mean(h.map((x) => Math.max(0, 1 - beta * x))),
      // Per-token log-ratios: chosen 1/2, -0.5/5, 0.5/1; rejected -1/3, 0/4, -1/2.
      ipo: mean([0.5 + 1 / 3, -0.1 - 0, 0.5 + 0.5].map((d) => (d - 1 / (2 * beta)) ** 2)),
      exo_pair: mean(h.map((x) => sig(beta * x) * (logSig(beta * x) - Math.log(1 - eps)) + sig(-beta * x) * (logSig(-beta * x) - Math.log(eps)))),
      nca_pair: mean(cr.map((c, i) => -logSig(beta * c) - 0.5 * logSig(-beta * c) - 0.5 * logSig(-beta * rjr[i]))),
      robust: mean(h.map((x) => (-(1 - eps) * logSig(beta * x) + eps * logSig(-beta * x)) / (1 - 2 * eps))),
      bco_pair: mean(cr.map((c, i) => -logSig(beta * c) - logSig(-beta * rjr[i]))),
      sppo_hard: mean(cr.map((c, i) => (c - 0.5 / beta) ** 2 + (rjr[i] + 0.5 / beta) ** 2)),
      // Policy margins 2, -1, 2 sorted -1, 2, 2; reference margins 0, -0.5, 0.5 sorted -0.5, 0, 0.5.
      aot: mean([-1 - -0.5, 2 - 0, 2 - 0.5].map((d) => -(1 - eps) * logSig(beta * d) - eps * logSig(-beta * d))),
      // Chosen log-ratios sorted -0.5, 0.5, 1; rejected sorted -1, -1, 0.
      aot_unpaired: mean([-0.5 - -1, 0.5 - -1, 1 - 0].map((d) => -(1 - eps) * logSig(beta * d) - eps * logSig(-beta * d))),
      apo_zero: mean(cr.map((c, i) => 1 - sig(beta * c) + sig(beta * rjr[i]))),
      apo_down: mean(cr.map((c, i) => sig(beta * c) + 1 - sig(beta * h[i]))),
      discopop: mean(h.map((x) => { const m = sig(beta * x / 0.05); return (1 - m) * -logSig(beta * x) + m * Math.exp(-beta * x); })),
      // The chosen replies' NLL per token over the batch: 17 nats over 8 tokens.
      sft: 17 / 8,
      sigmoid_norm: mean([0.5 + 1 / 3, -0.1 - 0, 0.5 + 0.5].map((d) => -logSig(beta * d))),
    };
    const smoothed = new Set(['exo_pair', 'robust', 'aot', 'aot_unpaired']);
    for (const type of DPO_LOSS_TYPES) close(lossOf(type, smoothed.has(type) ? { labelSmoothing: eps } : {}), expected[type], type);
  });

  it('gives ln 2 at h = 0 and β·log-ratios as rewards', () => {
    const same = { policyChosen: tf.tensor1d([-3, -2]), policyRejected: tf.tensor1d([-4, -1]), refChosen: tf.tensor1d([-3, -2]), refRejected: tf.tensor1d([-4, -1]) };
    close(tf.tidy(() => dpoLoss(same).loss.dataSync()[0]), Math.LN2, 'policy equal to the reference');
    const r = dpoLoss(inputs(), { beta });
    assert.deepEqual(Array.from(r.chosenRewards.dataSync()), cr.map((x) => beta * x));
    assert.deepEqual(Array.from(r.rejectedRewards.dataSync()), rjr.map((x) => beta * x));
    tf.dispose([r.loss, r.chosenRewards, r.rejectedRewards, ...Object.values(same)]);
  });

  it('sums several loss types with their weights (the MPO mix)', () => {
    const mix = lossOf(['sigmoid', 'bco_pair', 'sft'], { lossWeights: [0.8, 0.2, 1] });
    close(mix, 0.8 * lossOf('sigmoid') + 0.2 * lossOf('bco_pair') + lossOf('sft'), 'weighted sum');
  });

  it('lets gradients through the sorted AOT losses', () => {
    const x = tf.variable(tf.tensor1d(pc));
    const { grads } = tf.variableGrads(() => dpoLoss({ ...inputs(), policyChosen: x as unknown as tf.Tensor1D }, { lossType: 'aot', beta }).loss, [x]);
    const g = Array.from(grads[x.name].dataSync());
    // Pair 1 (margin -1, the smallest) meets the smallest reference margin, -0.5: d = -0.5, dL/dπc = -β σ(-β d) / 3.
    close(g[1], -beta * sig(0.25) / 3, 'gradient of the lowest-margin pair');
    assert.ok(g.every((v) => v < 0), 'raising any chosen log-probability lowers the loss');
    tf.dispose([x, ...Object.values(grads)]);
  });

  it('names what is wrong with settings that cannot train', () => {
    assert.throws(() => dpoLoss(inputs(), { beta: 0 }), /beta must be > 0.*ln 2/);
    assert.throws(() => dpoLoss(inputs(), { lossType: 'dpo' as DpoLossType }), /unknown loss type "dpo"; known: sigmoid, hinge/);
    assert.throws(() => dpoLoss(inputs(), { lossType: ['sigmoid', 'sft'], lossWeights: [1] }), /1 lossWeights for 2 loss types/);
    assert.throws(() => dpoLoss(inputs(), { lossType: 'sigmoid', labelSmoothing: 0.1 }), /no effect on sigmoid; only robust, exo_pair, aot, aot_unpaired/);
    assert.throws(() => dpoLoss(inputs(), { lossType: 'exo_pair' }), /exo_pair needs 0 < labelSmoothing < 1/);
    const { chosenTokens: _c, rejectedTokens: _r, ...noLengths } = inputs();
    assert.throws(() => dpoLoss(noLengths, { lossType: 'ipo' }), /"ipo" averages per token and needs chosenTokens/);
    assert.throws(() => dpoLoss({ ...inputs(), refRejected: tf.tensor1d([1, 2]) }), /refRejected has shape \[2\], expected \[3\]/);
  });

  it('SimPO: -log σ(β·mean logp chosen - β·mean logp rejected - γ), no reference', () => {
    const r = simpoLoss({ policyChosen: tf.tensor1d(pc), policyRejected: tf.tensor1d(pr), chosenTokens: tf.tensor1d(nc), rejectedTokens: tf.tensor1d(nr) }, { beta: 2, gamma: 1 });
    // Mean log-probabilities per token: chosen -2, -2, -3; rejected -2, -2.25, -2.5.
    close(r.loss.dataSync()[0], mean([[-2, -2], [-2, -2.25], [-3, -2.5]].map(([c, j]) => -logSig(2 * c - 2 * j - 1))), 'simpo');
    assert.deepEqual(Array.from(r.chosenRewards.dataSync()), [-4, -4, -6]);
    tf.dispose([r.loss, r.chosenRewards, r.rejectedRewards]);
  });

  it('KTO: desirable and undesirable replies against the clamped KL reference point', () => {
    const policy = [-4, -6, -3, -9];
    const reference = [-5, -5, -3.5, -8];
    const desirable = [1, 0, 1, 0];
    const klPolicy = [-7, -8, -6, -9];
    const klReference = [-6.5, -8.5, -5, -9.2];
    const r = ktoLoss({ policy: tf.tensor1d(policy), reference: tf.tensor1d(reference), desirable: tf.tensor1d(desirable), klPolicy: tf.tensor1d(klPolicy), klReference: tf.tensor1d(klReference) }, { beta, desirableWeight: 1, undesirableWeight: 2 });
    // KL estimate: mean(-0.5, 0.5, -1, 0.2) = -0.2, clamped to 0. Log-ratios 1, -1, 0.5, -1.
    const z0 = 0;
    const expected = mean([1 - sig(beta * (1 - z0)), 2 * (1 - sig(beta * (z0 + 1))), 1 - sig(beta * (0.5 - z0)), 2 * (1 - sig(beta * (z0 + 1)))]);
    close(r.loss.dataSync()[0], expected, 'kto');
    close(r.kl.dataSync()[0], 0, 'z0 clamped at 0');
    const positive = ktoLoss({ policy: tf.tensor1d(policy), reference: tf.tensor1d(reference), desirable: tf.tensor1d(desirable), klPolicy: tf.tensor1d([0, 0, 0, 0]), klReference: tf.tensor1d([-1, -1, -1, -1]) }, { beta });
    close(positive.kl.dataSync()[0], 1, 'z0 = mean KL when positive');
    close(positive.loss.dataSync()[0], mean([1 - sig(0), 1 - sig(beta * 2), 1 - sig(beta * -0.5), 1 - sig(beta * 2)]), 'kto with z0 = 1');
    assert.throws(() => ktoLoss({ policy: tf.tensor1d([1]), reference: tf.tensor1d([1]), desirable: tf.tensor1d([2]) }), /desirable must hold 1/);
    tf.dispose([r.loss, r.rewards, r.kl, positive.loss, positive.rewards, positive.kl]);
  });
});
