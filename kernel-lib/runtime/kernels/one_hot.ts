// OneHot for the wasm backend. The stock kernel of tfjs-backend-wasm 4.22
// writes int32 bit patterns into a float32 output (1 reads as 1.4e-45), so a
// loss built on tf.oneHot(..., 'float32') silently reads about zero. This one
// writes values of the requested dtype.
import type { KernelConfig, KernelFunc, OneHotAttrs, OneHotInputs, TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

function oneHot(args: { inputs: OneHotInputs; attrs: OneHotAttrs; backend: BackendWasm }): TensorInfo {
  const { inputs, attrs, backend } = args;
  const indices = inputs.indices as TensorInfo;
  const { depth, onValue, offValue, dtype } = attrs;
  const out = backend.makeOutput([...indices.shape, depth], dtype);
  const outVals = backend.typedArrayFromHeap(out);
  outVals.fill(offValue);
  const ids = backend.typedArrayFromHeap(indices);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id >= 0 && id < depth) outVals[i * depth + id] = onValue;
  }
  return out;
}

export const oneHotConfig: KernelConfig = {
  kernelName: 'OneHot',
  backendName: 'wasm',
  kernelFunc: oneHot as unknown as KernelFunc,
};
