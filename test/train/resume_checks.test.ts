// Issue 11 item 15: resuming a checkpoint with another seed, model config or
// LoRA config was accepted silently. A differing model or LoRA config is
// refused naming the field; a differing seed is refused naming both values,
// and a seed left out is taken from the checkpoint; a changed optimizer
// option is allowed but reported.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { selectBackend } from '../../kernel-lib/runtime';
import { addLora, createDecoder, disposeDecoder } from '../../kernel-lib/model';
import { lmObjective, train } from '../../kernel-lib/train';
import { tinyConfig } from '../model/helpers';
import { base, data, rejection, trainerState } from './helpers';

describe('train/resume checks', () => {
  let dir: string;
  let full: string;
  let lora: string;
  const lmRun = { objective: lmObjective, data };
  before(async function () {
    this.timeout(60000);
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-resume-'));
    full = path.join(dir, 'full');
    const m = createDecoder(tinyConfig(), 1);
    await train(m, { ...base, steps: 2, weightDecay: 0.05, checkpointDir: full }, lmRun);
    disposeDecoder(m);
    lora = path.join(dir, 'lora');
    const l = createDecoder(tinyConfig(), 1);
    addLora(l, { rank: 2, alpha: 4, dropout: 0.1, targets: ['q_proj', 'v_proj'] }, 1);
    await train(l, { ...base, steps: 2, checkpointDir: lora }, lmRun);
    disposeDecoder(l);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses another seed, naming both', async () => {
    const m = createDecoder(tinyConfig(), 1);
    const err = await rejection(train(m, { ...base, seed: 2, steps: 3 }, { ...lmRun, resumeFrom: full }));
    assert.match(err?.message ?? '', /full: the checkpoint's run used seed 1, this run sets seed 2; .*Set seed: 1 \(or leave it out\)/);
    disposeDecoder(m);
  });

  it('takes the seed and optimizer options from the checkpoint when the run leaves them out', async () => {
    const m = createDecoder(tinyConfig(), 1);
    const out = path.join(dir, 'continued');
    const { seed: _seed, ...unseeded } = base;
    await train(m, { ...unseeded, steps: 3, checkpointDir: out }, { ...lmRun, resumeFrom: full });
    const state = trainerState(out);
    assert.equal(state.seed, 1);
    assert.equal(state.optimizer.weightDecay, 0.05);
    disposeDecoder(m);
  });

  it('allows a changed optimizer option but says so', async () => {
    const m = createDecoder(tinyConfig(), 1);
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (msg: string) => warnings.push(msg);
    try {
      await train(m, { ...base, steps: 3, weightDecay: 0.2 }, { ...lmRun, resumeFrom: full });
    } finally {
      console.warn = warn;
    }
    assert.deepEqual(warnings, [`train: resuming ${full} with weightDecay = 0.2; the checkpoint's run used weightDecay = 0.05`]);
    disposeDecoder(m);
  });

  it('refuses a model config that differs, naming the field, even when every tensor shape matches', async () => {
    const m = createDecoder(tinyConfig({ rope_theta: 500000 }), 1);
    const err = await rejection(train(m, { ...base, steps: 3 }, { ...lmRun, resumeFrom: full }));
    assert.match(err?.message ?? '', /full: the checkpoint's model config has rope_theta = 10000, this run's has rope_theta = 500000/);
    disposeDecoder(m);
  });

  it('checks a checkpoint saved before trainer_state.json held the model config against its config.json', async () => {
    const old = path.join(dir, 'old');
    fs.cpSync(full, old, { recursive: true });
    const state = trainerState(old);
    delete state.modelConfig;
    fs.writeFileSync(path.join(old, 'trainer_state.json'), JSON.stringify(state));
    const m = createDecoder(tinyConfig({ max_position_embeddings: 40 }), 1);
    const err = await rejection(train(m, { ...base, steps: 3 }, { ...lmRun, resumeFrom: old }));
    assert.match(err?.message ?? '', /old: the checkpoint's model config has max_position_embeddings = 48, this run's has max_position_embeddings = 40/);
    const same = createDecoder(tinyConfig(), 1);
    const r = await train(same, { ...base, steps: 3 }, { ...lmRun, resumeFrom: old });
    assert.equal(r.history.length, 1);
    [m, same].forEach(disposeDecoder);
  });

  it('refuses a LoRA config that differs, naming the field', async () => {
    const m = createDecoder(tinyConfig(), 1);
    addLora(m, { rank: 2, alpha: 4, dropout: 0.3, targets: ['q_proj', 'v_proj'] }, 1);
    const err = await rejection(train(m, { ...base, steps: 3 }, { ...lmRun, resumeFrom: lora }));
    assert.match(err?.message ?? '', /lora: the checkpoint's LoRA config has dropout = 0\.1, this run's has dropout = 0\.3/);
    disposeDecoder(m);
  });

  it('refuses another base model under LoRA adapters', async () => {
    const m = createDecoder(tinyConfig({ rms_norm_eps: 1e-6 }), 1);
    addLora(m, { rank: 2, alpha: 4, dropout: 0.1, targets: ['q_proj', 'v_proj'] }, 1);
    const err = await rejection(train(m, { ...base, steps: 3 }, { ...lmRun, resumeFrom: lora }));
    assert.match(err?.message ?? '', /model config has rms_norm_eps = 0\.00001, this run's has rms_norm_eps = 0\.000001/);
    disposeDecoder(m);
  });
});
