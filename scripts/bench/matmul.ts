// Times BatchMatMul on the wasm backend, tfjs's stock kernel against this
// project's (kernel-lib/runtime/kernels/batch_mat_mul.ts), on the products of
// one training step of the small model: 2048 tokens (16 x 128), width 128,
// MLP 352, vocabulary 512, 4 heads of 32 (64 attention slices of 128 x 128).
// Run: npx tsx scripts/bench/matmul.ts [--min-ms=300]
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerProjectKernels } from '../../kernel-lib/runtime/kernels';
import { planBatchMatMul } from '../../kernel-lib/runtime/kernels/batch_mat_mul';

interface Case {
  name: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const T = 2048; // tokens in a step
const D = 128;
const H = 352;
const V = 512;
const S = 64; // batch x heads
const L = 128; // sequence length
const HD = 32;

const CASES: Case[] = [
  { name: 'x W (d->d)', a: [T, D], b: [D, D], transposeA: false, transposeB: false },
  { name: 'x W (d->hidden)', a: [T, D], b: [D, H], transposeA: false, transposeB: false },
  { name: 'x W (hidden->d)', a: [T, H], b: [H, D], transposeA: false, transposeB: false },
  { name: 'logits h E^T', a: [T, D], b: [V, D], transposeA: false, transposeB: true },
  { name: 'dX = dY W^T (d->d)', a: [T, D], b: [D, D], transposeA: false, transposeB: true },
  { name: 'dX = dY W^T (d->hidden)', a: [T, H], b: [D, H], transposeA: false, transposeB: true },
  { name: 'dX = dY W^T (hidden->d)', a: [T, D], b: [H, D], transposeA: false, transposeB: true },
  { name: 'dW = X^T dY (d->d)', a: [T, D], b: [T, D], transposeA: true, transposeB: false },
  { name: 'dW = X^T dY (d->hidden)', a: [T, D], b: [T, H], transposeA: true, transposeB: false },
  { name: 'dW = X^T dY (hidden->d)', a: [T, H], b: [T, D], transposeA: true, transposeB: false },
  { name: 'dh = dlogits E', a: [T, V], b: [V, D], transposeA: false, transposeB: false },
  { name: 'dE = dlogits^T h', a: [T, V], b: [T, D], transposeA: true, transposeB: false },
  { name: 'attn Q K^T', a: [S, L, HD], b: [S, L, HD], transposeA: false, transposeB: true },
  { name: 'attn Q K (K stored [hd,T])', a: [S, L, HD], b: [S, HD, L], transposeA: false, transposeB: false },
  { name: 'attn P V', a: [S, L, L], b: [S, L, HD], transposeA: false, transposeB: false },
  { name: 'attn dV = P^T dO', a: [S, L, L], b: [S, L, HD], transposeA: true, transposeB: false },
  { name: 'attn dQ^T-style (both T)', a: [S, HD, L], b: [S, L, HD], transposeA: true, transposeB: true },
  { name: 'attn rank-4 Q K^T', a: [16, 4, L, HD], b: [16, 4, L, HD], transposeA: false, transposeB: true },
  { name: 'decode q K^T (1 row)', a: [S, 1, HD], b: [S, L, HD], transposeA: false, transposeB: true },
  { name: 'decode p V (1 row)', a: [S, 1, L], b: [S, L, HD], transposeA: false, transposeB: false },
];

function flops(c: Case): number {
  const r = c.a.length;
  const M = c.transposeA ? c.a[r - 1] : c.a[r - 2];
  const K = c.transposeA ? c.a[r - 2] : c.a[r - 1];
  const N = c.transposeB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
  const batch = c.a.slice(0, -2).reduce((x, y) => x * y, 1);
  return 2 * batch * M * N * K;
}

/**
 * Milliseconds per call: the fastest of 5 rounds, each of at least minMs / 5,
 * so that a burst of other work on the machine does not count.
 */
function time(c: Case, minMs: number): number {
  const a = tf.randomNormal(c.a);
  const b = tf.randomNormal(c.b);
  const once = () => tf.matMul(a, b, c.transposeA, c.transposeB).dispose();
  once();
  once();
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < minMs / 5 || n < 2) {
      once();
      n++;
      elapsed = performance.now() - start;
    }
    rounds.push(elapsed / n);
  }
  a.dispose();
  b.dispose();
  return Math.min(...rounds);
}

async function main(): Promise<void> {
  const minMs = Number(process.argv.find((s) => s.startsWith('--min-ms='))?.split('=')[1] ?? 300);
  await tf.setBackend('wasm');
  const stock = tf.getKernel('BatchMatMul', 'wasm')!;
  registerProjectKernels('wasm');
  const ours = tf.getKernel('BatchMatMul', 'wasm')!;
  const use = (config: tf.KernelConfig) => {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel(config);
  };

  const rows: string[][] = [['product', 'a', 'b', 'tA', 'tB', 'route', 'stock ms', 'ours ms', 'stock GFLOP/s', 'ours GFLOP/s', 'speed-up']];
  let stockTotal = 0;
  let oursTotal = 0;
  for (const c of CASES) {
    use(stock);
    const s = time(c, minMs);
    use(ours);
    const o = time(c, minMs);
    stockTotal += s;
    oursTotal += o;
    const gf = (ms: number) => (flops(c) / ms / 1e6).toFixed(1);
    rows.push([c.name, `[${c.a}]`, `[${c.b}]`, c.transposeA ? 'T' : '', c.transposeB ? 'T' : '', planBatchMatMul(c.a, c.b, c.transposeA, c.transposeB), s.toFixed(2), o.toFixed(2), gf(s), gf(o), `${(s / o).toFixed(1)}x`]);
  }
  rows.push(['total', '', '', '', '', '', stockTotal.toFixed(1), oursTotal.toFixed(1), '', '', `${(stockTotal / oursTotal).toFixed(1)}x`]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
  console.log(`tensors alive at the end: ${tf.memory().numTensors}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
