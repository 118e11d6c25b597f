// The project's GEMM for the wasm backend (see wat.ts for why it exists):
// one per backend instance, attached when the backend is selected and used
// by the BatchMatMul kernel where its cost model says it is faster.
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { createGemm, type Gemm, type GemmHost } from './gemm';

export { createGemm, DEFAULT_BLOCKING, type Gemm, type GemmBlocking, type GemmHost, type GemmOperand } from './gemm';

/**
 * Environment variable that turns the project's GEMM off (WORKBOOK_GEMM=off),
 * read whenever the backend is selected: every product then goes to XNNPACK
 * or tfjs's loop.
 */
export const GEMM_ENV = 'WORKBOOK_GEMM';

const attached = new WeakMap<BackendWasm, Gemm>();

/** The GEMM attached to this backend, if any. */
export function gemmFor(backend: BackendWasm): Gemm | undefined {
  return attached.get(backend);
}

/** tfjs-wasm's memory and allocator, for a GEMM that works on its tensors in place. */
export function wasmGemmHost(backend: BackendWasm): GemmHost {
  const module = backend.wasm as unknown as { asm: { memory: WebAssembly.Memory }; _malloc(n: number): number; _free(p: number): void };
  return { memory: module.asm.memory, malloc: (n) => module._malloc(n), free: (p) => module._free(p) };
}

/**
 * Builds the GEMM in this wasm backend's memory and attaches it; says what
 * products will use. Only with fused multiply-add is it faster than XNNPACK,
 * so without relaxed SIMD nothing is attached.
 */
export async function attachGemm(backend: BackendWasm): Promise<string> {
  const setting = process.env[GEMM_ENV]?.trim().toLowerCase();
  if (setting === 'off') {
    attached.get(backend)?.dispose();
    attached.delete(backend);
    return `XNNPACK (${GEMM_ENV}=off)`;
  }
  if (attached.has(backend)) return describe(attached.get(backend)!);
  const gemm = await createGemm(wasmGemmHost(backend));
  if (!gemm.fma) {
    gemm.dispose();
    return 'XNNPACK (this V8 has no relaxed SIMD, so the project GEMM would be no faster)';
  }
  attached.set(backend, gemm);
  return describe(gemm);
}

function describe(gemm: Gemm): string {
  return `project GEMM (WebAssembly relaxed-SIMD FMA, ${gemm.rowsPerTile} x 8 tiles) for products large enough, XNNPACK for the rest`;
}
