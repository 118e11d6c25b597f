// Sum for the wasm backend. The stock kernel reduces innermost axes only and
// transposes everything else first; summing a [2048, 128] gradient over its
// rows (every broadcast weight's gradient, e.g. RMSNorm's scale) then costs a
// transpose at ~1/8 of memory speed (see transposeLast2 in batch_mat_mul.ts)
// and takes ~1.6 ms, eight times the row-wise sum. Here a reduction over
// leading axes adds whole rows into the output in one pass; innermost
// reductions go to the backend's C function as before, and any other pattern
// is transposed by the backend's own kernel first.
import { backend_util, util } from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, SumAttrs, SumInputs, TensorInfo } from '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmFunction, wasmId } from './wasm_function';

type WasmSum = (xId: number, reduceSize: number, dtype: number, outId: number) => void;
const wasmSum = (backend: BackendWasm) => wasmFunction<WasmSum>(backend, 'Sum', ['number', 'number', 'number', 'number']);

// The C side's dtype codes (tfjs-backend-wasm's CppDType).
const CPP_DTYPE: Record<string, number> = { float32: 0, int32: 1, bool: 2 };

function sum(args: { inputs: SumInputs; attrs: SumAttrs; backend: BackendWasm }): TensorInfo {
  const { inputs, attrs, backend } = args;
  const x = inputs.x as TensorInfo;
  const rank = x.shape.length;
  const axes = util.parseAxisParam(attrs.axis, x.shape).sort((a, b) => a - b);
  const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
  const keptShape = attrs.keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
  // Like the stock kernel: sums of bool and int32 are int32.
  const dtype = x.dtype === 'float32' ? 'float32' : 'int32';
  const out = backend.makeOutput(keptShape, dtype);
  const size = util.sizeFromShape(x.shape);
  if (size === 0) return out;

  const leading = axes.every((a, i) => a === i);
  if (leading && axes.length < rank && x.dtype !== 'bool') {
    const rows = util.sizeFromShape(x.shape.slice(0, axes.length));
    const cols = size / rows;
    const xs = backend.typedArrayFromHeap(x);
    const acc = backend.typedArrayFromHeap(out);
    acc.set(xs.subarray(0, cols));
    for (let r = 1; r < rows; r++) {
      const base = r * cols;
      for (let c = 0; c < cols; c++) acc[c] += xs[base + c];
    }
    return out;
  }

  let input = x;
  let transposed = false;
  if (!backend_util.axesAreInnerMostDims(axes, rank)) {
    const perm = [...Array(rank).keys()].filter((a) => !axes.includes(a)).concat(axes);
    const transpose = tf.getKernel('Transpose', 'wasm')!.kernelFunc;
    input = transpose({ inputs: { x }, backend, attrs: { perm } }) as TensorInfo;
    transposed = true;
  }
  try {
    const reduceSize = util.sizeFromShape(axes.map((a) => x.shape[a]));
    wasmSum(backend)(wasmId(backend, input), reduceSize, CPP_DTYPE[dtype], wasmId(backend, out));
  } finally {
    if (transposed) backend.disposeData(input.dataId);
  }
  return out;
}

export const sumConfig: KernelConfig = {
  kernelName: 'Sum',
  backendName: 'wasm',
  kernelFunc: sum as unknown as KernelFunc,
};
