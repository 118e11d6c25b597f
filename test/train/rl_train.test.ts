// Online RL end to end on a tiny model: per-token reply log-probabilities
// agree with the summed ones, groups are sampled and scored, the `rl`
// objective raises a reward the policy can reach, logs TRL's GRPO names,
// leaves the reference untouched, reuses a rollout for `iterations` steps
// (so the ratio moves off 1 and clipping shows), runs RLOO with its KL in the
// reward, gives the same step on two worker threads, and leaks no tensors;
// PPO's per-token rewards, GAE targets and clipped value loss against values
// worked out by hand, and a PPO run with a value head on the policy.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { addScoreHead, createDecoder, decoderFromWeights, disposeDecoder, type Decoder } from '../../kernel-lib/model';
import {
  oracleReward, ppoTargets, replyLogps, replyTokenLogps, rlObjective, valueLoss, rolloutBatches, sampleGroups, scoreSamples, startWorkers, train,
  type RewardFunction, type RolloutSample, type StepRecord,
} from '../../kernel-lib/train';
import { rewardFixture } from './reward_helpers';

type Row = StepRecord & Record<string, number>;
const close = (a: number, b: number, what: string, tol = 1e-4) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
const copyOf = (m: Decoder): Decoder => decoderFromWeights(m.config, new Map([...m.weights].map(([k, w]) => [k, w.clone()])));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('train/rl: online RL with the shared loop', function () {
  this.timeout(240000);
  before(async () => {
    await selectBackend('wasm');
  });

  const prompts = () => rewardFixture().pairs.slice(0, 24).map((p) => ({ prompt: p.prompt, id: p.id }));
  // A reward a tiny random policy can climb within a few steps: the share of
  // reply tokens among the vocabulary's first 100 ids (about a quarter of
  // them at the start, so groups differ in reward from the first rollout).
  const tokenShare: RewardFunction = { name: 'token_share', score: (samples) => samples.map((s) => s.reply.tokens.filter((t) => t < 100).length / s.reply.tokens.length) };
  const lengthOf: RewardFunction = { name: 'length', weight: 0, score: (samples) => samples.map((s) => s.reply.tokenCount) };

  it('gives every reply token its log-probability in place, summing to the reply log-probability', () => {
    const { config } = rewardFixture();
    const model = createDecoder(config, 1);
    const rows = [[5, 9, 2, 7, 7, 3], [4, 4, 8, 1]];
    const L = 8;
    const batch = {
      rows: 2, length: L, ids: Int32Array.from(rows.flatMap((r) => [...r, ...Array(L - r.length).fill(0)])),
      lengths: Int32Array.from(rows, (r) => r.length), promptLengths: Int32Array.from([3, 1]),
    };
    const t = replyTokenLogps(model, batch);
    const s = replyLogps(model, batch);
    const perToken = t.logps.arraySync();
    const mask = t.mask.arraySync();
    // Row 0: prompt of 3, reply tokens at 3..5, predicted from positions 2..4.
    assert.deepEqual(mask[0], [0, 0, 1, 1, 1, 0, 0, 0]);
    assert.deepEqual(mask[1], [1, 1, 1, 0, 0, 0, 0, 0]);
    perToken.forEach((row, r) => row.forEach((v, c) => { if (!mask[r][c]) assert.ok(v === 0, `row ${r} column ${c} off the reply: ${v}`); }));
    const sums = s.logps.dataSync();
    perToken.forEach((row, r) => close(row.reduce((a, b) => a + b, 0), sums[r], `row ${r} sum`));
    tf.dispose([t.logps, t.mask, t.entropy, s.logps, s.meanLogits, s.meanEntropy]);
    disposeDecoder(model);
  });

  it('samples groups of replies per prompt and scores them with weighted reward functions', async () => {
    const { tokenizer, template, config } = rewardFixture();
    const model = createDecoder(config, 2);
    const sources = prompts().slice(0, 3);
    const a = await sampleGroups(model, tokenizer, template, sources, { groupSize: 4, maxNewTokens: 6, seed: 5 });
    const b = await sampleGroups(model, tokenizer, template, sources, { groupSize: 4, maxNewTokens: 6, seed: 5 });
    assert.equal(a.samples.length, 12);
    assert.deepEqual(a.samples.map((s) => s.group), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    assert.deepEqual(a.samples.map((s) => s.reply.tokens), b.samples.map((s) => s.reply.tokens), 'seeded');
    assert.ok(new Set(a.samples.slice(0, 4).map((s) => s.reply.tokens.join(','))).size > 1, 'temperature 1 by default: a group differs');
    const scored = await scoreSamples(a.samples, [tokenShare, lengthOf]);
    assert.deepEqual(scored.total, scored.byName.token_share, 'a weight of 0 logs without training');
    await assert.rejects(scoreSamples(a.samples, [{ name: 'bad', score: (s) => s.map(() => NaN) }]), /reward "bad" scored sample 0 \(group 0\) NaN/);
    disposeDecoder(model);
  });

  it('judges world tasks with the oracle reward, and refuses prompts without an answer', async () => {
    const { world } = { world: (await import('../../kernel-lib/data')).loadWorld(`${__dirname}/../../data/world`) };
    const task = world.sftTest[0];
    const answer = task.messages[task.messages.length - 1].content;
    const sample = (text: string, source: RolloutSample['source'] = task): RolloutSample =>
      ({ source, prompt: [], group: 0, reply: { text, tokens: [1], tokenCount: 1, budget: 4, finish: 'end_of_turn', stoppedAtEndOfTurn: true, promptIds: [1] } });
    assert.deepEqual(await oracleReward().score([sample(answer), sample('no idea at all')]), [1, 0]);
    assert.throws(() => oracleReward().score([sample(answer, [{ role: 'user', content: 'hi' }])]), /oracle reward: sample 0 is not a world task/);
  });

  it('raises the reward, logs TRL\'s names, keeps the reference and leaks nothing', async () => {
    const { tokenizer, template, config } = rewardFixture();
    const policy = createDecoder(config, 3);
    const reference = copyOf(policy);
    const before = reference.weights.get('model.embed_tokens.weight')!.dataSync().slice();
    const tensors: number[] = [];
    const run = await train(policy, { steps: 16, lr: 1e-2, minLr: 1e-2, warmupSteps: 0, weightDecay: 0, progress: 'none' }, {
      objective: rlObjective({ beta: 0.04 }),
      data: rolloutBatches({ policy, reference, tokenizer, template, prompts: prompts(), rewards: [tokenShare, lengthOf], promptsPerStep: 4, groupSize: 6, maxNewTokens: 8, seed: 1 }),
      callbacks: [{ onStep: () => void tensors.push(tf.memory().numTensors) }],
    });
    assert.equal(new Set(tensors).size, 1, `numTensors across steps: ${tensors}`);
    const h = run.history as Row[];
    for (const name of ['loss', 'reward', 'reward_std', 'frac_reward_zero_std', 'kl', 'entropy', 'policy_loss', 'clip_ratio/region_mean', 'clip_ratio/low_mean', 'clip_ratio/high_mean',
      'completions/mean_length', 'completions/clipped_ratio', 'completions/mean_terminated_length', 'num_tokens', 'rewards/token_share/mean', 'rewards/length/mean', 'completions/tokens_per_s']) {
      assert.ok(Number.isFinite(h[0][name]), `${name} in ${JSON.stringify(h[0])}`);
    }
    // Step 1: policy = reference and = the sampling policy, so KL 0 and no ratio to clip.
    close(h[0].kl, 0, 'first kl', 1e-5);
    assert.equal(h[0]['clip_ratio/region_mean'], 0);
    const first = mean(h.slice(0, 4).map((r) => r.reward));
    const last = mean(h.slice(-4).map((r) => r.reward));
    assert.ok(last > first + 0.1, `reward rises: first steps ${first.toFixed(3)}, last ${last.toFixed(3)}`);
    assert.ok(h.at(-1)!.kl > 0, 'the policy moved from its reference');
    assert.deepEqual(reference.weights.get('model.embed_tokens.weight')!.dataSync(), before, 'the reference is unchanged');
    disposeDecoder(policy);
    disposeDecoder(reference);
  });

  it('reuses a rollout for `iterations` steps, so the ratio leaves 1 and clipping is counted', async () => {
    const { tokenizer, template, config } = rewardFixture();
    const policy = createDecoder(config, 4);
    let rollouts = 0;
    const run = await train(policy, { steps: 4, lr: 3e-2, minLr: 3e-2, warmupSteps: 0, weightDecay: 0, progress: 'none' }, {
      objective: rlObjective({ lossType: 'grpo', epsilon: 0.05 }),
      data: rolloutBatches({ policy, tokenizer, template, prompts: prompts(), rewards: [tokenShare], promptsPerStep: 4, groupSize: 6, maxNewTokens: 8, iterations: 2, seed: 2, onRollout: () => void rollouts++ }),
    });
    const h = run.history as Row[];
    assert.equal(rollouts, 2);
    assert.equal(h[1].reward, h[0].reward, 'step 2 trains on step 1\'s rollout');
    assert.equal(h[0]['clip_ratio/region_mean'], 0);
    assert.ok(h[1]['clip_ratio/region_mean'] > 0, `a second pass over the rollout clips: ${h[1]['clip_ratio/region_mean']}`);
    disposeDecoder(policy);
  });

  it('RLOO takes the KL off the reward; two workers give the same step as one', async () => {
    const { tokenizer, template, config } = rewardFixture();
    const policy = createDecoder(config, 6);
    const twin = copyOf(policy);
    const reference = copyOf(policy);
    const options = (p: Decoder) => ({ policy: p, reference, tokenizer, template, prompts: prompts(), rewards: [tokenShare], promptsPerStep: 4, groupSize: 4, maxNewTokens: 8, advantage: 'rloo' as const, seed: 3 });
    const config1 = { steps: 2, lr: 1e-2, minLr: 1e-2, warmupSteps: 0, progress: 'none' as const };
    const one = await train(policy, config1, { objective: rlObjective(), data: rolloutBatches(options(policy)) });
    const h = one.history as Row[];
    assert.ok(Number.isFinite(h[1]['rewards/rloo_kl_penalised/mean']));
    close(h[0]['rewards/rloo_kl_penalised/mean'], h[0].reward, 'no KL at the first rollout', 1e-5);
    const pool = await startWorkers(2, { backend: 'wasm', objective: 'rl' });
    const two = await train(twin, config1, { objective: rlObjective(), data: rolloutBatches(options(twin)), workers: pool, closeWorkers: true });
    close(two.history[0].loss, h[0].loss, 'step 1 loss on workers', 1e-4);
    close(two.history[1].loss, h[1].loss, 'step 2 loss on workers', 1e-3);
    for (const m of [policy, twin, reference]) disposeDecoder(m);
  });

  it('PPO: per-token KL rewards with the score on the last token, GAE, whitening, and the clipped value loss', () => {
    // One row: 2 prompt tokens, 2 reply tokens; columns 1 and 2 predict them.
    const rows = { rows: 1, length: 5, ids: Int32Array.from([1, 2, 3, 4, 0]), lengths: Int32Array.from([4]), promptLengths: Int32Array.from([2]) };
    const old = Float32Array.from([0, -1, -2, 0, 0]);
    const ref = Float32Array.from([0, -1.5, -1, 0, 0]);
    const values = Float32Array.from([0, 0.2, 0.4, 0, 0]);
    const t = ppoTargets(rows, old, ref, values, [1], { klCoef: 0.1, gamma: 1, lambda: 0.5 });
    // kl = 0.5, -1 → rewards -0.05, 0.1 + 1 = 1.1; δ = -0.05 + 0.4 - 0.2 = 0.15, 1.1 - 0.4 = 0.7; A = 0.15 + 0.5 · 0.7 = 0.5, 0.7.
    close(t.returns[1], 0.7, 'return 1');
    close(t.returns[2], 1.1, 'return 2');
    // Whitened over the two tokens: mean 0.6, sample std 0.1414.
    close(t.advantages[1], -0.1 / Math.sqrt(0.02), 'advantage 1');
    close(t.advantages[2], 0.1 / Math.sqrt(0.02), 'advantage 2');
    assert.equal(t.advantages[0], 0);
    close(t.stats['objective/kl'], -0.5, 'objective/kl');
    close(t.stats['objective/rlhf_reward'], 1.05, 'rlhf reward');
    tf.tidy(() => {
      // V 0.5 vs V_old 0.1 (clipped to 0.3), return 1: max(0.25, 0.49) = 0.49 → 0.245; second token V 1 = return: 0 and 0.
      const v = valueLoss(tf.tensor2d([[0.5, 1]]), tf.tensor2d([[0.1, 1]]), tf.tensor2d([[1, 1]]), tf.tensor2d([[1, 1]]), 0.2);
      close(v.sum.dataSync()[0], 0.245, 'value loss');
      assert.equal(v.clipped.dataSync()[0], 1);
    });
  });

  it('PPO trains the policy and its value head together, logging PPOTrainer\'s names', async () => {
    const { tokenizer, template, config } = rewardFixture();
    const policy = createDecoder(config, 9);
    const reference = copyOf(policy);
    assert.throws(
      () => rolloutBatches({ policy, reference, tokenizer, template, prompts: prompts(), rewards: [tokenShare], promptsPerStep: 2, advantage: 'ppo' }),
      /PPO needs a value head on the policy; add one with addScoreHead/,
    );
    addScoreHead(policy, { seed: 1 });
    const tensors: number[] = [];
    const run = await train(policy, { steps: 16, lr: 1e-2, minLr: 1e-2, warmupSteps: 0, weightDecay: 0, progress: 'none' }, {
      objective: rlObjective(),
      data: rolloutBatches({ policy, reference, tokenizer, template, prompts: prompts(), rewards: [tokenShare], promptsPerStep: 4, groupSize: 6, maxNewTokens: 8, advantage: 'ppo', seed: 4 }),
      callbacks: [{ onStep: () => void tensors.push(tf.memory().numTensors) }],
    });
    assert.equal(new Set(tensors).size, 1, `numTensors across steps: ${tensors}`);
    const h = run.history as Row[];
    for (const name of ['objective/kl', 'objective/scores', 'objective/rlhf_reward', 'policy/clipfrac_avg', 'policy/approxkl_avg', 'loss/value_avg', 'loss/policy_avg', 'val/clipfrac_avg', 'policy/entropy_avg', 'num_tokens']) {
      assert.ok(Number.isFinite(h.at(-1)![name]), `${name} in ${JSON.stringify(h.at(-1))}`);
    }
    close(h[0]['objective/kl'], 0, 'no KL at the first rollout', 1e-5);
    const first = mean(h.slice(0, 3).map((r) => r['objective/scores']));
    const last = mean(h.slice(-3).map((r) => r['objective/scores']));
    assert.ok(last > first + 0.05, `scores rise: ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    disposeDecoder(policy);
    disposeDecoder(reference);
  });

  it('names what is missing: a KL without a reference, bad settings', async () => {
    const { tokenizer, template, config } = rewardFixture();
    const policy = createDecoder(config, 8);
    await assert.rejects(
      train(policy, { steps: 1, lr: 1e-3, progress: 'none' }, {
        objective: rlObjective({ beta: 0.1 }),
        data: rolloutBatches({ policy, tokenizer, template, prompts: prompts(), rewards: [tokenShare], promptsPerStep: 2, groupSize: 2, maxNewTokens: 4 }),
      }),
      /beta 0.1 needs the reference's log-probabilities; give rolloutBatches a reference model/,
    );
    assert.throws(() => rlObjective({ lossType: 'nope' as never }), /unknown lossType "nope"/);
    assert.throws(() => rolloutBatches({ policy, tokenizer, template, prompts: prompts(), rewards: [tokenShare], promptsPerStep: 2, groupSize: 1, advantage: 'rloo' }), /RLOO needs groupSize >= 2/);
    disposeDecoder(policy);
  });
});
