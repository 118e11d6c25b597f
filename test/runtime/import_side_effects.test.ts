// Importing kernel-lib makes no tensor: an objective built at import time
// that checked its options with a tensor put one on tfjs's default (cpu)
// backend before a notebook chose its backend, and printed tfjs's
// "install our node backend" banner into every executed notebook.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

describe('runtime: importing kernel-lib', () => {
  it('creates no tensor and prints nothing', function () {
    this.timeout(60_000);
    const script = "const tf = require('@tensorflow/tfjs'); require('./build/kernel-lib'); console.log(JSON.stringify({ tensors: tf.memory().numTensors }));";
    const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(JSON.parse(r.stdout), { tensors: 0 });
  });
});
