// A save killed between its two renames leaves the previous training
// checkpoint under a hidden `.old` name and nothing under its own. Resuming
// from that folder must put it back and continue, as loading a model
// checkpoint does; and the temporaries dead saves left are removed.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder } from '../../kernel-lib/model';
import { lmObjective, train } from '../../kernel-lib/train';
import { tinyConfig } from '../model/helpers';
import { base, data, trainerState } from './helpers';

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('train/resume after an interrupted save', () => {
  let root: string;
  before(async () => {
    await selectBackend('wasm');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'train-crash-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('restores the previous checkpoint a killed swap left as .old, removes the dead save\'s temporary, and resumes', async () => {
    const dir = path.join(root, 'run');
    const m = createDecoder(tinyConfig(), 1);
    await train(m, { ...base, steps: 2, checkpointDir: dir }, { objective: lmObjective, data });
    disposeDecoder(m);
    assert.equal(trainerState(dir).step, 2);
    // What a save killed after moving the old folder away, before moving the new one in, leaves.
    const stamp = `${await deadPid()}.${Date.now()}`;
    fs.renameSync(dir, path.join(root, `.run.${stamp}.old`));
    fs.mkdirSync(path.join(root, `.run.${stamp}.tmp`));
    fs.writeFileSync(path.join(root, `.run.${stamp}.tmp`, 'model.safetensors'), Buffer.alloc(1 << 16));

    const again = createDecoder(tinyConfig(), 1);
    const out = path.join(root, 'continued');
    const result = await train(again, { ...base, steps: 3, checkpointDir: out }, { objective: lmObjective, data, resumeFrom: dir });
    disposeDecoder(again);
    assert.ok(Number.isFinite(result.history.at(-1)?.loss), 'the resumed run trained');
    assert.equal(trainerState(out).step, 3);
    assert.equal(trainerState(dir).step, 2, 'the checkpoint is back under its own name');
    assert.deepEqual(fs.readdirSync(root).filter((n) => n.startsWith('.')), [], 'no hidden leftovers');
  });
});
