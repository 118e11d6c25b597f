// The GEMM module of wat.ts, compiled once and bound to tfjs-wasm's memory,
// with the loops around its blocks: B is packed a KC x NC block at a time
// (kept in the outer caches), A an MC x KC block (kept in L2), and the
// micro-kernel sweeps 8-column panels of B (each in L1) over MR-row blocks of A.
import * as v8 from 'node:v8';
import { gemmWat } from './wat';

export interface GemmOperand {
  /** Byte address of element [0, 0] in the shared memory. */
  at: number;
  /** Distance in floats between consecutive rows and columns of the operand as multiplied (a transposed matrix swaps them). */
  rowStride: number;
  colStride: number;
}

export interface Gemm {
  /** Whether the micro-kernel uses relaxed SIMD's fused multiply-add. */
  readonly fma: boolean;
  readonly rowsPerTile: number;
  /** C = A B for A [M, K] and B [K, N] as described; C is row-major at byte address `c` with row stride ldc floats. */
  multiply(a: GemmOperand, b: GemmOperand, c: number, ldc: number, M: number, K: number, N: number): void;
  /** Frees the packing buffers. */
  dispose(): void;
}

export interface GemmBlocking {
  MR: number;
  MC: number;
  KC: number;
  NC: number;
}

// MR 4 keeps 8 accumulators, the two B vectors and the splat of A in
// registers with room to spare; wider tiles were slower here (see bench/NOTES.md).
export const DEFAULT_BLOCKING: GemmBlocking = { MR: 4, MC: 128, KC: 256, NC: 2048 };

interface Exports {
  packA(src: number, rs: number, cs: number, rows: number, kc: number, dst: number): void;
  packB(src: number, rs: number, cs: number, kc: number, cols: number, dst: number): void;
  block(aPack: number, bPack: number, c: number, ldc: number, mc: number, nc: number, kc: number, acc: number, scratch: number): void;
}

type Wabt = { parseWat(name: string, text: string, features: Record<string, boolean>): { toBinary(o: object): { buffer: Uint8Array }; destroy(): void } };
let wabtReady: Promise<Wabt> | null = null;

/** The module's binary; wabt assembles the text (a few milliseconds). */
async function assemble(MR: number, fma: boolean): Promise<Uint8Array<ArrayBuffer>> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  wabtReady ??= (require('wabt') as () => Promise<Wabt>)();
  const wabt = await wabtReady;
  const module = wabt.parseWat('gemm.wat', gemmWat(MR, fma), { simd: true, relaxed_simd: fma });
  try {
    return new Uint8Array(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}

export interface GemmHost {
  memory: WebAssembly.Memory;
  malloc(bytes: number): number;
  free(at: number): void;
}

/** A GEMM working in `host`'s memory, with FMA when this V8 has relaxed SIMD (or when `fma` is false, never). */
export async function createGemm(host: GemmHost, options: { fma?: boolean; blocking?: Partial<GemmBlocking> } = {}): Promise<Gemm> {
  const blocking = { ...DEFAULT_BLOCKING, ...options.blocking };
  const { MR, MC, KC, NC } = blocking;
  let binary: Uint8Array<ArrayBuffer> | null = null;
  if (options.fma !== false) {
    const withFma = await assemble(MR, true);
    if (relaxedSimdOn(withFma)) binary = withFma;
  }
  const fma = binary !== null;
  binary ??= await assemble(MR, false);
  const { instance } = await WebAssembly.instantiate(binary, { env: { memory: host.memory } });
  const ex = instance.exports as unknown as Exports;
  // One allocation for the packed blocks and the edge tile, 64-byte aligned.
  const aBytes = Math.ceil(MC / MR) * MR * KC * 4;
  const bBytes = Math.ceil(NC / 8) * 8 * KC * 4;
  const raw = host.malloc(aBytes + bBytes + MR * 32 + 64);
  if (!raw) throw new Error(`gemm: could not allocate ${aBytes + bBytes} bytes of packing buffers in the wasm heap`);
  const aPack = (raw + 63) & ~63;
  const bPack = aPack + aBytes;
  const scratch = bPack + bBytes;
  let live = true;
  return {
    fma,
    rowsPerTile: MR,
    multiply(a, b, c, ldc, M, K, N) {
      if (!live) throw new Error('gemm: used after dispose');
      for (let jc = 0; jc < N; jc += NC) {
        const nc = Math.min(NC, N - jc);
        for (let pc = 0; pc < K; pc += KC) {
          const kc = Math.min(KC, K - pc);
          ex.packB(b.at + 4 * (pc * b.rowStride + jc * b.colStride), b.rowStride, b.colStride, kc, nc, bPack);
          for (let ic = 0; ic < M; ic += MC) {
            const mc = Math.min(MC, M - ic);
            ex.packA(a.at + 4 * (ic * a.rowStride + pc * a.colStride), a.rowStride, a.colStride, mc, kc, aPack);
            ex.block(aPack, bPack, c + 4 * (ic * ldc + jc), ldc * 4, mc, nc, kc, pc > 0 ? 1 : 0, scratch);
          }
        }
      }
    },
    dispose() {
      if (live) host.free(raw);
      live = false;
    },
  };
}

/**
 * Whether this V8 validates a relaxed-SIMD module. Node 20 ships relaxed SIMD
 * behind --experimental-wasm-relaxed-simd, which can be turned on before a
 * module is compiled; the flag adds instructions and changes nothing else.
 */
function relaxedSimdOn(binary: Uint8Array<ArrayBuffer>): boolean {
  if (WebAssembly.validate(binary)) return true;
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(binary);
}
