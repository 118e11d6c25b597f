// Reply log-probabilities count the reply's tokens only (prompt and padding
// excluded), checked against each row run alone; the dpo objective trains a
// policy away from its frozen reference on the world's pairs, logs TRL's
// names, gives the same step on two worker threads as on one, and leaks no
// tensors.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, decoderFromWeights, disposeDecoder, forward, type Decoder } from '../../kernel-lib/model';
import {
  DpoStallError, dpoObjective, simpoLoss, simpoObjective, dpoStallCheck, encodeDpoPairs, preferenceBatch, preferenceBatches, referenceLogps, replyLogps, startWorkers, train, type StepRecord,
} from '../../kernel-lib/train';
import { tinyConfig } from '../model/helpers';
import { rewardFixture } from './reward_helpers';

const close = (a: number, b: number, what: string, tol = 1e-4) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
const copyOf = (m: Decoder): Decoder => decoderFromWeights(m.config, new Map([...m.weights].map(([k, w]) => [k, w.clone()])));

/** Log-probability of tokens from..n-1 of `ids`, each given the ones before it, from the row run alone. */
function alone(model: Decoder, ids: number[], from: number): number {
  return tf.tidy(() => {
    const logits = forward(model, tf.tensor2d([ids], [1, ids.length], 'int32')).logits;
    const logp = tf.logSoftmax(tf.reshape(logits, [ids.length, -1])).arraySync() as number[][];
    let sum = 0;
    for (let t = from; t < ids.length; t++) sum += logp[t - 1][ids[t]];
    return sum;
  });
}

describe('train/dpo: reply log-probabilities and the dpo objective', function () {
  this.timeout(120000);
  before(async () => {
    await selectBackend('wasm');
  });

  it('sums log-probabilities over reply tokens only: prompt and padding excluded', () => {
    const model = createDecoder(tinyConfig(), 1);
    const rows = [[5, 9, 2, 7, 7, 3], [4, 4, 8, 1]];
    const prompts = [3, 1];
    const L = 8, pad = 11;
    const ids = Int32Array.from(rows.flatMap((r) => [...r, ...Array(L - r.length).fill(pad)]));
    const batch = { rows: 2, length: L, ids, lengths: Int32Array.from(rows, (r) => r.length), promptLengths: Int32Array.from(prompts) };
    const r = replyLogps(model, batch);
    const got = Array.from(r.logps.dataSync());
    assert.deepEqual(Array.from(r.tokens), [3, 3]);
    rows.forEach((row, i) => close(got[i], alone(model, row, prompts[i]), `row ${i}`));
    // Other padding ids change nothing; a different prompt token changes the reply's probability.
    const repadded = replyLogps(model, { ...batch, ids: ids.map((v, k) => (k % L >= rows[Math.floor(k / L)].length ? 0 : v)) });
    assert.deepEqual(Array.from(repadded.logps.dataSync()), got);
    const otherPrompt = replyLogps(model, { ...batch, ids: ids.map((v, k) => (k === 0 ? 6 : v)) });
    assert.notEqual(otherPrompt.logps.dataSync()[0], got[0]);
    assert.throws(() => replyLogps(model, { ...batch, promptLengths: Int32Array.from([6, 1]) }), /row 0 has a prompt of 6 tokens in 6/);
    tf.dispose([r.logps, r.meanLogits, r.meanEntropy, repadded.logps, repadded.meanLogits, repadded.meanEntropy, otherPrompt.logps, otherPrompt.meanLogits, otherPrompt.meanEntropy]);
    disposeDecoder(model);
  });

  it('encodes pairs with the prompt length both replies start at, and attaches the reference log-probabilities', () => {
    const { pairs, tokenizer, template, config } = rewardFixture();
    const { pairs: encoded } = encodeDpoPairs(pairs.slice(0, 6), tokenizer, template);
    const reference = createDecoder(config, 3);
    const withRef = referenceLogps(reference, encoded, { padId: tokenizer.pad, batchSize: 4 });
    for (const [i, p] of withRef.entries()) {
      const prompt = tokenizer.encode(template.render(pairs[i].prompt, { addGenerationPrompt: true }).text, { addSpecialTokens: false });
      assert.equal(p.promptLength, prompt.length);
      close(p.refChosen!, alone(reference, p.chosen, p.promptLength!), `pair ${p.id} chosen`);
      close(p.refRejected!, alone(reference, p.rejected, p.promptLength!), `pair ${p.id} rejected`);
    }
    disposeDecoder(reference);
  });

  it('trains the policy away from its reference, logging TRL\'s names, the same on two workers, without leaks', async () => {
    const { pairs, tokenizer, template, config } = rewardFixture();
    const policy = createDecoder(config, 5);
    const reference = copyOf(policy);
    const { pairs: encoded } = encodeDpoPairs(pairs.slice(0, 48), tokenizer, template);
    const prepared = referenceLogps(reference, encoded, { padId: tokenizer.pad });
    disposeDecoder(reference);
    const objective = dpoObjective({ beta: 0.5 });
    const data = preferenceBatches(prepared, { batchSize: 8, padId: tokenizer.pad, seed: 0 });
    // Step 1 sees the policy equal to its reference: loss ln 2, rewards 0.
    const twin = copyOf(policy);
    const tensors: number[] = [];
    const run = await train(policy, { steps: 12, lr: 3e-3, minLr: 3e-3, warmupSteps: 0, progress: 'none' }, {
      objective, data, callbacks: [{ onStep: () => void tensors.push(tf.memory().numTensors) }],
    });
    assert.deepEqual(new Set(tensors).size, 1, `numTensors across steps: ${tensors}`);
    const first = run.history[0] as StepRecord & Record<string, number>;
    close(first.loss, Math.LN2, 'first loss', 1e-4);
    close(first['rewards/margins'], 0, 'first margin', 1e-4);
    const last = run.history.at(-1)! as StepRecord & Record<string, number>;
    for (const name of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected', 'logits/chosen', 'logits/rejected', 'entropy', 'num_tokens']) {
      assert.ok(Number.isFinite(last[name]), `${name} in ${JSON.stringify(last)}`);
    }
    const late = run.history.slice(-4) as (StepRecord & Record<string, number>)[];
    assert.ok(late.every((h) => h.loss < Math.LN2), `loss below ln 2 late in the run: ${late.map((h) => h.loss.toFixed(3))}`);
    assert.ok(late.reduce((a, h) => a + h['rewards/margins'], 0) > 0, 'margins grow');
    // Two worker threads: the same first steps (a constant learning rate, so the runs' lengths do not matter).
    const pool = await startWorkers(2, { backend: 'wasm', objective: 'dpo' });
    const split = await train(twin, { steps: 3, lr: 3e-3, minLr: 3e-3, warmupSteps: 0, progress: 'none' }, { objective, data, workers: pool, closeWorkers: true });
    for (let s = 0; s < 3; s++) close(split.history[s].loss, run.history[s].loss, `step ${s + 1} loss on workers`, 1e-4);
    disposeDecoder(policy);
    disposeDecoder(twin);
  });

  it('stops a run whose policy never leaves its reference, saying why', async () => {
    const { pairs, tokenizer, template, config } = rewardFixture();
    const policy = createDecoder(config, 7);
    const { pairs: encoded } = encodeDpoPairs(pairs.slice(0, 16), tokenizer, template);
    const prepared = referenceLogps(policy, encoded, { padId: tokenizer.pad });
    const data = preferenceBatches(prepared, { batchSize: 8, padId: tokenizer.pad, seed: 0 });
    await assert.rejects(
      train(policy, { steps: 8, lr: 1e-12, warmupSteps: 0, progress: 'none' }, { objective: dpoObjective(), data, callbacks: [dpoStallCheck({ steps: 3 })] }),
      (e: Error) => e instanceof DpoStallError && /3 steps with loss ln 2 .*has not moved from its reference; the updates do not change/.test(e.message),
    );
    // A run that moves passes the same check.
    const moving = await train(policy, { steps: 4, lr: 3e-3, warmupSteps: 0, progress: 'none' }, { objective: dpoObjective(), data, callbacks: [dpoStallCheck({ steps: 3 })] });
    assert.equal(moving.history.length, 4);
    disposeDecoder(policy);
  });

  it('trains SimPO without a reference: its first loss is the formula on the policy alone, then falls, the same on two workers', async () => {
    const { pairs, tokenizer, template, config } = rewardFixture();
    const policy = createDecoder(config, 11);
    const twin = copyOf(policy);
    const { pairs: encoded } = encodeDpoPairs(pairs.slice(0, 48), tokenizer, template);
    const data = preferenceBatches(encoded, { batchSize: 8, padId: tokenizer.pad, seed: 0 });
    const first = data.batch(0, 0);
    const expected = tf.tidy(() => {
      const r = replyLogps(policy, { rows: 2 * first.pairs, length: first.length, ids: Int32Array.from([...first.chosen, ...first.rejected]),
        lengths: Int32Array.from([...first.chosenLengths, ...first.rejectedLengths]), promptLengths: Int32Array.from([...first.promptLengths!, ...first.promptLengths!]) });
      const P = first.pairs;
      const n = tf.tensor1d(Float32Array.from(r.tokens));
      return simpoLoss({ policyChosen: tf.slice(r.logps, [0], [P]), policyRejected: tf.slice(r.logps, [P], [P]), chosenTokens: tf.slice(n, [0], [P]), rejectedTokens: tf.slice(n, [P], [P]) }, { beta: 2, gamma: 0.5 }).loss.dataSync()[0];
    });
    const objective = simpoObjective({ beta: 2, gamma: 0.5 });
    const tensors: number[] = [];
    const run = await train(policy, { steps: 12, lr: 3e-3, minLr: 3e-3, warmupSteps: 0, progress: 'none' }, { objective, data, callbacks: [{ onStep: () => void tensors.push(tf.memory().numTensors) }] });
    assert.equal(new Set(tensors).size, 1, `numTensors across steps: ${tensors}`);
    close(run.history[0].loss, expected, 'first SimPO loss');
    const h = run.history as (StepRecord & Record<string, number>)[];
    for (const name of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected', 'entropy', 'num_tokens']) assert.ok(Number.isFinite(h.at(-1)![name]), name);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(h.slice(-4).map((r) => r.loss)) < mean(h.slice(0, 4).map((r) => r.loss)), 'the loss falls');
    const pool = await startWorkers(2, { backend: 'wasm', objective: 'simpo' });
    const split = await train(twin, { steps: 2, lr: 3e-3, minLr: 3e-3, warmupSteps: 0, progress: 'none' }, { objective, data, workers: pool, closeWorkers: true });
    for (let k = 0; k < 2; k++) close(split.history[k].loss, run.history[k].loss, `step ${k + 1} on workers`);
    assert.throws(() => simpoObjective({ beta: 0 }), /beta must be > 0/);
    disposeDecoder(policy);
    disposeDecoder(twin);
  });

  it('refuses batches that are not prepared, naming what is missing', () => {
    const { pairs, tokenizer, template, config } = rewardFixture();
    const model = createDecoder(config, 0);
    const { pairs: encoded } = encodeDpoPairs(pairs.slice(0, 2), tokenizer, template);
    const objective = dpoObjective();
    assert.throws(() => objective.validate!(preferenceBatch(encoded, { padId: tokenizer.pad }), model), /no reference log-probabilities; attach them with referenceLogps/);
    const bare = encoded.map(({ promptLength: _p, ...rest }) => rest);
    assert.throws(() => objective.validate!(preferenceBatch(bare, { padId: tokenizer.pad }), model), /no prompt lengths; encode the pairs with encodeDpoPairs/);
    assert.throws(() => dpoObjective({ beta: -1 }), /beta must be > 0/);
    disposeDecoder(model);
  });
});
