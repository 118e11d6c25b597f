// BatchMatMul for the wasm backend. The stock kernel of tfjs-backend-wasm 4.22
// hands a product to XNNPACK only when neither operand is transposed and both
// batch sizes are 1; everything else (every gradient of a matmul, and every
// batched attention product) runs a scalar loop at about 2 GFLOP/s, against
// about 30 for XNNPACK. This kernel brings every product worth it to XNNPACK,
// through the same exported C function:
//   - a transposed operand is transposed once, up front, with the backend's
//     own Transpose kernel: the C function always asks XNNPACK to transpose
//     the weights itself, so b cannot be handed over as [N, K]. When that
//     costs more, C^T = op(b)^T op(a)^T is computed and transposed instead;
//   - when b is shared by the whole batch, the batch is folded into the rows
//     of one product;
//   - otherwise each batch slice is one XNNPACK call on views: tensor ids
//     registered over the slices' bytes in the operands and the output, so
//     nothing is copied.
// Products too small for XNNPACK's per-call set-up to pay off (one-row decode
// steps, tiny matrices) stay on the stock scalar loop. Where the project's own
// GEMM is attached (runtime/gemm: fused multiply-add, which XNNPACK's wasm
// build lacks), products large enough go to it instead: it reads either
// operand transposed or not, in place, so nothing is transposed or copied.
// planBatchMatMul decides, by a cost model of the four routes.
import { broadcast_util, util } from '@tensorflow/tfjs';
import type { BatchMatMulAttrs, BatchMatMulInputs, DataId, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { DEFAULT_BLOCKING, gemmFor, type Gemm } from '../gemm';
import { wasmFunction, wasmId } from './wasm_function';

type WasmMatMul = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: boolean,
  transposeB: boolean,
  outId: number,
) => void;

function wasmMatMul(backend: BackendWasm): WasmMatMul {
  return wasmFunction<WasmMatMul>(backend, 'BatchMatMul', ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
}

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/**
 * The XNNPACK path caches one operator, with the weights packed in it, per
 * tensor id of b, and drops it only when that id is disposed. Reshape shares
 * data ids, so one id can come back as b with a different [K, N]; XNNPACK would
 * then reuse weights packed for the other shape. Remember the shape each input
 * was first used with and pass a fresh view id when it differs.
 */
const packedShape = new WeakMap<DataId, string>();

/** A C-side tensor id over bytes owned by another tensor; release with `releaseView`. */
function makeView(backend: BackendWasm, byteOffset: number, size: number): TensorInfo {
  return backend.makeOutput([size], 'float32', byteOffset);
}

/** Forgets a view without freeing its bytes (their owner does that); disposing the id also drops any XNNPACK operator cached on it. */
function releaseView(backend: BackendWasm, view: TensorInfo): void {
  const { id } = backend.dataIdMap.get(view.dataId);
  backend.wasm.tfjs.disposeData(id);
  backend.dataIdMap.delete(view.dataId);
}

function byteOffsetOf(backend: BackendWasm, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** Runs the backend's own Transpose kernel on `x` viewed as `shape`. */
function transposeKernel(backend: BackendWasm, x: TensorInfo, shape: number[], perm: number[]): TensorInfo {
  const transpose = tf.getKernel('Transpose', 'wasm')!.kernelFunc;
  return transpose({ inputs: { x: { dataId: x.dataId, shape, dtype: x.dtype } }, backend, attrs: { perm } }) as TensorInfo;
}

/** Rows per block in the two-pass transpose. */
const TRANSPOSE_BLOCK = 32;

/**
 * Swaps the last two axes of [batch, rows, cols] data. When rows or cols is 1
 * the bytes are already in the transposed order, so the data is shared, not
 * copied. `owned` says whether the caller must dispose the result.
 *
 * The stock kernel writes the output column by column, `rows` floats apart;
 * when that stride is a multiple of 1 KiB the writes fall into a handful of
 * cache sets and it runs 5-8x slower (2048 x 128: 170 M floats/s against
 * 1300 M/s). Those shapes go in two passes instead: each block of 32 rows is
 * transposed in cache, then the blocks are interleaved as runs of 32 floats.
 */
function transposeLast2(
  backend: BackendWasm,
  x: TensorInfo,
  batch: number,
  rows: number,
  cols: number,
): { t: TensorInfo; owned: boolean } {
  if (rows === 1 || cols === 1) return { t: { dataId: x.dataId, shape: [batch, cols, rows], dtype: x.dtype }, owned: false };
  if (rows % 256 !== 0 || batch * rows * cols < 32768) {
    return { t: transposeKernel(backend, x, [batch, rows, cols], [0, 2, 1]), owned: true };
  }
  const blocks = rows / TRANSPOSE_BLOCK;
  const inBlocks = transposeKernel(backend, x, [batch, blocks, TRANSPOSE_BLOCK, cols], [0, 1, 3, 2]);
  try {
    const t = transposeKernel(backend, inBlocks, [batch, blocks, cols, TRANSPOSE_BLOCK], [0, 2, 1, 3]);
    return { t: { ...t, shape: [batch, cols, rows] }, owned: true };
  } finally {
    backend.disposeData(inBlocks.dataId);
  }
}

/** For each output batch index, the batch index of an operand with outer dims `dims`, broadcast to `outDims`. */
function broadcastIndex(dims: number[], outDims: number[]): Int32Array {
  const size = util.sizeFromShape(outDims);
  const index = new Int32Array(size);
  const offset = outDims.length - dims.length;
  const strides = util.computeStrides(dims);
  for (let i = 0; i < size; i++) {
    let rest = i;
    let at = 0;
    for (let d = outDims.length - 1; d >= 0; d--) {
      const coord = rest % outDims[d];
      rest = (rest - coord) / outDims[d];
      const k = d - offset;
      if (k >= 0 && dims[k] !== 1) at += coord * (k === dims.length - 1 ? 1 : strides[k]);
    }
    index[i] = at;
  }
  return index;
}

/**
 * out[i] = lhs[lhsIndex[i]] (P x K) times rhs[rhsIndex[i]] (K x Q), all
 * row-major and untransposed, each through XNNPACK; `out` is [batch, P, Q].
 * `rhsCacheable` says rhs is a caller's tensor that outlives this call, so the
 * operator XNNPACK packs for it may stay cached on its id.
 */
function xnnProducts(
  backend: BackendWasm,
  lhs: TensorInfo,
  lhsIndex: Int32Array,
  rhs: TensorInfo,
  rhsIndex: Int32Array,
  rhsCacheable: boolean,
  out: TensorInfo,
  P: number,
  K: number,
  Q: number,
): void {
  const matMul = wasmMatMul(backend);
  const batch = lhsIndex.length;
  const rhsSize = K * Q;
  const rhsShape = shapeBytes([1, K, Q]);
  const outId = wasmId(backend, out);

  const rhsShared = rhsIndex.every((r) => r === 0);
  const lhsInOrder = lhsIndex.every((l, i) => l === i);
  if (rhsShared && lhsInOrder) {
    // All slices multiply the same rhs and sit back to back in lhs and out:
    // one product of batch * P rows.
    const lhsShape = shapeBytes([1, batch * P, K]);
    const key = `${K}x${Q}`;
    const known = packedShape.get(rhs.dataId);
    if (rhsCacheable && (known === undefined || known === key)) {
      packedShape.set(rhs.dataId, key);
      matMul(wasmId(backend, lhs), lhsShape, 3, wasmId(backend, rhs), rhsShape, 3, false, false, outId);
      return;
    }
    // A fresh id, so that no operator packed from other bytes is reused and
    // the one packed now is dropped right after.
    const view = makeView(backend, byteOffsetOf(backend, rhs), rhsSize);
    try {
      matMul(wasmId(backend, lhs), lhsShape, 3, wasmId(backend, view), rhsShape, 3, false, false, outId);
    } finally {
      releaseView(backend, view);
    }
    return;
  }

  const lhsShape = shapeBytes([1, P, K]);
  const lhsBase = byteOffsetOf(backend, lhs);
  const rhsBase = byteOffsetOf(backend, rhs);
  const outBase = byteOffsetOf(backend, out);
  // Consecutive slices with the same rhs keep its view, and so the packed
  // weights; a view is released as soon as the rhs changes, so that at most
  // one packed operator is alive at a time.
  let rhsView: TensorInfo | null = null;
  let rhsViewIndex = -1;
  try {
    for (let i = 0; i < batch; i++) {
      if (rhsIndex[i] !== rhsViewIndex) {
        if (rhsView) releaseView(backend, rhsView);
        rhsView = makeView(backend, rhsBase + rhsIndex[i] * rhsSize * 4, rhsSize);
        rhsViewIndex = rhsIndex[i];
      }
      const rhsId = wasmId(backend, rhsView!);
      const lhsView = makeView(backend, lhsBase + lhsIndex[i] * P * K * 4, P * K);
      const outView = makeView(backend, outBase + i * P * Q * 4, P * Q);
      try {
        matMul(wasmId(backend, lhsView), lhsShape, 3, rhsId, rhsShape, 3, false, false, wasmId(backend, outView));
      } finally {
        releaseView(backend, lhsView);
        releaseView(backend, outView);
      }
    }
  } finally {
    if (rhsView) releaseView(backend, rhsView);
  }
}

/**
 * out[i] = op(a[aIndex[i]]) op(b[bIndex[i]]) with the project's GEMM, reading
 * the operands where they lie (a transposed operand is only other strides).
 * When every slice multiplies the same b and the slices of an untransposed a
 * lie in order, the batch is one product of batch * M rows.
 */
function gemmProducts(
  backend: BackendWasm,
  gemm: Gemm,
  a: TensorInfo,
  aIndex: Int32Array,
  transposeA: boolean,
  b: TensorInfo,
  bIndex: Int32Array,
  transposeB: boolean,
  out: TensorInfo,
  M: number,
  K: number,
  N: number,
): void {
  // Addresses are read after the output was allocated: allocating may grow the heap, never move a tensor.
  const aBase = byteOffsetOf(backend, a);
  const bBase = byteOffsetOf(backend, b);
  const outBase = byteOffsetOf(backend, out);
  const aStrides = transposeA ? { rowStride: 1, colStride: M } : { rowStride: K, colStride: 1 };
  const bStrides = transposeB ? { rowStride: 1, colStride: K } : { rowStride: N, colStride: 1 };
  const batch = aIndex.length;
  if (!transposeA && bIndex.every((r) => r === 0) && aIndex.every((l, i) => l === i)) {
    gemm.multiply({ at: aBase, ...aStrides }, { at: bBase, ...bStrides }, outBase, N, batch * M, K, N);
    return;
  }
  for (let i = 0; i < batch; i++) {
    gemm.multiply(
      { at: aBase + aIndex[i] * M * K * 4, ...aStrides },
      { at: bBase + bIndex[i] * K * N * 4, ...bStrides },
      outBase + i * M * N * 4,
      N,
      M,
      K,
      N,
    );
  }
}

interface Dims {
  M: number;
  K: number;
  N: number;
  outerA: number[];
  outerB: number[];
  outOuter: number[];
  batchA: number;
  batchB: number;
  batch: number;
}

function matMulDims(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): Dims {
  const aRank = aShape.length;
  const bRank = bShape.length;
  const innerA = transposeA ? aShape[aRank - 2] : aShape[aRank - 1];
  const innerB = transposeB ? bShape[bRank - 1] : bShape[bRank - 2];
  util.assert(
    innerA === innerB,
    () =>
      `Error in matMul: inner shapes (${innerA}) and (${innerB}) of Tensors with shapes ${aShape} and ` +
      `${bShape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
  );
  const outerA = aShape.slice(0, -2);
  const outerB = bShape.slice(0, -2);
  const outOuter = broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  return {
    M: transposeA ? aShape[aRank - 1] : aShape[aRank - 2],
    K: innerA,
    N: transposeB ? bShape[bRank - 2] : bShape[bRank - 1],
    outerA,
    outerB,
    outOuter,
    batchA: util.sizeFromShape(outerA),
    batchB: util.sizeFromShape(outerB),
    batch: util.sizeFromShape(outOuter),
  };
}

/**
 * How a product is computed: 'scalar' is the stock kernel's own loop (and its
 * XNNPACK call when it takes one); 'direct' gives XNNPACK op(a) and op(b);
 * 'swapped' gives it op(b)^T and op(a)^T and transposes the result; 'gemm'
 * is the project's GEMM, on the operands as they are.
 */
export type MatMulRoute = 'scalar' | 'direct' | 'swapped' | 'gemm';

// Rough costs on one wasm thread (SIMD), measured on the shapes of a training
// step: moving a float for a transpose or for XNNPACK's weight packing, one
// XNNPACK call with a fresh operator (views, create, delete), and a
// multiply-add in XNNPACK's GEMM (~28 GFLOP/s) and in the scalar loop
// (~2.2 GFLOP/s).
const MOVE_NS = 1.5;
const CALL_NS = 3000;
const XNN_MAC_NS = 0.07;
const SCALAR_MAC_NS = 0.9;
// XNNPACK's f32 GEMM tiles output columns by 8; a product with fewer columns
// costs as much as one with 8.
const XNN_COLUMN_TILE = 8;
// The project's GEMM: a multiply-add with FMA, a float packed, one call's
// set-up (JavaScript loops over blocks); it tiles rows by its MR and
// columns by 8, and packs B once per product and A once per NC columns.
const GEMM_MAC_NS = 0.05;
const GEMM_PACK_NS = 0.5;
const GEMM_CALL_NS = 2000;
const GEMM_NC = DEFAULT_BLOCKING.NC;

/**
 * The route `batchMatMul` takes for these shapes: the cheapest by the cost
 * model above. `gemmRows` is the row tile of the project's GEMM when one is
 * attached to the backend (0: none, and no 'gemm' route). `bPacked` says
 * whether XNNPACK already holds b packed from an earlier product (a weight
 * multiplied again, as in every decoding step); by default an untransposed b
 * is taken to be one, as the stock kernel's own XNNPACK call assumes.
 */
export function planBatchMatMul(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean, gemmRows = 0, bPacked = !transposeB): MatMulRoute {
  const d = matMulDims(aShape, bShape, transposeA, transposeB);
  const xnn = xnnCosts(d, transposeA, transposeB, bPacked);
  // Here the stock kernel calls XNNPACK itself, caching the operator on b's id
  // as 'direct' does; 'direct' also guards that cache (see packedShape).
  const xnnRoute: Exclude<MatMulRoute, 'gemm'> = !transposeA && !transposeB && d.batchA === 1 && d.batchB === 1 ? 'direct'
    : xnn.scalar <= xnn.direct && xnn.scalar <= xnn.swapped ? 'scalar'
    : xnn.direct <= xnn.swapped ? 'direct' : 'swapped';
  if (gemmRows > 0 && gemmCost(d, !transposeA, gemmRows) < xnn[xnnRoute]) return 'gemm';
  return xnnRoute;
}

/** What the project's GEMM costs; an untransposed a whose slices all meet one b is one product of batch * M rows. */
function gemmCost({ M, K, N, batchA, batchB, batch }: Dims, aInOrder: boolean, MR: number): number {
  const folded = aInOrder && batchB === 1 && batchA === batch;
  const products = folded ? 1 : batch;
  const rows = folded ? batch * M : M;
  const packed = products * (K * N + rows * K * Math.ceil(N / GEMM_NC));
  const macs = products * Math.ceil(rows / MR) * MR * K * Math.ceil(N / 8) * 8;
  return packed * GEMM_PACK_NS + products * GEMM_CALL_NS + macs * GEMM_MAC_NS;
}

function xnnCosts({ M, K, N, batchA, batchB, batch }: Dims, transposeA: boolean, transposeB: boolean, bPacked: boolean): Record<Exclude<MatMulRoute, 'gemm'>, number> {
  const sizeA = batchA * M * K;
  const sizeB = batchB * K * N;
  // Transposing [rows, cols] with a dimension of 1 moves nothing (see transposeLast2).
  const moved = (size: number, rows: number, cols: number) => (rows === 1 || cols === 1 ? 0 : size);
  const xnn = (P: number, Q: number, rhsBatch: number, rhsCached: boolean, transposed: number) => {
    const fold = rhsBatch === 1;
    const packed = fold ? (rhsCached ? 0 : K * Q) : batch * K * Q;
    const calls = fold ? 1 : batch;
    const macs = batch * P * K * Math.ceil(Q / XNN_COLUMN_TILE) * XNN_COLUMN_TILE;
    return (transposed + packed) * MOVE_NS + calls * CALL_NS + macs * XNN_MAC_NS;
  };
  const direct = xnn(M, N, batchB, bPacked && !transposeB, (transposeA ? moved(sizeA, K, M) : 0) + (transposeB ? moved(sizeB, N, K) : 0));
  const swapped = xnn(
    N,
    M,
    batchA,
    false,
    (transposeB ? 0 : moved(sizeB, K, N)) + (transposeA ? 0 : moved(sizeA, M, K)) + moved(batch * M * N, N, M),
  );
  // The stock loop broadcasts a batch of 1 against any batch, and equal
  // batches, but not two batch shapes that each broadcast (e.g. [2, 1] and [1, 3]).
  const scalarOk = batchA === batchB || batchA === 1 || batchB === 1;
  const scalar = scalarOk ? batch * M * N * K * SCALAR_MAC_NS : Infinity;
  return { scalar, direct, swapped };
}

function batchMatMul(args: { inputs: BatchMatMulInputs; attrs: BatchMatMulAttrs; backend: BackendWasm }): TensorInfo {
  const { inputs, attrs, backend } = args;
  const a = inputs.a as TensorInfo;
  const b = inputs.b as TensorInfo;
  const { transposeA, transposeB } = attrs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    // The stock kernel's message, word for word.
    throw new Error(`BatchMatMul for non non-float32 tensors not yet supported.`);
  }
  const { M, K, N, outerA, outerB, outOuter, batchA, batchB, batch } = matMulDims(a.shape, b.shape, transposeA, transposeB);
  const outShape = outOuter.concat([M, N]);

  if (batch * M * N === 0) return backend.makeOutput(outShape, 'float32');
  if (K === 0) {
    const out = backend.makeOutput(outShape, 'float32');
    backend.typedArrayFromHeap(out).fill(0);
    return out;
  }

  const gemm = gemmFor(backend);
  // With the GEMM attached, XNNPACK is taken to hold b packed only where b
  // looks like a weight (x W: neither operand transposed, one b for the whole
  // batch), as in every decoding step; a transposed a is a gradient's
  // product, whose b XNNPACK would pack for that one call. The route depends
  // on the shapes alone, so that the same product always gives the same bits.
  const bPacked = !transposeB && (!gemm || (!transposeA && batchB === 1));
  const route = planBatchMatMul(a.shape, b.shape, transposeA, transposeB, gemm?.rowsPerTile ?? 0, bPacked);
  if (route === 'gemm') {
    const out = backend.makeOutput(outShape, 'float32');
    gemmProducts(backend, gemm!, a, broadcastIndex(outerA, outOuter), transposeA, b, broadcastIndex(outerB, outOuter), transposeB, out, M, K, N);
    return out;
  }
  if (route === 'scalar') {
    const out = backend.makeOutput(outShape, 'float32');
    const a3 = transposeA ? [batchA, K, M] : [batchA, M, K];
    const b3 = transposeB ? [batchB, N, K] : [batchB, K, N];
    wasmMatMul(backend)(
      wasmId(backend, a), shapeBytes(a3), 3, wasmId(backend, b), shapeBytes(b3), 3, transposeA, transposeB, wasmId(backend, out),
    );
    return out;
  }

  const aIndex = broadcastIndex(outerA, outOuter);
  const bIndex = broadcastIndex(outerB, outOuter);
  const temps: TensorInfo[] = [];
  const take = (r: { t: TensorInfo; owned: boolean }) => {
    if (r.owned) temps.push(r.t);
    return r.t;
  };
  try {
    if (route === 'direct') {
      const lhs = transposeA ? take(transposeLast2(backend, a, batchA, K, M)) : a;
      const rhs = transposeB ? take(transposeLast2(backend, b, batchB, N, K)) : b;
      const out = backend.makeOutput(outShape, 'float32');
      try {
        // Only b itself may keep its packed operator, as in the stock kernel:
        // weights are b, and are multiplied again and again.
        xnnProducts(backend, lhs, aIndex, rhs, bIndex, rhs === b, out, M, K, N);
      } catch (err) {
        backend.disposeData(out.dataId);
        throw err;
      }
      return out;
    }
    // C^T[i] = op(b)^T (N x K) times op(a)^T (K x M).
    const lhs = transposeB ? b : take(transposeLast2(backend, b, batchB, K, N));
    const rhs = transposeA ? a : take(transposeLast2(backend, a, batchA, M, K));
    const outT = backend.makeOutput([batch, N, M], 'float32');
    temps.push(outT);
    xnnProducts(backend, lhs, bIndex, rhs, aIndex, false, outT, N, K, M);
    const { t: out, owned } = transposeLast2(backend, outT, batch, N, M);
    if (!owned) temps.pop(); // the result shares outT's data
    return { ...out, shape: outShape };
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  kernelFunc: batchMatMul as unknown as KernelFunc,
};
