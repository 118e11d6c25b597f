// Identity for the wasm backend. The stock kernel copies the tensor; the
// gradient tape calls Identity for every pass-through (about 200 times in a
// training step of the small model, 1 MiB each). Tensors are immutable, so the
// output can share the input's bytes, as the stock Reshape already does.
import type { IdentityInputs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

function identity(args: { inputs: IdentityInputs; backend: BackendWasm }): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  if (x.dtype === 'string') throw new Error('Identity: string tensors are not supported on wasm');
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

export const identityConfig: KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: identity as unknown as KernelFunc,
};
