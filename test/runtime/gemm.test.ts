// The project's GEMM (runtime/gemm) on its own, in tfjs-wasm's memory:
// every transpose, edge tiles in both directions, and blockings small enough
// that a product spans several blocks of rows, columns and the inner
// dimension (so the accumulation across k-blocks and the edge tiles' copies
// are exercised), against a float64 reference.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../kernel-lib/runtime';
import { createGemm, wasmGemmHost as host, type Gemm } from '../../kernel-lib/runtime/gemm';

function seeded(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.61 + seed) * Math.cos(i * 0.017 * seed + 0.3));
}

describe('runtime/gemm: the project GEMM in the wasm heap', () => {
  let backend: BackendWasm;
  const gemms: Gemm[] = [];
  before(async () => {
    await selectBackend('wasm');
    backend = tf.backend() as unknown as BackendWasm;
  });
  after(() => gemms.forEach((g) => g.dispose()));

  const address = (t: tf.Tensor) => backend.dataIdMap.get(t.dataId).memoryOffset as number;

  for (const fma of [true, false]) {
    for (const blocking of [{ MR: 4, MC: 8, KC: 16, NC: 24 }, { MR: 6, MC: 12, KC: 7, NC: 8 }, {}]) {
      it(`${fma ? 'with' : 'without'} FMA, blocking ${JSON.stringify(blocking)}: every transpose and edge`, async () => {
        const gemm = await createGemm(host(backend), { fma, blocking });
        gemms.push(gemm);
        assert.equal(gemm.fma, fma, 'relaxed SIMD is available on this Node');
        for (const [M, K, N] of [[1, 1, 1], [5, 3, 9], [13, 40, 17], [33, 70, 50], [8, 16, 24]]) {
          for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]]) {
            const aValues = seeded(M * K, 1), bValues = seeded(K * N, 2);
            const a = tf.tensor(aValues, tA ? [K, M] : [M, K]);
            const b = tf.tensor(bValues, tB ? [N, K] : [K, N]);
            // C starts as garbage: the first k-block overwrites it.
            const c = tf.fill([M, N], 1e6);
            gemm.multiply(
              { at: address(a), rowStride: tA ? 1 : K, colStride: tA ? M : 1 },
              { at: address(b), rowStride: tB ? 1 : N, colStride: tB ? K : 1 },
              address(c), N, M, K, N,
            );
            const got = c.dataSync();
            for (let i = 0; i < M; i++) {
              for (let j = 0; j < N; j++) {
                let want = 0;
                for (let k = 0; k < K; k++) want += aValues[tA ? k * M + i : i * K + k] * bValues[tB ? j * K + k : k * N + j];
                assert.ok(Math.abs(got[i * N + j] - want) < 1e-4 * Math.max(1, Math.abs(want)), `${M}x${K}x${N} tA=${tA} tB=${tB} [${i},${j}]: ${got[i * N + j]} vs ${want}`);
              }
            }
            tf.dispose([a, b, c]);
          }
        }
      });
    }
  }

  it('writes only inside C: a row stride wider than N leaves the gap alone', async () => {
    const gemm = await createGemm(host(backend), { blocking: { MR: 4, MC: 8, KC: 16, NC: 8 } });
    gemms.push(gemm);
    const [M, K, N, ldc] = [7, 20, 11, 16];
    const a = tf.tensor(seeded(M * K, 3), [M, K]);
    const b = tf.tensor(seeded(K * N, 4), [K, N]);
    const c = tf.fill([M, ldc], -7);
    gemm.multiply({ at: address(a), rowStride: K, colStride: 1 }, { at: address(b), rowStride: N, colStride: 1 }, address(c), ldc, M, K, N);
    const got = c.dataSync();
    const want = tf.matMul(a, b).dataSync();
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < ldc; j++) {
        if (j < N) assert.ok(Math.abs(got[i * ldc + j] - want[i * N + j]) < 1e-4, `[${i},${j}]`);
        else assert.equal(got[i * ldc + j], -7, `gap [${i},${j}] untouched`);
      }
    }
    tf.dispose([a, b, c]);
  });
});
