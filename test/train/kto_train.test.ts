// The kto objective on the world's pairs split into labelled singles: each
// batch carries the reference's log-probabilities and z0 (the clamped KL
// estimate from prompts matched with other rows' replies); the first step of
// a policy equal to its reference has z0 0 and loss 0.5; training raises the
// desirable replies' log-ratios above the undesirable ones', logs KTOTrainer's names, gives the same
// step on two workers, and leaks no tensors.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, decoderFromWeights, disposeDecoder, type Decoder } from '../../kernel-lib/model';
import { encodeDpoPairs, ktoBatches, ktoObjective, ktoSingles, replyLogps, startWorkers, train, type KtoSingle, type StepRecord } from '../../kernel-lib/train';
import { rewardFixture } from './reward_helpers';

const close = (a: number, b: number, what: string, tol = 1e-4) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
const copyOf = (m: Decoder): Decoder => decoderFromWeights(m.config, new Map([...m.weights].map(([k, w]) => [k, w.clone()])));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Each single's summed reply log-probability under `model`. */
function logps(model: Decoder, singles: KtoSingle[], pad: number): number[] {
  const L = Math.max(...singles.map((s) => s.ids.length));
  const ids = new Int32Array(singles.length * L).fill(pad);
  singles.forEach((s, r) => ids.set(s.ids, r * L));
  return tf.tidy(() => Array.from(replyLogps(model, { rows: singles.length, length: L, ids, lengths: Int32Array.from(singles, (s) => s.ids.length), promptLengths: Int32Array.from(singles, (s) => s.promptLength) }).logps.dataSync()));
}

describe('train/kto: unpaired desirable and undesirable replies', function () {
  this.timeout(240000);
  before(async () => {
    await selectBackend('wasm');
  });

  it('splits pairs into labelled singles and makes batches with the reference point', async () => {
    const { pairs, tokenizer, template, config } = rewardFixture();
    const { pairs: encoded } = encodeDpoPairs(pairs.slice(0, 6), tokenizer, template);
    const singles = ktoSingles(encoded);
    assert.equal(singles.length, 12);
    assert.deepEqual(singles.slice(0, 2).map((s) => s.desirable), [true, false]);
    assert.deepEqual(singles[0].ids, encoded[0].chosen);
    assert.throws(() => ktoSingles([{ id: 'x', chosen: [1], rejected: [2] }]), /pair x has no promptLength/);
    const policy = createDecoder(config, 2);
    const reference = copyOf(policy);
    const batch = await ktoBatches(singles, { policy, reference, batchSize: 4, padId: tokenizer.pad, seed: 1 }).batch(0, 0);
    assert.equal(batch.rows, 4);
    assert.equal(batch.z0, 0, 'a policy equal to its reference: KL 0');
    assert.equal(batch.counts.desirable + batch.counts.undesirable, 4);
    const moved = createDecoder(config, 3);
    const other = await ktoBatches(singles, { policy: moved, reference, batchSize: 4, padId: tokenizer.pad, seed: 1 }).batch(0, 0);
    assert.ok(other.z0 >= 0);
    // A short prompt's reply matched to a long prompt is cut to the context, not an error.
    const longPrompt = { id: 'long', ids: Array.from({ length: config.max_position_embeddings - 2 }, (_, k) => 5 + (k % 50)), promptLength: config.max_position_embeddings - 3, desirable: true };
    const longReply = { id: 'reply', ids: [6, 7, ...Array.from({ length: 40 }, () => 9)], promptLength: 2, desirable: false };
    const cut = await ktoBatches([longPrompt, longReply], { policy, reference, batchSize: 2, padId: tokenizer.pad }).batch(0, 0);
    assert.ok(Number.isFinite(cut.z0));
    assert.throws(() => ktoBatches(singles.slice(0, 1), { policy, reference, batchSize: 4, padId: tokenizer.pad }), /1 singles; the KL estimate needs at least two/);
    for (const m of [policy, reference, moved]) disposeDecoder(m);
  });

  it('trains: loss 0.5 at the start, desirable rewards rise above undesirable ones, the same on two workers', async () => {
    const { pairs, tokenizer, template, config } = rewardFixture();
    const { pairs: encoded } = encodeDpoPairs(pairs.slice(0, 48), tokenizer, template);
    const singles = ktoSingles(encoded);
    const policy = createDecoder(config, 5);
    const twin = copyOf(policy);
    const reference = copyOf(policy);
    const objective = ktoObjective({ beta: 0.5 });
    const tensors: number[] = [];
    const run = await train(policy, { steps: 14, lr: 3e-3, minLr: 3e-3, warmupSteps: 0, weightDecay: 0, progress: 'none' }, {
      objective, data: ktoBatches(singles, { policy, reference, batchSize: 8, padId: tokenizer.pad, seed: 0 }),
      callbacks: [{ onStep: () => void tensors.push(tf.memory().numTensors) }],
    });
    assert.equal(new Set(tensors).size, 1, `numTensors across steps: ${tensors}`);
    const h = run.history as (StepRecord & Record<string, number>)[];
    close(h[0].loss, 0.5, 'first loss: 1 - σ(0) for every reply');
    for (const name of ['kl', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'num_tokens']) assert.ok(Number.isFinite(h.at(-1)![name]), name);
    // Over all the singles trained on, desirable replies gained log-probability against the reference relative to undesirable ones.
    const after = logps(policy, singles, tokenizer.pad), before = logps(reference, singles, tokenizer.pad);
    const gain = (want: boolean) => mean(singles.map((s, i) => [s, after[i] - before[i]] as const).filter(([s]) => s.desirable === want).map(([, d]) => d));
    assert.ok(gain(true) > gain(false), `desirable ${gain(true).toFixed(3)} vs undesirable ${gain(false).toFixed(3)}`);
    assert.ok(h.at(-1)!.kl > 0, 'the policy moved: its KL estimate, z0, is above 0');
    const pool = await startWorkers(2, { backend: 'wasm', objective: 'kto' });
    const split = await train(twin, { steps: 2, lr: 3e-3, minLr: 3e-3, warmupSteps: 0, weightDecay: 0, progress: 'none' }, {
      objective, data: ktoBatches(singles, { policy: twin, reference, batchSize: 8, padId: tokenizer.pad, seed: 0 }), workers: pool, closeWorkers: true,
    });
    for (let k = 0; k < 2; k++) close(split.history[k].loss, run.history[k].loss, `step ${k + 1} on workers`);
    for (const m of [policy, twin, reference]) disposeDecoder(m);
  });
});
