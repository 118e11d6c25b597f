// Matrix products at config L's shapes (SmolLM2-135M: width 576, MLP 1536,
// vocabulary 49,152; one row of 512 tokens), timed for ours (tfjs wasm
// through the project's BatchMatMul, which hands every product to XNNPACK)
// and, where a Python with torch is found, for PyTorch on one thread, back
// to back in the same run. Ours twice: through XNNPACK alone
// (WORKBOOK_GEMM=off) and with the project's GEMM attached (runtime/gemm,
// relaxed-SIMD FMA), which takes the products its cost model gives it. A LoRA step's frozen weights need no weight
// gradients, so its large products are the forward ones, the input
// gradients (a transposed weight) and the loss head's two (the long
// contraction over the vocabulary). The ratio bounds what a GEMM-bound
// training step can reach (bench/NOTES.md).
// Run: npx tsx scripts/bench/products_l.ts
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { GEMM_ENV } from '../../kernel-lib/runtime/gemm';
import { findTorchPython } from '../reference/python';

interface Product {
  name: string;
  a: [number, number];
  b: [number, number];
  transposeB: boolean;
}

const T = 512;
const PRODUCTS: Product[] = [
  { name: '512 x 512 x 512', a: [512, 512], b: [512, 512], transposeB: false },
  { name: 'x W, 576 -> 1536', a: [T, 576], b: [576, 1536], transposeB: false },
  { name: 'x W, 1536 -> 576', a: [T, 1536], b: [1536, 576], transposeB: false },
  { name: 'dX = dY W^T, 1536 -> 576', a: [T, 1536], b: [576, 1536], transposeB: true },
  { name: 'logits h E^T', a: [T, 576], b: [49152, 576], transposeB: true },
  { name: 'dh = dlogits E', a: [T, 49152], b: [49152, 576], transposeB: false },
];

const flops = (p: Product) => 2 * p.a[0] * p.a[1] * (p.transposeB ? p.b[0] : p.b[1]);

/** Milliseconds: the median of 7 calls after one warm-up. */
function ours(p: Product): number {
  const a = tf.randomNormal(p.a);
  const b = tf.randomNormal(p.b);
  const once = () => {
    const c = tf.matMul(a, b, false, p.transposeB);
    c.dataSync();
    c.dispose();
  };
  once();
  const ms: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    once();
    ms.push(performance.now() - t0);
  }
  tf.dispose([a, b]);
  return ms.sort((x, y) => x - y)[3];
}

const TORCH = `
import json, sys, time, torch
torch.set_num_threads(1)
out = []
for a, b, tb in json.loads(sys.argv[1]):
    A, B = torch.randn(*a), torch.randn(*b)
    f = (lambda: A @ B.T) if tb else (lambda: A @ B)
    f()
    ms = []
    for _ in range(7):
        t = time.perf_counter(); f(); ms.append((time.perf_counter() - t) * 1000)
    out.append(sorted(ms)[3])
print(json.dumps({"ms": out, "torch": torch.__version__}))
`;

function torch(python: string): { ms: number[]; version: string } | null {
  const args = JSON.stringify(PRODUCTS.map((p) => [p.a, p.b, p.transposeB]));
  const r = spawnSync(python, ['-c', TORCH, args], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' } });
  if (r.status !== 0) {
    console.error(`PyTorch probe failed: ${r.stderr.trim().split('\n').at(-1)}`);
    return null;
  }
  const parsed = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  return { ms: parsed.ms, version: parsed.torch };
}

/** Milliseconds for one product, with the project's GEMM attached or not. */
async function oursWith(gemm: boolean, p: Product): Promise<number> {
  if (gemm) delete process.env[GEMM_ENV];
  else process.env[GEMM_ENV] = 'off';
  await selectBackend('wasm');
  return ours(p);
}

async function main(): Promise<void> {
  // Each product on both routes back to back, so that a machine's changing speed touches both alike.
  const xnnMs: number[] = [];
  const gemmMs: number[] = [];
  for (const p of PRODUCTS) {
    xnnMs.push(await oursWith(false, p));
    gemmMs.push(await oursWith(true, p));
  }
  delete process.env[GEMM_ENV];
  const python = findTorchPython();
  const theirs = python ? torch(python) : null;
  if (!python) console.log('(no Python with torch: ours only)');
  const gf = (p: Product, ms: number) => (flops(p) / ms / 1e6).toFixed(1);
  console.log(`| product | XNNPACK GFLOP/s | project GEMM GFLOP/s | GEMM / XNNPACK |${theirs ? ` PyTorch ${theirs.version} GFLOP/s | GEMM / PyTorch |` : ''}`);
  console.log(`|---|---|---|---|${theirs ? '---|---|' : ''}`);
  PRODUCTS.forEach((p, i) => {
    const t = theirs ? ` ${gf(p, theirs.ms[i])} | ${(theirs.ms[i] / gemmMs[i]).toFixed(2)} |` : '';
    console.log(`| ${p.name} | ${gf(p, xnnMs[i])} | ${gf(p, gemmMs[i])} | ${(xnnMs[i] / gemmMs[i]).toFixed(2)} |${t}`);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
