// A save killed (SIGKILL) at each stage of the folder swap, in a real child
// process: the checkpoint stays loadable with its previous weights, the next
// load or save restores and cleans what the kill left, and the leftovers of a
// save that is still running are not touched.
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder, loadCheckpoint, saveCheckpoint, type Decoder } from '../../kernel-lib/model';
import { tinyConfig } from './helpers';

const CHILD = path.join(__dirname, 'crash', 'save_child.ts');

/** Starts a child saving seed `seed` into `dir`; resolves once it has stopped at `stage`. */
function pausedSave(dir: string, seed: number, stage: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(seed), stage], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes(`paused at ${stage}`)) resolve(child);
    });
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', (code) => reject(new Error(`save child exited (${code}) before pausing at ${stage}: ${out} ${err}`)));
  });
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

const hidden = (parent: string): string[] => fs.readdirSync(parent).filter((f) => f.startsWith('.')).sort();

function assertWeights(model: Decoder, expected: Decoder): void {
  for (const [name, t] of expected.weights) {
    const a = Buffer.from((t.dataSync() as Float32Array).buffer);
    const b = Buffer.from((model.weights.get(name)!.dataSync() as Float32Array).buffer);
    assert.ok(a.equals(b), `${name} is not the previous checkpoint's`);
  }
}

describe('model/checkpoint killed mid-save', function () {
  this.timeout(120000);
  let root: string;
  let first: Decoder;
  before(async () => {
    await selectBackend('wasm');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'crash-'));
    first = createDecoder(tinyConfig(), 1);
  });
  after(() => {
    disposeDecoder(first);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('killed between the two renames: the folder is gone, and a load restores the previous checkpoint', async () => {
    const parent = path.join(root, 'a');
    const dir = path.join(parent, 'ckpt');
    saveCheckpoint(dir, first);
    const child = await pausedSave(dir, 2, 'old-moved');
    await kill9(child);
    // The state the kill left: no folder under the name, the old one and the new one hidden.
    assert.equal(fs.existsSync(dir), false);
    assert.deepEqual(hidden(parent).map((f) => f.replace(/\.\d+\.\d+\./, '.N.')), ['.ckpt.N.old', '.ckpt.N.tmp']);
    const { model } = loadCheckpoint(dir);
    assertWeights(model, first);
    disposeDecoder(model);
    assert.deepEqual(hidden(parent), [], 'the load removed the dead save\'s temporaries');
  });

  it('killed between the two renames: the next save restores, then replaces, and leaves nothing hidden', async () => {
    const parent = path.join(root, 'b');
    const dir = path.join(parent, 'ckpt');
    saveCheckpoint(dir, first);
    await kill9(await pausedSave(dir, 2, 'old-moved'));
    const third = createDecoder(tinyConfig(), 3);
    saveCheckpoint(dir, third);
    assert.deepEqual(hidden(parent), []);
    const { model } = loadCheckpoint(dir);
    assertWeights(model, third);
    disposeDecoder(model);
    disposeDecoder(third);
  });

  it('killed after writing the new files: the checkpoint is untouched and the temporary folder is removed', async () => {
    const parent = path.join(root, 'c');
    const dir = path.join(parent, 'ckpt');
    saveCheckpoint(dir, first);
    await kill9(await pausedSave(dir, 2, 'written'));
    assert.equal(hidden(parent).length, 1, 'a temporary as large as the checkpoint was left');
    const { model } = loadCheckpoint(dir);
    assertWeights(model, first);
    disposeDecoder(model);
    assert.deepEqual(hidden(parent), []);
  });

  it('the state such a kill leaves, made by hand (a dead process\'s .old and .tmp, no folder), loads the previous checkpoint', async () => {
    const parent = path.join(root, 'e');
    const dir = path.join(parent, 'ckpt');
    saveCheckpoint(dir, first);
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.once('exit', resolve));
    const stamp = `${dead.pid}.${Date.now()}`;
    fs.renameSync(dir, path.join(parent, `.ckpt.${stamp}.old`));
    fs.mkdirSync(path.join(parent, `.ckpt.${stamp}.tmp`));
    fs.writeFileSync(path.join(parent, `.ckpt.${stamp}.tmp`, 'model.safetensors'), Buffer.alloc(1 << 20));
    const { model } = loadCheckpoint(dir);
    assertWeights(model, first);
    disposeDecoder(model);
    assert.deepEqual(hidden(parent), []);
  });

  it('a save still running keeps its temporaries; a load meanwhile says who is replacing the folder', async () => {
    const parent = path.join(root, 'd');
    const dir = path.join(parent, 'ckpt');
    saveCheckpoint(dir, first);
    const writing = await pausedSave(dir, 2, 'written');
    try {
      const { model } = loadCheckpoint(dir);
      assertWeights(model, first);
      disposeDecoder(model);
      assert.equal(hidden(parent).length, 1, 'the live save\'s temporary folder is kept');
    } finally {
      await kill9(writing);
    }
    const swapping = await pausedSave(dir, 2, 'old-moved');
    try {
      assert.throws(() => loadCheckpoint(dir), new RegExp(`${dir}: missing while process ${swapping.pid} replaces it`));
    } finally {
      await kill9(swapping);
    }
    const { model } = loadCheckpoint(dir);
    assertWeights(model, first);
    disposeDecoder(model);
    assert.deepEqual(hidden(parent), []);
  });
});
