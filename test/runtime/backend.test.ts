import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_ENV, BACKEND_ORDER, describeBackend, initRuntime, RUNTIME_REPORT_ENV, selectBackend } from '../../kernel-lib/runtime';

describe('runtime/backend', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of [BACKEND_ENV, RUNTIME_REPORT_ENV, 'WORKBOOK_SEED']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  it('auto: tries the backends fastest first and reports why each was skipped', async () => {
    delete process.env[BACKEND_ENV];
    const report = await selectBackend();
    assert.equal(report.requested, 'auto');
    const tried = report.attempts.map((a) => a.backend);
    assert.deepEqual(tried, BACKEND_ORDER.slice(0, tried.length), 'attempts follow the documented order');
    const chosen = report.attempts[report.attempts.length - 1];
    assert.equal(chosen.ok, true);
    assert.equal(chosen.backend, report.backend);
    for (const skipped of report.attempts.slice(0, -1)) {
      assert.equal(skipped.ok, false);
      assert.ok(skipped.reason.length > 10, `a reason for ${skipped.backend}: ${skipped.reason}`);
    }
    assert.equal(tf.getBackend(), report.tfjsBackend);
    // On machines without native TensorFlow or a GPU (CI), wasm must win, not cpu.
    if (!tried.includes('node') || report.backend !== 'node') {
      assert.notEqual(report.backend, 'cpu', describeBackend(report));
    }
    assert.match(describeBackend(report), new RegExp(`backend: ${report.backend}`));
  });

  it('does not mistake the tfjs alias installed for danfojs-node for the native binding', async () => {
    const report = await selectBackend();
    const node = report.attempts.find((a) => a.backend === 'node');
    if (node && !node.ok) assert.match(node.reason, /not installed|alias|failed to load/);
  });

  it('WORKBOOK_BACKEND forces a backend; a function argument beats it', async () => {
    process.env[BACKEND_ENV] = 'cpu';
    const fromEnv = await selectBackend();
    assert.equal(fromEnv.backend, 'cpu');
    assert.equal(fromEnv.requested, 'environment');
    assert.equal(tf.getBackend(), 'cpu');
    const fromArg = await selectBackend('wasm');
    assert.equal(fromArg.backend, 'wasm');
    assert.equal(fromArg.requested, 'argument');
    assert.equal(tf.getBackend(), 'wasm');
    assert.deepEqual(fromArg.projectKernels.sort(), ['BatchMatMul', 'GatherV2', 'Identity', 'OneHot', 'Sum', 'UnsortedSegmentSum']);
  });

  it('an unknown or unavailable forced backend is an error, not a silent fallback', async () => {
    process.env[BACKEND_ENV] = 'gpu';
    await assert.rejects(selectBackend(), /unknown WORKBOOK_BACKEND=gpu; expected one of auto, node-gpu, node, webgpu, wasm, cpu/);
    delete process.env[BACKEND_ENV];
    const hasGpuBinding = fs.existsSync(path.join('node_modules', '@tensorflow', 'tfjs-node-gpu'));
    if (!hasGpuBinding) await assert.rejects(selectBackend('node-gpu'), /no usable backend \(node-gpu: @tensorflow\/tfjs-node-gpu is not installed/);
  });

  it('initRuntime seeds, and writes its report where the headless runner asks', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-report-'));
    process.env[RUNTIME_REPORT_ENV] = path.join(dir, 'report.json');
    const first = await initRuntime({ backend: 'wasm', seed: 42 });
    const a = tf.randomNormal([5]).arraySync();
    await initRuntime({ backend: 'wasm', seed: 42 });
    const b = tf.randomNormal([5]).arraySync();
    await initRuntime({ backend: 'wasm', seed: 43 });
    const c = tf.randomNormal([5]).arraySync();
    assert.deepEqual(a, b, 'same seed, same draws');
    assert.notDeepEqual(a, c, 'other seed, other draws');
    const written = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
    assert.equal(written.backend, 'wasm');
    assert.equal(written.seed, 43);
    assert.equal(first.seed, 42);
    fs.rmSync(dir, { recursive: true });
  });
});
