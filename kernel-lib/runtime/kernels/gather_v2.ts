// GatherV2 for the wasm backend. The stock kernel copies element by element
// through stride arithmetic in C: an embedding lookup of 2048 rows of 128
// floats takes ~8 ms, about a hundred times what moving 1 MiB costs. A gather
// is whole contiguous slices, so this one copies each slice with one
// `copyWithin` on the wasm heap. Out-of-range indices are an error, as in the
// stock kernel.
import { backend_util, util } from '@tensorflow/tfjs';
import type { GatherV2Attrs, GatherV2Inputs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

function gatherV2(args: { inputs: GatherV2Inputs; attrs: GatherV2Attrs; backend: BackendWasm }): TensorInfo {
  const { inputs, attrs, backend } = args;
  const x = inputs.x as TensorInfo;
  const indices = inputs.indices as TensorInfo;
  const axis = util.parseAxisParam(attrs.axis, x.shape)[0];
  const info = backend_util.segment_util.collectGatherOpShapeInfo(x as never, indices as never, axis, attrs.batchDims);
  const { batchSize, outerSize, dimSize, sliceSize, outputShape } = info;
  const out = backend.makeOutput(outputShape, x.dtype);
  if (util.sizeFromShape(x.shape) === 0 || util.sizeFromShape(outputShape) === 0) return out;

  const ids = backend.typedArrayFromHeap(indices);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= dimSize) {
      backend.disposeData(out.dataId);
      throw new Error(`GatherV2: the index value ${ids[i]} is not in [0, ${dimSize - 1}]`);
    }
  }
  // Views of the same heap: x as [batch, outer, dim, slice], indices as
  // [batch, n], out as [batch, outer, n, slice]; offsets in elements.
  const buffer = backend.typedArrayFromHeap(x).buffer;
  const heap = x.dtype === 'float32' ? new Float32Array(buffer) : x.dtype === 'int32' ? new Int32Array(buffer) : new Uint8Array(buffer);
  const bytes = heap.BYTES_PER_ELEMENT;
  const xBase = backend.dataIdMap.get(x.dataId).memoryOffset / bytes;
  const outBase = backend.dataIdMap.get(out.dataId).memoryOffset / bytes;
  const n = ids.length / batchSize;
  let to = outBase;
  for (let b = 0; b < batchSize; b++) {
    for (let o = 0; o < outerSize; o++) {
      const rowBase = xBase + (b * outerSize + o) * dimSize * sliceSize;
      for (let j = 0; j < n; j++) {
        const from = rowBase + ids[b * n + j] * sliceSize;
        heap.copyWithin(to, from, from + sliceSize);
        to += sliceSize;
      }
    }
  }
  return out;
}

export const gatherV2Config: KernelConfig = {
  kernelName: 'GatherV2',
  backendName: 'wasm',
  kernelFunc: gatherV2 as unknown as KernelFunc,
};
