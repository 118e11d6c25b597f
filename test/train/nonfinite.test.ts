// Issue 11 item 13: an update that throws the weights to 1e20 keeps the loss
// finite for one more step, so a checkpoint written right after it held
// weights that could not resume. The checkpoint a NonFiniteLossError names
// must resume and train a step with a finite loss.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder, loadCheckpoint } from '../../kernel-lib/model';
import { lmObjective, NonFiniteLossError, train } from '../../kernel-lib/train';
import { tinyConfig } from '../model/helpers';
import { base, data, rejection, trainerState } from './helpers';

describe('train/nonfinite', () => {
  let dir: string;
  before(async () => {
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-nonfinite-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the checkpoint named after an exploding update has finite weights and resumes with a finite loss', async () => {
    const ckpt = path.join(dir, 'explode');
    const model = createDecoder(tinyConfig(), 3);
    await train(model, { ...base, steps: 4, checkpointEvery: 2, checkpointDir: ckpt }, { objective: lmObjective, data });
    // Continue with a learning rate that throws the weights to ~1e20 in one
    // update: the next loss is still finite, its gradient is not.
    const err = await rejection(
      train(model, { ...base, steps: 10, lr: 1e20, warmupSteps: 0, checkpointEvery: 1, checkpointDir: ckpt }, { objective: lmObjective, data, resumeFrom: ckpt }),
    );
    assert.ok(err instanceof NonFiniteLossError, String(err));
    assert.equal(err.lastCheckpoint, ckpt);
    const step = trainerState(ckpt).step;
    let largest = 0;
    const saved = loadCheckpoint(ckpt).model;
    for (const t of saved.weights.values()) for (const v of t.dataSync()) largest = Math.max(largest, Math.abs(v));
    disposeDecoder(saved);
    assert.ok(largest < 100, `largest |weight| in the named checkpoint: ${largest}`);

    const fresh = createDecoder(tinyConfig(), 9);
    const resumed = await train(fresh, { ...base, steps: step + 2 }, { objective: lmObjective, data, resumeFrom: err.lastCheckpoint! });
    assert.equal(resumed.history.length, 2);
    assert.ok(resumed.history.every((h) => Number.isFinite(h.loss) && Number.isFinite(h.grad_norm)), JSON.stringify(resumed.history));
    assert.match(err.message, /the update broke them, so the checkpoint due at step 5 was not saved/);
    [model, fresh].forEach(disposeDecoder);
  });

  it('an update that makes a weight infinite is caught before it reaches the model, naming the weight', async () => {
    const model = createDecoder(tinyConfig(), 3);
    const before = new Map([...model.weights].map(([n, t]) => [n, Float32Array.from(t.dataSync() as Float32Array)]));
    const err = await rejection(train(model, { ...base, steps: 3, lr: 1e39, warmupSteps: 0 }, { objective: lmObjective, data }));
    assert.ok(err instanceof NonFiniteLossError, String(err));
    assert.match(err.message, /step 0: gradient norm is [\d.]+; .* The update \(lr 1e\+39\) made "model\.[\w.]+"\[\d+\] -?Infinity; the model keeps the weights from before it\./);
    for (const [n, t] of model.weights) assert.deepEqual(t.dataSync(), before.get(n), n);
    disposeDecoder(model);
  });

  it('the final checkpoint is not written when the last update broke the weights', async () => {
    const ckpt = path.join(dir, 'final');
    const model = createDecoder(tinyConfig(), 3);
    await train(model, { ...base, steps: 2, checkpointDir: ckpt }, { objective: lmObjective, data });
    const err = await rejection(
      train(model, { ...base, steps: 3, lr: 1e20, warmupSteps: 0, checkpointDir: ckpt }, { objective: lmObjective, data, resumeFrom: ckpt }),
    );
    assert.ok(err instanceof NonFiniteLossError, String(err));
    assert.match(err.message, /The final checkpoint was not saved/);
    assert.equal(trainerState(ckpt).step, 2);
    disposeDecoder(model);
  });
});
