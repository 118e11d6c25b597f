// The WebAssembly text of the project's f32 GEMM: C = op(A) op(B), packed
// the way BLIS packs (A in blocks of MR rows, B in panels of NR = 8 columns,
// both k-major), with a micro-kernel that keeps an MR x 8 tile of C in SIMD
// registers. It exists because tfjs-wasm's XNNPACK build multiplies without
// fused multiply-add; WebAssembly's relaxed SIMD has one
// (f32x4.relaxed_madd, which V8 lowers to vfmadd on x86 with FMA3), and a
// kernel using it does each multiply-add in one instruction instead of two.
// The module imports the memory of tfjs-wasm's own module, so it reads the
// tensors where they are and writes the result in place: nothing is copied
// but the packing, which every fast GEMM does anyway.
//
// Exports (addresses in bytes, strides in floats):
//   packA(src, rowStride, colStride, rows, kc, dst): rows x kc of op(A) into
//     ceil(rows / MR) blocks of [kc][MR], zero-padded;
//   packB(src, rowStride, colStride, kc, cols, dst): kc x cols of op(B) into
//     ceil(cols / 8) panels of [kc][8], zero-padded;
//   block(aPack, bPack, c, ldc, mc, nc, kc, accumulate, scratch): the mc x nc
//     block of C at c (row stride ldc bytes) from packed A and B, added to
//     what is there when accumulate is 1; edge tiles go through scratch
//     (MR x 8 floats).

export const NR = 8;

/** `acc + a * b` on f32x4: one relaxed FMA, or a multiply then an add. */
function madd(fma: boolean, a: string, b: string, acc: string): string {
  return fma ? `(f32x4.relaxed_madd ${a} ${b} ${acc})` : `(f32x4.add (f32x4.mul ${a} ${b}) ${acc})`;
}

/** One step of the inner dimension: C tile += A column (at $a) x B row (at $b). */
function kStep(MR: number, fma: boolean): string {
  const rows = Array.from({ length: MR }, (_, r) => r);
  return `(local.set $b0 (v128.load (local.get $b)))
      (local.set $b1 (v128.load offset=16 (local.get $b)))
      ${rows.map((r) => `(local.set $av (v128.load32_splat offset=${r * 4} (local.get $a)))
      (local.set $c${r}0 ${madd(fma, '(local.get $av)', '(local.get $b0)', `(local.get $c${r}0)`)})
      (local.set $c${r}1 ${madd(fma, '(local.get $av)', '(local.get $b1)', `(local.get $c${r}1)`)})`).join('\n      ')}`;
}

/**
 * The MR x 8 micro-kernel: C tile (at c, row stride ldc bytes) (+)= A block x
 * B panel over kc, one step of k an iteration (unrolled by two it ran slower
 * here: V8 then spills vector registers).
 */
function microKernel(MR: number, fma: boolean): string {
  const rows = Array.from({ length: MR }, (_, r) => r);
  const locals = rows.map((r) => `(local $c${r}0 v128) (local $c${r}1 v128)`).join(' ');
  const rowAddress = (r: number) => `(i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const ${r})))`;
  return `
  (func $micro (param $a i32) (param $b i32) (param $c i32) (param $ldc i32) (param $kc i32) (param $acc i32)
    ${locals} (local $b0 v128) (local $b1 v128) (local $av v128) (local $end i32)
    (if (local.get $acc) (then
      ${rows.map((r) => `(local.set $c${r}0 (v128.load ${rowAddress(r)})) (local.set $c${r}1 (v128.load offset=16 ${rowAddress(r)}))`).join('\n      ')}))
    (local.set $end (i32.add (local.get $b) (i32.shl (local.get $kc) (i32.const 5))))
    (loop $k
      ${kStep(MR, fma)}
      (local.set $a (i32.add (local.get $a) (i32.const ${MR * 4})))
      (local.set $b (i32.add (local.get $b) (i32.const ${NR * 4})))
      (br_if $k (i32.lt_u (local.get $b) (local.get $end))))
    ${rows.map((r) => `(v128.store ${rowAddress(r)} (local.get $c${r}0)) (v128.store offset=16 ${rowAddress(r)} (local.get $c${r}1))`).join('\n    ')})`;
}

/** f32x4 lanes as i8x16.shuffle's byte indices (lanes 4-7 are the second operand's). */
const lanes = (...ls: number[]) => ls.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]).join(' ');

/**
 * packA in three ways. A block of MR rows is copied a vector at a time where
 * the layout allows: when op(A) is a transposed matrix (rowStride 1), each
 * k's MR values are adjacent and move as MR / 4 vectors; when A is row-major
 * (colStride 1, MR = 4), four rows are read four k at a time and transposed
 * in registers. A partial block, another layout, and the last kc % 4 steps
 * take the scalar loop ($packLanes). Packing once cost as much as the
 * arithmetic on the thin products (LoRA's rank-16 factors), where a packed
 * block of A meets only two panels of B.
 */
const PACK_A = (MR: number) => `
  (func $packLanes (param $from i32) (param $rs i32) (param $cs i32) (param $rowsLeft i32) (param $k0 i32) (param $kc i32) (param $dst i32)
    (local $r i32) (local $k i32) (local $at i32)
    (if (i32.ge_u (local.get $k0) (local.get $kc)) (then (return)))
    (local.set $r (i32.const 0))
    (loop $lanes
      (local.set $k (local.get $k0))
      (local.set $at (i32.add (i32.add (local.get $from) (i32.mul (local.get $r) (local.get $rs))) (i32.mul (local.get $k0) (local.get $cs))))
      (loop $ks
        (f32.store (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $k) (i32.const ${MR})) (local.get $r)) (i32.const 2)))
          (if (result f32) (i32.lt_u (local.get $r) (local.get $rowsLeft))
            (then (f32.load (local.get $at)))
            (else (f32.const 0))))
        (local.set $at (i32.add (local.get $at) (local.get $cs)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $ks (i32.lt_u (local.get $k) (local.get $kc))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $lanes (i32.lt_u (local.get $r) (i32.const ${MR})))))

  (func (export "packA") (param $src i32) (param $rs i32) (param $cs i32) (param $rows i32) (param $kc i32) (param $dst i32)
    (local $i0 i32) (local $k i32) (local $from i32) (local $to i32) (local $full i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rs (i32.shl (local.get $rs) (i32.const 2)))
    (local.set $cs (i32.shl (local.get $cs) (i32.const 2)))
    (local.set $i0 (i32.const 0))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $i0) (local.get $rows)))
      (local.set $from (i32.add (local.get $src) (i32.mul (local.get $i0) (local.get $rs))))
      (local.set $full (i32.le_u (i32.add (local.get $i0) (i32.const ${MR})) (local.get $rows)))
      (local.set $k (i32.const 0))
      ${MR % 4 === 0 ? `(if (i32.and (local.get $full) (i32.eq (local.get $rs) (i32.const 4)))
        (then
          ;; rowStride 1: the block's values for one k are adjacent
          (local.set $to (local.get $dst))
          (loop $ks
            ${Array.from({ length: MR / 4 }, (_, j) => `(v128.store offset=${16 * j} (local.get $to) (v128.load offset=${16 * j} (local.get $from)))`).join(' ')}
            (local.set $from (i32.add (local.get $from) (local.get $cs)))
            (local.set $to (i32.add (local.get $to) (i32.const ${MR * 4})))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $ks (i32.lt_u (local.get $k) (local.get $kc))))))` : ''}
      ${MR === 4 ? `(if (i32.and (local.get $full) (i32.eq (local.get $cs) (i32.const 4)))
        (then
          ;; row-major: 4 rows x 4 k, transposed in registers
          (local.set $to (local.get $dst))
          (block $quadsDone (loop $quads
            (br_if $quadsDone (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $kc)))
            (local.set $r0 (v128.load (local.get $from)))
            (local.set $r1 (v128.load (i32.add (local.get $from) (local.get $rs))))
            (local.set $r2 (v128.load (i32.add (local.get $from) (i32.shl (local.get $rs) (i32.const 1)))))
            (local.set $r3 (v128.load (i32.add (local.get $from) (i32.mul (local.get $rs) (i32.const 3)))))
            (local.set $t0 (i8x16.shuffle ${lanes(0, 4, 1, 5)} (local.get $r0) (local.get $r1)))
            (local.set $t1 (i8x16.shuffle ${lanes(2, 6, 3, 7)} (local.get $r0) (local.get $r1)))
            (local.set $t2 (i8x16.shuffle ${lanes(0, 4, 1, 5)} (local.get $r2) (local.get $r3)))
            (local.set $t3 (i8x16.shuffle ${lanes(2, 6, 3, 7)} (local.get $r2) (local.get $r3)))
            (v128.store (local.get $to) (i8x16.shuffle ${lanes(0, 1, 4, 5)} (local.get $t0) (local.get $t2)))
            (v128.store offset=16 (local.get $to) (i8x16.shuffle ${lanes(2, 3, 6, 7)} (local.get $t0) (local.get $t2)))
            (v128.store offset=32 (local.get $to) (i8x16.shuffle ${lanes(0, 1, 4, 5)} (local.get $t1) (local.get $t3)))
            (v128.store offset=48 (local.get $to) (i8x16.shuffle ${lanes(2, 3, 6, 7)} (local.get $t1) (local.get $t3)))
            (local.set $from (i32.add (local.get $from) (i32.const 16)))
            (local.set $to (i32.add (local.get $to) (i32.const 64)))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $quads)))
          (local.set $from (i32.add (local.get $src) (i32.mul (local.get $i0) (local.get $rs))))))` : ''}
      ;; whatever the vector loops left: all of kc, or the last kc % 4 steps
      (call $packLanes (local.get $from) (local.get $rs) (local.get $cs) (i32.sub (local.get $rows) (local.get $i0)) (local.get $k) (local.get $kc) (local.get $dst))
      (local.set $dst (i32.add (local.get $dst) (i32.mul (local.get $kc) (i32.const ${MR * 4}))))
      (local.set $i0 (i32.add (local.get $i0) (i32.const ${MR})))
      (br $blocks))))`;

const PACK_B = `
  (func (export "packB") (param $src i32) (param $rs i32) (param $cs i32) (param $kc i32) (param $cols i32) (param $dst i32)
    (local $j0 i32) (local $k i32) (local $t i32) (local $from i32) (local $col i32)
    (local.set $rs (i32.shl (local.get $rs) (i32.const 2)))
    (local.set $cs (i32.shl (local.get $cs) (i32.const 2)))
    (local.set $j0 (i32.const 0))
    (block $done (loop $panels
      (br_if $done (i32.ge_u (local.get $j0) (local.get $cols)))
      (local.set $k (i32.const 0))
      (if (i32.and (i32.eq (local.get $cs) (i32.const 4)) (i32.le_u (i32.add (local.get $j0) (i32.const 8)) (local.get $cols)))
        (then
          ;; a full panel of contiguous columns: two vector copies a row
          (local.set $from (i32.add (local.get $src) (i32.shl (local.get $j0) (i32.const 2))))
          (loop $rows
            (v128.store (local.get $dst) (v128.load (local.get $from)))
            (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $from)))
            (local.set $from (i32.add (local.get $from) (local.get $rs)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $rows (i32.lt_u (local.get $k) (local.get $kc)))))
        (else
          (loop $rows2
            (local.set $t (i32.const 0))
            (loop $lanes
              (local.set $col (i32.add (local.get $j0) (local.get $t)))
              (f32.store (i32.add (local.get $dst) (i32.shl (local.get $t) (i32.const 2)))
                (if (result f32) (i32.lt_u (local.get $col) (local.get $cols))
                  (then (f32.load (i32.add (local.get $src) (i32.add (i32.mul (local.get $k) (local.get $rs)) (i32.mul (local.get $col) (local.get $cs))))))
                  (else (f32.const 0))))
              (local.set $t (i32.add (local.get $t) (i32.const 1)))
              (br_if $lanes (i32.lt_u (local.get $t) (i32.const 8))))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $rows2 (i32.lt_u (local.get $k) (local.get $kc))))))
      (local.set $j0 (i32.add (local.get $j0) (i32.const 8)))
      (br $panels))))`;

/** Copies a rows x cols corner between a tile at `tile` (row stride 32 bytes) and C (row stride ldc); toTile picks the direction. */
const EDGE_COPY = `
  (func $edge (param $tile i32) (param $c i32) (param $ldc i32) (param $rows i32) (param $cols i32) (param $toTile i32)
    (local $r i32) (local $t i32) (local $at i32) (local $ct i32)
    (local.set $r (i32.const 0))
    (loop $rs
      (local.set $t (i32.const 0))
      (loop $ts
        (local.set $at (i32.add (local.get $tile) (i32.shl (i32.add (i32.shl (local.get $r) (i32.const 3)) (local.get $t)) (i32.const 2))))
        (local.set $ct (i32.add (local.get $c) (i32.add (i32.mul (local.get $r) (local.get $ldc)) (i32.shl (local.get $t) (i32.const 2)))))
        (if (local.get $toTile)
          (then (f32.store (local.get $at) (f32.load (local.get $ct))))
          (else (f32.store (local.get $ct) (f32.load (local.get $at)))))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br_if $ts (i32.lt_u (local.get $t) (local.get $cols))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $rs (i32.lt_u (local.get $r) (local.get $rows)))))`;

const BLOCK = (MR: number) => `
  (func (export "block") (param $aPack i32) (param $bPack i32) (param $c i32) (param $ldc i32) (param $mc i32) (param $nc i32) (param $kc i32) (param $acc i32) (param $scratch i32)
    (local $j0 i32) (local $i0 i32) (local $a i32) (local $b i32) (local $ct i32) (local $rows i32) (local $cols i32)
    (local.set $j0 (i32.const 0))
    (local.set $b (local.get $bPack))
    (block $jdone (loop $panels
      (br_if $jdone (i32.ge_u (local.get $j0) (local.get $nc)))
      (local.set $cols (i32.sub (local.get $nc) (local.get $j0)))
      (if (i32.gt_u (local.get $cols) (i32.const 8)) (then (local.set $cols (i32.const 8))))
      (local.set $i0 (i32.const 0))
      (local.set $a (local.get $aPack))
      (block $idone (loop $tiles
        (br_if $idone (i32.ge_u (local.get $i0) (local.get $mc)))
        (local.set $rows (i32.sub (local.get $mc) (local.get $i0)))
        (if (i32.gt_u (local.get $rows) (i32.const ${MR})) (then (local.set $rows (i32.const ${MR}))))
        (local.set $ct (i32.add (local.get $c) (i32.add (i32.mul (local.get $i0) (local.get $ldc)) (i32.shl (local.get $j0) (i32.const 2)))))
        (if (i32.and (i32.eq (local.get $rows) (i32.const ${MR})) (i32.eq (local.get $cols) (i32.const 8)))
          (then (call $micro (local.get $a) (local.get $b) (local.get $ct) (local.get $ldc) (local.get $kc) (local.get $acc)))
          (else
            (if (local.get $acc) (then (call $edge (local.get $scratch) (local.get $ct) (local.get $ldc) (local.get $rows) (local.get $cols) (i32.const 1))))
            (call $micro (local.get $a) (local.get $b) (local.get $scratch) (i32.const 32) (local.get $kc) (local.get $acc))
            (call $edge (local.get $scratch) (local.get $ct) (local.get $ldc) (local.get $rows) (local.get $cols) (i32.const 0))))
        (local.set $a (i32.add (local.get $a) (i32.mul (local.get $kc) (i32.const ${MR * 4}))))
        (local.set $i0 (i32.add (local.get $i0) (i32.const ${MR})))
        (br $tiles)))
      (local.set $b (i32.add (local.get $b) (i32.shl (local.get $kc) (i32.const 5))))
      (local.set $j0 (i32.add (local.get $j0) (i32.const 8)))
      (br $panels))))`;

/** The module's text for MR-row micro-tiles, with relaxed FMA or without. */
export function gemmWat(MR: number, fma: boolean): string {
  return `(module
  (import "env" "memory" (memory 1))
  ${microKernel(MR, fma)}
  ${EDGE_COPY}
  ${PACK_A(MR)}
  ${PACK_B}
  ${BLOCK(MR)})`;
}
