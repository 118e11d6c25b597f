// Shared by the kernels that call tfjs-backend-wasm's exported C functions
// directly. A function is wrapped once per backend instance: our kernels are
// registered after the backend has started, so a setupFunc would never run.
import type { TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

const wrapped = new WeakMap<BackendWasm, Map<string, unknown>>();

/** The C function `name` of this backend's module, with emscripten argument types `args`. */
export function wasmFunction<F>(backend: BackendWasm, name: string, args: string[]): F {
  let fns = wrapped.get(backend);
  if (!fns) wrapped.set(backend, (fns = new Map()));
  let fn = fns.get(name);
  if (!fn) {
    const emscripten = backend.wasm as unknown as { cwrap(name: string, ret: null, args: string[]): unknown };
    fn = emscripten.cwrap(name, null, args);
    fns.set(name, fn);
  }
  return fn as F;
}

/** The C-side id of a tensor's data. */
export function wasmId(backend: BackendWasm, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).id;
}
