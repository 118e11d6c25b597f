// writeFileAtomic writes through a hidden temporary named after the writing
// process. A write killed before its rename leaves that temporary (as large as
// the file); the next write of the same file removes it once its process is
// gone, and never touches one whose process is still running.
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../../kernel-lib/runtime/files';

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once('exit', resolve));
}

describe('runtime/files writeFileAtomic', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'files-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a write killed with SIGKILL before its rename leaves a temporary that the next write removes', async () => {
    const file = path.join(dir, 'model.safetensors');
    // The child writes the temporary and then hangs where the rename would come.
    const script = `
      const fs = require('node:fs'), path = require('node:path');
      const tmp = path.join(${JSON.stringify(dir)}, '.model.safetensors.' + process.pid + '.' + Date.now() + '.tmp');
      fs.writeFileSync(tmp, Buffer.alloc(1 << 20));
      process.stdout.write('written\\n');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => child.stdout!.once('data', resolve));
    const leftover = fs.readdirSync(dir);
    assert.equal(leftover.length, 1);

    writeFileAtomic(file, 'new');
    assert.deepEqual(fs.readdirSync(dir).sort(), [...leftover, 'model.safetensors'].sort(), 'a running writer keeps its temporary');

    child.kill('SIGKILL');
    await exited(child);
    writeFileAtomic(file, 'newer');
    assert.deepEqual(fs.readdirSync(dir), ['model.safetensors'], 'the dead writer\'s temporary is gone');
    assert.equal(fs.readFileSync(file, 'utf8'), 'newer');
  });

  it('leaves temporaries of other files alone', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    await exited(child);
    const other = `.tokenizer.json.${child.pid}.${Date.now()}.tmp`;
    fs.writeFileSync(path.join(dir, other), 'x');
    writeFileAtomic(path.join(dir, 'config.json'), '{}');
    assert.deepEqual(fs.readdirSync(dir).sort(), [other, 'config.json'].sort());
  });
});
