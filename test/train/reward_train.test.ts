// The reward objective on real steps over the world's preference pairs:
// pairs rendered through ChatML end at the end-of-turn, batches reshuffle per
// epoch, training raises pairwise accuracy and logs TRL's metrics, LoRA trains
// the adapters and the head and nothing else, and no tensor leaks.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import {
  addLora, addRewardLora, addScoreHead, createDecoder, disposeDecoder, mergeRewardLora, scoreHead, sequenceScores, type Decoder,
} from '../../kernel-lib/model';
import {
  AdamW, encodePreferences, loadTrainingCheckpoint, preferenceBatch, preferenceBatches, rewardObjective, saveTrainingCheckpoint, scoreReplies, train,
  type EncodedPair, type StepRecord,
} from '../../kernel-lib/train';
import { trainBpe } from '../../kernel-lib/text';
import { rewardFixture } from './reward_helpers';

/** Share of pairs whose chosen reply scores strictly above the rejected one. */
function pairwiseAccuracy(model: Decoder, pairs: EncodedPair[], padId: number): number {
  const b = preferenceBatch(pairs, { padId });
  const [c, r] = tf.tidy(() => [
    sequenceScores(model, tf.tensor2d(b.chosen, [b.pairs, b.length], 'int32'), b.chosenLengths).dataSync(),
    sequenceScores(model, tf.tensor2d(b.rejected, [b.pairs, b.length], 'int32'), b.rejectedLengths).dataSync(),
  ]);
  let wins = 0;
  for (let i = 0; i < b.pairs; i++) if (c[i] > r[i]) wins++;
  return wins / b.pairs;
}

const snapshot = (m: Map<string, tf.Tensor>) => new Map([...m].map(([k, t]) => [k, Float32Array.from(t.dataSync())]));

describe('train/reward: training a reward model on the world\'s pairs', function () {
  this.timeout(300_000);
  let f: ReturnType<typeof rewardFixture>;
  let pairs: EncodedPair[];
  let padId: number;
  before(async () => {
    await selectBackend('wasm');
    f = rewardFixture();
    pairs = encodePreferences(f.pairs.slice(0, 96), f.tokenizer, f.template).pairs;
    padId = f.tokenizer.pad;
  });

  it('renders each reply as the assistant turn, ending with the end-of-turn token', () => {
    const eot = f.tokenizer.tokenToId('<|im_end|>');
    const p = pairs[0];
    assert.equal(p.chosen.at(-1), eot);
    assert.equal(p.rejected.at(-1), eot);
    const text = f.tokenizer.decode(p.chosen);
    assert.ok(text.endsWith(`<|im_start|>assistant\n${f.pairs[0].chosen[0].content}<|im_end|>`), text);
    // The shared prompt tokens are the same in both rows.
    const prompt = f.tokenizer.encode('<|im_start|>user\n', { addSpecialTokens: false });
    assert.deepEqual(p.chosen.slice(0, prompt.length), p.rejected.slice(0, prompt.length));
  });

  it('refuses a tokenizer that splits the end-of-turn marker, naming the pair', () => {
    const plain = trainBpe('the cat sat on the mat', { vocabSize: 270 });
    assert.throws(
      () => encodePreferences(f.pairs.slice(0, 1), plain, f.template),
      new RegExp(`world pair ${f.pairs[0].id} \\(chosen\\): the rendered reply ends with token .*, not the end-of-turn "<\\|im_end\\|>" \\(which is not a token of this tokenizer`),
    );
  });

  it('refuses pairs over maxLength, naming them, or drops and lists them', () => {
    const some = f.pairs.slice(0, 20);
    const all = encodePreferences(some, f.tokenizer, f.template).pairs;
    const limit = 40;
    const long = all.filter((p) => p.chosen.length > limit || p.rejected.length > limit);
    assert.ok(long.length > 0 && long.length < all.length, `${long.length} of ${all.length} pairs over ${limit}`);
    assert.throws(() => encodePreferences(some, f.tokenizer, f.template, { maxLength: limit }), new RegExp(`pair ${long[0].id}: chosen has \\d+ tokens and rejected \\d+, over maxLength ${limit}`));
    const r = encodePreferences(some, f.tokenizer, f.template, { maxLength: limit, tooLong: 'drop' });
    assert.deepEqual(r.dropped.map((d) => d.id), long.map((p) => p.id));
    assert.equal(r.pairs.length, all.length - long.length);
  });

  it('batches go through every pair once per epoch, each epoch in its own seeded order', () => {
    const source = preferenceBatches(pairs, { batchSize: 10, padId, seed: 3 });
    assert.equal(source.batchesPerEpoch, 10);
    const epoch = (e: number) => Array.from({ length: 10 }, (_, s) => source.batch(e * 10 + s, 0).ids!).flat();
    const first = epoch(0);
    const second = epoch(1);
    assert.deepEqual([...first].sort(), pairs.map((p) => p.id).sort());
    assert.deepEqual([...second].sort(), pairs.map((p) => p.id).sort());
    assert.notDeepEqual(first, second);
    assert.deepEqual(preferenceBatches(pairs, { batchSize: 10, padId, seed: 3 }).batch(0, 0).ids, source.batch(0, 0).ids);
    assert.notDeepEqual(preferenceBatches(pairs, { batchSize: 10, padId, seed: 4 }).batch(0, 0).ids, source.batch(0, 0).ids);
    const b = source.batch(9, 0);
    assert.equal(b.pairs, 6, 'the last batch of an epoch holds the rest');
  });

  it('the score is read at the last real token: padding after it changes nothing', () => {
    const model = createDecoder(f.config, 2);
    addScoreHead(model, { seed: 2, std: 0.5 });
    const p = pairs[1];
    const [short, padded] = tf.tidy(() => {
      const a = sequenceScores(model, tf.tensor2d([p.chosen], [1, p.chosen.length], 'int32'), [p.chosen.length]).dataSync()[0];
      const row = [...p.chosen, ...Array(7).fill(padId)];
      const b = sequenceScores(model, tf.tensor2d([row], [1, row.length], 'int32'), [p.chosen.length]).dataSync()[0];
      return [a, b];
    });
    assert.ok(Math.abs(short - padded) < 1e-5, `${short} vs ${padded}`);
    const viaHelper = scoreReplies(model, f.tokenizer, f.template, f.pairs[1].prompt, [f.pairs[1].chosen, f.pairs[1].rejected]);
    assert.ok(Math.abs(viaHelper[0] - short) < 1e-5, `scoreReplies ${viaHelper[0]} vs ${short}`);
    disposeDecoder(model);
  });

  it('full fine-tuning raises pairwise accuracy on the training pairs and logs TRL\'s metrics, with no tensor leak', async () => {
    const model = createDecoder(f.config, 0);
    addScoreHead(model, { seed: 0 });
    const before = pairwiseAccuracy(model, pairs, padId);
    const tensors: number[] = [];
    const r = await train(model, { steps: 30, lr: 3e-3, warmupSteps: 3, progress: 'none', seed: 0 }, {
      objective: rewardObjective(),
      data: preferenceBatches(pairs, { batchSize: 16, padId, seed: 0 }),
      callbacks: [{ onStep: () => void tensors.push(tf.memory().numTensors) }],
    });
    const after = pairwiseAccuracy(model, pairs, padId);
    assert.ok(after >= before + 0.2 && after >= 0.75, `pairwise accuracy ${before} -> ${after}`);
    const h: StepRecord = r.history.at(-1)!;
    for (const k of ['loss', 'accuracy', 'min_reward', 'mean_reward', 'max_reward', 'margin', 'num_tokens']) assert.ok(Number.isFinite(h[k]), `${k}: ${h[k]}`);
    for (const s of r.history) assert.ok(s.min_reward <= s.mean_reward && s.mean_reward <= s.max_reward, `step ${s.step}: ${s.min_reward} ${s.mean_reward} ${s.max_reward}`);
    // num_tokens is the running total of real tokens (both rows of every pair).
    const source = preferenceBatches(pairs, { batchSize: 16, padId, seed: 0 });
    const tokensOf = (step: number) => { const b = source.batch(step, 0); return [...b.chosenLengths, ...b.rejectedLengths].reduce((a, n) => a + n, 0); };
    assert.equal(r.history[0].num_tokens, tokensOf(0));
    assert.equal(r.history[1].num_tokens, tokensOf(0) + tokensOf(1));
    // The step's tokens (and tokens/s) are tokens, not pairs.
    assert.equal(r.history[1].tokens, tokensOf(1));
    const firstLoss = r.history.slice(0, 5).reduce((a, s) => a + s.loss, 0) / 5;
    const lastLoss = r.history.slice(-5).reduce((a, s) => a + s.loss, 0) / 5;
    assert.ok(lastLoss < firstLoss - 0.1, `loss ${firstLoss} -> ${lastLoss}`);
    // Rows of many lengths, and still no tensor added from one step to the next.
    assert.ok(new Set(Array.from({ length: 30 }, (_, s) => source.batch(s, 0).length)).size > 5, 'batches of several row lengths');
    assert.deepEqual(new Set(tensors).size, 1, `numTensors across steps: ${tensors}`);
    disposeDecoder(model);
  });

  it('LoRA trains the adapters and the head and leaves every base weight unchanged', async () => {
    const model = createDecoder(f.config, 1);
    addScoreHead(model, { seed: 1 });
    addRewardLora(model, { rank: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj'] }, 1);
    const baseBefore = snapshot(model.weights);
    const headBefore = Float32Array.from(scoreHead(model).dataSync());
    const tensors: number[] = [];
    const r = await train(model, { steps: 6, lr: 1e-2, warmupSteps: 1, progress: 'none', seed: 1 }, {
      objective: rewardObjective({ centerRewardsCoefficient: 0.01 }),
      data: preferenceBatches(pairs, { batchSize: 8, padId, seed: 1 }),
      callbacks: [{ onStep: () => void tensors.push(tf.memory().numTensors) }],
    });
    assert.equal(r.history.length, 6);
    for (const [name, values] of baseBefore) assert.deepEqual(model.weights.get(name)!.dataSync(), values, `${name} changed under LoRA`);
    const headAfter = scoreHead(model).dataSync();
    assert.notDeepEqual(Array.from(headAfter), Array.from(headBefore), 'the head did not train');
    assert.ok(model.lora!.tensors.get('model.layers.0.self_attn.q_proj.lora_B')!.dataSync().some((v) => v !== 0), 'adapter B stayed 0');
    assert.deepEqual(new Set(tensors).size, 1, `numTensors across steps: ${tensors}`);
    // Merging keeps the scores and brings the head back among the weights.
    const ids = tf.tensor2d([pairs[0].chosen], [1, pairs[0].chosen.length], 'int32');
    const lengths = [pairs[0].chosen.length];
    const withAdapters = tf.tidy(() => sequenceScores(model, ids, lengths).dataSync()[0]);
    mergeRewardLora(model);
    assert.ok(model.weights.has('score.weight') && !model.lora);
    const merged = tf.tidy(() => sequenceScores(model, ids, lengths).dataSync()[0]);
    assert.ok(Math.abs(withAdapters - merged) < 1e-4, `${withAdapters} vs ${merged}`);
    ids.dispose();
    disposeDecoder(model);
  });

  it('full fine-tuning on an untied base trains every weight the score reads and leaves lm_head alone', async () => {
    // LlamaForSequenceClassification has no lm_head: a reward model never reads it, so it gets no gradient.
    const model = createDecoder({ ...f.config, tie_word_embeddings: false }, 4);
    addScoreHead(model, { seed: 1 });
    const lmHead = Float32Array.from(model.weights.get('lm_head.weight')!.dataSync());
    const embed = Float32Array.from(model.weights.get('model.embed_tokens.weight')!.dataSync());
    const result = await train(model, { steps: 2, lr: 1e-3, progress: 'none', seed: 0 }, {
      objective: rewardObjective(),
      data: preferenceBatches(pairs, { batchSize: 8, padId, seed: 0 }),
    });
    assert.ok(result.history.every((r) => Number.isFinite(r.loss)));
    assert.deepEqual(Float32Array.from(model.weights.get('lm_head.weight')!.dataSync()), lmHead, 'lm_head unchanged');
    assert.notDeepEqual(Float32Array.from(model.weights.get('model.embed_tokens.weight')!.dataSync()), embed, 'the embeddings trained');
    disposeDecoder(model);
  });

  it('a resumed full fine-tuning run repeats the uninterrupted one (its checkpoint is a sequence classifier)', async () => {
    const config = { steps: 6, lr: 3e-3, warmupSteps: 1, progress: 'none' as const, seed: 2 };
    const data = preferenceBatches(pairs, { batchSize: 8, padId, seed: 2 });
    const fresh = () => { const m = createDecoder(f.config, 5); addScoreHead(m, { seed: 5 }); return m; };
    const straight = fresh();
    const whole = await train(straight, config, { objective: rewardObjective(), data });
    const ckpt = fs.mkdtempSync(path.join(os.tmpdir(), 'reward-resume-'));
    try {
      const first = fresh();
      // Stop after 3 of 6 steps (the same run, so the same schedule), at its checkpoint.
      const stop = new Error('stop');
      await assert.rejects(train(first, { ...config, checkpointEvery: 3, checkpointDir: ckpt }, {
        objective: rewardObjective(),
        data,
        callbacks: [{ onCheckpoint: () => { throw stop; } }],
      }), (e) => e === stop);
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(ckpt, 'config.json'), 'utf8')).architectures, ['LlamaForSequenceClassification']);
      const second = createDecoder(f.config, 99);
      addScoreHead(second, { seed: 99 }); // a different head: the checkpoint must overwrite it
      const rest = await train(second, config, { objective: rewardObjective(), data, resumeFrom: ckpt });
      assert.deepEqual(rest.history.map((h) => h.loss), whole.history.slice(3).map((h) => h.loss));
      assert.deepEqual(scoreHead(second).dataSync(), scoreHead(straight).dataSync());
      [first, second].forEach(disposeDecoder);
    } finally {
      fs.rmSync(ckpt, { recursive: true, force: true });
    }
    disposeDecoder(straight);
  });

  it('a resumed LoRA run repeats the uninterrupted one: its checkpoint carries the trained head (modules_to_save)', async () => {
    const config = { steps: 6, lr: 1e-2, warmupSteps: 1, progress: 'none' as const, seed: 3 };
    const data = preferenceBatches(pairs, { batchSize: 8, padId, seed: 3 });
    const lora = { rank: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj'] };
    const objective = () => rewardObjective({ centerRewardsCoefficient: 0.01 });
    const fresh = (headSeed: number) => { const m = createDecoder(f.config, 6); addScoreHead(m, { seed: headSeed }); addRewardLora(m, lora, headSeed); return m; };
    const straight = fresh(6);
    const whole = await train(straight, config, { objective: objective(), data });
    const ckpt = fs.mkdtempSync(path.join(os.tmpdir(), 'reward-lora-resume-'));
    try {
      const first = fresh(6);
      const stop = new Error('stop');
      await assert.rejects(train(first, { ...config, checkpointEvery: 3, checkpointDir: ckpt }, {
        objective: objective(),
        data,
        callbacks: [{ onCheckpoint: () => { throw stop; } }],
      }), (e) => e === stop);
      const adapterConfig = JSON.parse(fs.readFileSync(path.join(ckpt, 'adapter_config.json'), 'utf8'));
      assert.deepEqual(adapterConfig.modules_to_save, ['score']);
      // Another head and other adapters: the checkpoint must replace both.
      const second = fresh(99);
      const rest = await train(second, config, { objective: objective(), data, resumeFrom: ckpt });
      assert.deepEqual(rest.history.map((h) => h.loss), whole.history.slice(3).map((h) => h.loss));
      assert.deepEqual(scoreHead(second).dataSync(), scoreHead(straight).dataSync());
      for (const [name, t] of straight.lora!.tensors) assert.deepEqual(second.lora!.tensors.get(name)!.dataSync(), t.dataSync(), name);
      [first, second].forEach(disposeDecoder);
    } finally {
      fs.rmSync(ckpt, { recursive: true, force: true });
    }
    disposeDecoder(straight);
  });

  it('refuses to resume a LoRA reward run from adapters saved without the head, and leaves the model as it was', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reward-lora-nohead-'));
    try {
      const lora = { rank: 2, alpha: 2, dropout: 0, targets: ['q_proj'] };
      const plain = createDecoder(f.config, 1);
      addLora(plain, lora);
      saveTrainingCheckpoint(dir, plain, new AdamW(), { step: 1, optimizerStep: 1, seed: 0, objective: 'reward', lora: true });
      const model = createDecoder(f.config, 1);
      addScoreHead(model, { seed: 1 });
      addRewardLora(model, lora);
      const head = Float32Array.from(scoreHead(model).dataSync());
      assert.throws(() => loadTrainingCheckpoint(dir, model, new AdamW()), /reward-lora-nohead-.*: the checkpoint lacks score\.weight, which this run trains/);
      assert.deepEqual(scoreHead(model).dataSync(), head);
      assert.ok(model.lora!.tensors.has('model.layers.0.self_attn.q_proj.lora_A'));
      [plain, model].forEach(disposeDecoder);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a LoRA model whose head was left frozen among the base weights', async () => {
    const model = createDecoder(f.config, 1);
    addScoreHead(model);
    addLora(model, { rank: 2, alpha: 2, dropout: 0, targets: ['q_proj'] });
    await assert.rejects(
      train(model, { steps: 1, lr: 1e-3, progress: 'none' }, { objective: rewardObjective(), data: preferenceBatches(pairs, { batchSize: 4, padId }) }),
      /score head is not beside them.*addRewardLora/,
    );
    disposeDecoder(model);
  });
});
