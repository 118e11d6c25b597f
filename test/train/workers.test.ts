// Issue 11 item 16: the README's data-parallel example never exited (idle
// workers held the process open), and with LoRA dropout two workers drew
// other masks than one thread. Now idle workers let the process end, train()
// closes workers when asked, and masks depend on (seed, step, global row).
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { addLora, addRewardLora, addScoreHead, createDecoder, disposeDecoder, type Decoder } from '../../kernel-lib/model';
import { encodePreferences, lmObjective, preferenceBatches, rewardObjective, startWorkers, train } from '../../kernel-lib/train';
import { tinyConfig } from '../model/helpers';
import { base, data, rejection } from './helpers';
import { rewardFixture } from './reward_helpers';

/** Runs a TypeScript file in a child node; resolves with its exit code and output, or 'timeout' after `ms`. */
function runChild(file: string, ms: number): Promise<{ code: number | 'timeout'; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: path.resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 'timeout', output });
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output });
    });
  });
}

function loraModel(dropout = 0.2): Decoder {
  const model = createDecoder(tinyConfig(), 8);
  addLora(model, { rank: 4, alpha: 8, dropout, targets: ['q_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, 3);
  return model;
}

describe('train/workers', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  it("the README's example (workers passed inline, never closed) exits by itself", async function () {
    this.timeout(90000);
    const r = await runChild(path.join(__dirname, 'fixtures', 'readme_example.ts'), 60000);
    assert.equal(r.code, 0, `exit: ${r.code}; output:\n${r.output}`);
    assert.match(r.output, /trained 4 steps/);
  });

  it('closeWorkers: train closes the workers it was given, also when it throws', async function () {
    this.timeout(60000);
    const model = createDecoder(tinyConfig(), 8);
    const workers = await startWorkers(2, { backend: 'wasm', objective: 'lm' });
    await train(model, { ...base, steps: 1 }, { objective: lmObjective, data, workers, closeWorkers: true });
    const err = await rejection(workers.compute(lmObjective.split(data.batch(0, 0), 2), [{}, {}]));
    assert.match(err?.message ?? '', /train worker 0 has exited \(code 1\); start new workers/);
    const failing = await startWorkers(1, { backend: 'wasm', objective: 'lm' });
    const bad = await rejection(train(model, { ...base, steps: 0 }, { objective: lmObjective, data, workers: failing, closeWorkers: true }));
    assert.match(bad?.message ?? '', /steps must be a positive integer/);
    assert.ok(await rejection(failing.update([])), 'the failing run closed its workers');
    disposeDecoder(model);
  });

  it('with LoRA dropout, two workers give the single-thread losses up to float rounding', async function () {
    this.timeout(180000);
    const one = loraModel();
    const two = loraModel();
    const config = { ...base, steps: 6, lr: 3e-2 };
    const a = await train(one, config, { objective: lmObjective, data });
    const b = await train(two, config, { objective: lmObjective, data, workers: await startWorkers(2, { backend: 'wasm', objective: 'lm' }), closeWorkers: true });
    a.history.forEach((h, i) => assert.ok(Math.abs(h.loss - b.history[i].loss) < 1e-4, `step ${h.step}: ${h.loss} vs ${b.history[i].loss}`));
    // Dropout is on: without it the losses differ.
    const still = loraModel(0);
    const c = await train(still, config, { objective: lmObjective, data });
    assert.ok(Math.abs(c.history.at(-1)!.loss - a.history.at(-1)!.loss) > 1e-3, 'dropout changes the losses');
    [one, two, still].forEach(disposeDecoder);
  });

  it("workers know the reward objective: two give the single-thread losses and metrics (LoRA dropout, centring)", async function () {
    this.timeout(180000);
    const f = rewardFixture();
    const pairs = encodePreferences(f.pairs.slice(0, 40), f.tokenizer, f.template).pairs;
    const rewardModel = () => {
      const m = createDecoder(f.config, 4);
      addScoreHead(m, { seed: 4 });
      addRewardLora(m, { rank: 4, alpha: 8, dropout: 0.2, targets: ['q_proj', 'v_proj'] }, 4);
      return m;
    };
    const config = { ...base, steps: 4, lr: 1e-2 };
    const options = () => ({
      objective: rewardObjective({ centerRewardsCoefficient: 0.05 }),
      data: preferenceBatches(pairs, { batchSize: 8, padId: f.tokenizer.pad, seed: 4 }),
    });
    const one = rewardModel();
    const two = rewardModel();
    const a = await train(one, config, options());
    const b = await train(two, config, { ...options(), workers: await startWorkers(2, { backend: 'wasm', objective: 'reward' }), closeWorkers: true });
    assert.equal(b.history.length, 4);
    a.history.forEach((h, i) => {
      for (const k of ['loss', 'accuracy', 'margin', 'mean_reward', 'min_reward', 'max_reward', 'num_tokens', 'tokens']) {
        assert.ok(Math.abs(h[k] - b.history[i][k]) < 1e-4, `step ${h.step} ${k}: ${h[k]} vs ${b.history[i][k]}`);
      }
    });
    [one, two].forEach(disposeDecoder);
  });

  it('no tensors leak over steps with LoRA dropout', async () => {
    const model = loraModel();
    const counts: number[] = [];
    await train(model, { ...base, steps: 4 }, { objective: lmObjective, data, callbacks: [{ onStep: () => { counts.push(tf.memory().numTensors); } }] });
    assert.ok(counts.every((c) => c === counts[0]), `live tensors per step: ${counts.join(', ')}`);
    disposeDecoder(model);
  });
});
