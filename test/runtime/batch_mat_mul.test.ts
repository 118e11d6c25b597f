// The wasm BatchMatMul this project registers, checked against tfjs's own cpu
// backend on every route it can take (stock scalar loop, XNNPACK direct,
// XNNPACK on the swapped product, the project's GEMM), every transpose
// combination and batch layout, through gradients, and for leaks: once with
// the project's GEMM attached (the default) and once with WORKBOOK_GEMM=off.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../kernel-lib/runtime';
import { batchMatMulConfig, planBatchMatMul, type MatMulRoute } from '../../kernel-lib/runtime/kernels/batch_mat_mul';
import { GEMM_ENV, gemmFor } from '../../kernel-lib/runtime/gemm';

/** Deterministic values in [-1, 1], different for each seed. */
function values(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((x, y) => x * y, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * Math.cos(i * 0.011 * seed + 1)),
    shape,
  );
}

/** Runs `op` on cpu and on wasm; returns both results flattened, and the shapes. */
async function onBoth(op: () => tf.Tensor, reference: () => tf.Tensor = op) {
  await tf.setBackend('cpu');
  const cpuTensor = tf.tidy(reference);
  const cpu = { values: Array.from(cpuTensor.dataSync()), shape: cpuTensor.shape };
  cpuTensor.dispose();
  await selectBackend('wasm');
  const wasmTensor = tf.tidy(op);
  const wasm = { values: Array.from(wasmTensor.dataSync()), shape: wasmTensor.shape };
  wasmTensor.dispose();
  return { cpu, wasm };
}

/** Close within `tol` relative to the largest magnitude in the expected values (sums reorder). */
function assertClose(actual: number[], expected: number[], label: string, tol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${label}: element count`);
  const scale = Math.max(1, ...expected.map(Math.abs));
  actual.forEach((v, i) =>
    assert.ok(Math.abs(v - expected[i]) <= tol * scale, `${label}: element ${i}: ${v} vs ${expected[i]}`),
  );
}

function operandShapes(batchA: number[], batchB: number[], M: number, K: number, N: number, tA: boolean, tB: boolean) {
  return { a: batchA.concat(tA ? [K, M] : [M, K]), b: batchB.concat(tB ? [N, K] : [K, N]) };
}

const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

for (const withGemm of [true, false]) describe(`runtime/kernels/batch_mat_mul (wasm ${withGemm ? 'with' : 'without'} the project GEMM, compared with cpu)`, () => {
  before(() => {
    if (withGemm) delete process.env[GEMM_ENV];
    else process.env[GEMM_ENV] = 'off';
  });
  after(() => {
    delete process.env[GEMM_ENV];
  });
  /** The GEMM's row tile as planBatchMatMul takes it, 0 when none is attached. */
  const gemmRows = () => gemmFor(tf.backend() as BackendWasm)?.rowsPerTile ?? 0;

  it('is the BatchMatMul registered for wasm, with the project GEMM (relaxed-SIMD FMA) attached or not', async () => {
    const report = await selectBackend('wasm');
    assert.ok(report.projectKernels.includes('BatchMatMul'));
    assert.equal(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc, batchMatMulConfig.kernelFunc);
    if (withGemm) {
      assert.match(report.matMul!, /project GEMM \(WebAssembly relaxed-SIMD FMA/);
      assert.ok(gemmFor(tf.backend() as BackendWasm)?.fma);
    } else {
      assert.equal(report.matMul, 'XNNPACK (WORKBOOK_GEMM=off)');
      assert.equal(gemmRows(), 0);
    }
  });

  it('matches cpu for every transpose combination, batch layout and route', async () => {
    const batchLayouts: [number[], number[]][] = [
      [[], []],
      [[1], [1]],
      [[4], [4]],
      [[4], [1]],
      [[1], [4]],
      [[4], []],
      [[], [4]],
      [[2, 3], [2, 3]],
      [[2, 3], [3]],
    ];
    // 7 x 13 x 5 is small enough for the scalar loop; 37 x 64 x 29 goes to
    // XNNPACK; 300 x 256 x 24 also transposes 256-row operands in blocks.
    const sizes: [number, number, number][] = [
      [7, 13, 5],
      [37, 64, 29],
      [300, 256, 24],
    ];
    const routes = new Set<MatMulRoute>();
    for (const [M, K, N] of sizes) {
      for (const [tA, tB] of TRANSPOSES) {
        for (const [batchA, batchB] of batchLayouts) {
          const { a, b } = operandShapes(batchA, batchB, M, K, N, tA, tB);
          await selectBackend('wasm');
          routes.add(planBatchMatMul(a, b, tA, tB, gemmRows()));
          const { cpu, wasm } = await onBoth(() => tf.matMul(values(a, 1), values(b, 2), tA, tB));
          const label = `[${a}] x [${b}] tA=${tA} tB=${tB}`;
          assert.deepEqual(wasm.shape, cpu.shape, `${label}: shape`);
          assertClose(wasm.values, cpu.values, label);
        }
      }
    }
    assert.deepEqual([...routes].sort(), withGemm ? ['direct', 'gemm', 'scalar'] : ['direct', 'scalar', 'swapped']);
  });

  it('matches cpu on odd sizes and on products with a dimension of 1', async () => {
    const cases: [number, number, number, number[]][] = [
      [7, 13, 5, [3]],
      [1, 64, 40, [5]],
      [40, 64, 1, [5]],
      [1, 300, 1, []],
      [129, 33, 65, [2]],
    ];
    for (const [M, K, N, batch] of cases) {
      for (const [tA, tB] of TRANSPOSES) {
        const { a, b } = operandShapes(batch, batch, M, K, N, tA, tB);
        const { cpu, wasm } = await onBoth(() => tf.matMul(values(a, 3), values(b, 4), tA, tB));
        assertClose(wasm.values, cpu.values, `[${a}] x [${b}] tA=${tA} tB=${tB}`);
      }
    }
  });

  it('broadcasts two batch shapes that both broadcast ([2, 1] with [1, 3])', async () => {
    // The cpu kernel indexes such batches modulo their sizes and reads out of
    // range, so the reference broadcasts the operands first.
    for (const [M, K, N] of [
      [7, 13, 5],
      [37, 64, 29],
    ]) {
      for (const [tA, tB] of TRANSPOSES) {
        const { a, b } = operandShapes([2, 1], [1, 3], M, K, N, tA, tB);
        const { cpu, wasm } = await onBoth(
          () => tf.matMul(values(a, 5), values(b, 6), tA, tB),
          () => tf.matMul(tf.broadcastTo(values(a, 5), [2, 3, ...a.slice(2)]), tf.broadcastTo(values(b, 6), [2, 3, ...b.slice(2)]), tA, tB),
        );
        assert.deepEqual(wasm.shape, [2, 3, M, N]);
        assertClose(wasm.values, cpu.values, `[${a}] x [${b}] tA=${tA} tB=${tB}`);
      }
    }
  });

  it('gradients through tf.matMul match cpu (the backward products are the transposed ones)', async () => {
    const cases: { batch: number[]; M: number; K: number; N: number }[] = [
      { batch: [], M: 48, K: 40, N: 36 },
      { batch: [4], M: 40, K: 24, N: 33 },
      { batch: [2, 2], M: 64, K: 16, N: 64 },
      { batch: [], M: 6, K: 5, N: 7 },
    ];
    for (const { batch, M, K, N } of cases) {
      for (const [tA, tB] of TRANSPOSES) {
        const { a, b } = operandShapes(batch, batch, M, K, N, tA, tB);
        const op = () => {
          const weights = values(batch.concat([M, N]), 9);
          const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, tA, tB).mul(weights).sum())([
            values(a, 7),
            values(b, 8),
          ]);
          return tf.concat([da.flatten(), db.flatten()]);
        };
        const { cpu, wasm } = await onBoth(op);
        assertClose(wasm.values, cpu.values, `grad [${a}] x [${b}] tA=${tA} tB=${tB}`);
      }
    }
  });

  it('gives the products of a training step to XNNPACK or the project GEMM, and tiny ones to the scalar loop', () => {
    const rows = withGemm ? 4 : 0;
    const T = 2048;
    const training: [number[], number[], boolean, boolean][] = [
      [[T, 128], [128, 352], false, false],
      [[T, 352], [128, 352], false, true],
      [[T, 128], [T, 352], true, false],
      [[T, 128], [512, 128], false, true],
      [[64, 128, 32], [64, 128, 32], false, true],
      [[64, 128, 128], [64, 128, 32], false, false],
      [[64, 128, 128], [64, 128, 32], true, false],
      [[16, 4, 128, 32], [16, 4, 128, 32], false, true],
    ];
    for (const [a, b, tA, tB] of training) {
      assert.equal(planBatchMatMul(a, b, tA, tB, rows), withGemm ? 'gemm' : planBatchMatMul(a, b, tA, tB), `[${a}] x [${b}] tA=${tA} tB=${tB}`);
      assert.notEqual(planBatchMatMul(a, b, tA, tB, rows), 'scalar', `[${a}] x [${b}] tA=${tA} tB=${tB}`);
    }
    assert.equal(planBatchMatMul([7, 13], [5, 13], false, true, rows), 'scalar');
    // Both operands transposed with a large b: cheaper to compute C^T = b a.
    if (!withGemm) assert.equal(planBatchMatMul([T, 128], [352, T], true, true), 'swapped');
    // A decoding step (one to eight rows against a weight XNNPACK keeps packed) stays with XNNPACK.
    for (const M of [1, 8]) assert.equal(planBatchMatMul([M, 576], [576, 1536], false, false, rows), 'direct');
  });

  it('gives the same bits for the same product whatever ran before (the route depends on shapes alone)', async () => {
    await selectBackend('wasm');
    // 16 rows: a product near where XNNPACK's kept weights and the GEMM cost the same.
    const x = values([16, 576], 1);
    const w = values([576, 1536], 2);
    const first = Array.from(tf.matMul(x, w).dataSync());
    const again = Array.from(tf.matMul(x, w).dataSync());
    const copy = tf.add(w, 0); // the same values under a data id never multiplied before
    const fresh = Array.from(tf.matMul(x, copy).dataSync());
    assert.deepEqual(again, first);
    assert.deepEqual(fresh, first);
    tf.dispose([x, w, copy]);
  });

  it('does not reuse weights packed for another shape of the same data (a reshaped b)', async () => {
    const op = () => {
      const b = values([64, 96], 1);
      const first = tf.matMul(values([200, 64], 2), b);
      const second = tf.matMul(values([200, 96], 3), b.reshape([96, 64]));
      return tf.concat([first.flatten(), second.flatten()]);
    };
    const { cpu, wasm } = await onBoth(op);
    assertClose(wasm.values, cpu.values, 'reshaped b');
  });

  it('handles empty products and an empty inner dimension', async () => {
    for (const [a, b] of [
      [[0, 3], [3, 4]],
      [[3, 0], [0, 4]],
      [[2, 3, 0], [2, 0, 5]],
    ]) {
      const { cpu, wasm } = await onBoth(() => tf.matMul(tf.ones(a), tf.ones(b)));
      assert.deepEqual(wasm.shape, cpu.shape);
      assert.deepEqual(wasm.values, cpu.values);
    }
  });

  it('rejects int32 operands with the stock error', async () => {
    await selectBackend('wasm');
    assert.throws(
      () => tf.matMul(tf.ones([2, 2], 'int32'), tf.ones([2, 2], 'int32')),
      /BatchMatMul for non non-float32 tensors not yet supported/,
    );
  });

  it('leaks neither tensors nor wasm data ids on any route', async () => {
    await selectBackend('wasm');
    const backend = tf.backend() as BackendWasm;
    const cases: [number[], number[], boolean, boolean][] = [
      [[7, 13], [5, 13], false, true], // scalar
      [[64, 40, 32], [64, 40, 32], true, false], // direct, one product per slice
      [[4, 300, 256], [256, 24], false, false], // direct, folded, b cached
      [[4, 256, 300], [24, 256], true, true], // transposes in blocks
      [[512, 128], [352, 512], true, true], // swapped
      [[2, 1, 40, 32], [1, 3, 40, 32], false, true], // both batches broadcast
    ];
    const inputs = cases.map(([a, b], i) => [values(a, i), values(b, i + 10)]);
    const step = () => {
      cases.forEach(([, , tA, tB], i) => tf.matMul(inputs[i][0], inputs[i][1], tA, tB).dispose());
    };
    step();
    const tensors = tf.memory().numTensors;
    const dataIds = backend.numDataIds();
    for (let i = 0; i < 3; i++) {
      step();
      assert.equal(tf.memory().numTensors, tensors, 'tensors');
      assert.equal(backend.numDataIds(), dataIds, 'wasm data ids');
    }
    inputs.flat().forEach((t) => t.dispose());
  });

  it('frees the XNNPACK operators it packs: the wasm heap stays put over many calls', async () => {
    await selectBackend('wasm');
    const backend = tf.backend() as BackendWasm;
    // 64 slices, each packing 256 x 64 weights (64 KiB): a leak would hold
    // 4 MiB a call, 200 MiB in all, more than earlier tests leave free.
    const a = values([64, 256, 128], 1);
    const b = values([64, 256, 64], 2);
    const heapBytes = () => (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.length;
    const call = () => tf.matMul(a, b, true, false).dispose();
    for (let i = 0; i < 3; i++) call();
    const heap = heapBytes();
    for (let i = 0; i < 50; i++) call();
    assert.ok(heapBytes() - heap < 16 * 2 ** 20, `heap grew from ${heap} to ${heapBytes()} bytes`);
    a.dispose();
    b.dispose();
  });
});
