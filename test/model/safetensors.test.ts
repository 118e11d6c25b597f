// The safetensors reader against crafted files that break the format's
// rules: each is refused with an error naming the file and the tensor (or
// field), before any tensor is decoded.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeSafetensors, readSafetensors, readSafetensorsHeader } from '../../kernel-lib/model';

/** A file with exactly this header text (JSON or not) and these data bytes. */
function craft(file: string, header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
  return file;
}

const f32 = (...values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

describe('model/safetensors: the format\'s rules', () => {
  let dir: string;
  let n = 0;
  const file = (): string => path.join(dir, `t${n++}.safetensors`);
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads a well-formed file: zero-size and scalar tensors, padding spaces, metadata', () => {
    const f = craft(file(), JSON.stringify({
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      empty: { dtype: 'F32', shape: [0, 3], data_offsets: [8, 8] },
      s: { dtype: 'F32', shape: [], data_offsets: [8, 12] },
    }) + '   ', f32(1, 2, 3));
    const { tensors, metadata } = readSafetensors(f);
    assert.deepEqual(metadata, { format: 'pt' });
    assert.deepEqual(Array.from(tensors.get('a')!.data), [1, 2]);
    assert.deepEqual(tensors.get('empty')!.shape, [0, 3]);
    assert.deepEqual(Array.from(tensors.get('s')!.data), [3]);
    const round = path.join(dir, 'round.safetensors');
    fs.writeFileSync(round, encodeSafetensors(tensors, metadata));
    assert.deepEqual(Array.from(readSafetensors(round).tensors.get('a')!.data), [1, 2]);
  });

  const cases: [string, unknown, Uint8Array, RegExp][] = [
    ['offsets given as strings', { w: { dtype: 'F32', shape: [2], data_offsets: ['0', '8'] } }, f32(1, 2),
      /tensor "w": data_offsets must be two non-negative integers \[begin, end\], got \["0","8"\]/],
    ['string offsets on a later tensor', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: ['4', 8] } }, f32(1, 2),
      /tensor "b": data_offsets must be two non-negative integers/],
    ['fractional offsets', { w: { dtype: 'F32', shape: [1], data_offsets: [0.5, 4.5] } }, f32(1, 2),
      /tensor "w": data_offsets must be two non-negative integers \[begin, end\], got \[0\.5,4\.5\]/],
    ['negative offsets', { w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, f32(1),
      /tensor "w": data_offsets must be two non-negative integers/],
    ['three offsets', { w: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, f32(1),
      /tensor "w": data_offsets must be two/],
    ['overlapping byte ranges', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(1, 2, 3),
      /tensor "b" bytes \[4, 12\] overlap tensor "a" \(which ends at 8\)/],
    ['two tensors on the same bytes', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32(1, 2),
      /tensor "b" bytes \[0, 8\] overlap tensor "a"/],
    ['bytes between tensors that no tensor covers', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32(1, 2, 3),
      /data bytes \[4, 8\) belong to no tensor \(before tensor "b"\); the format forbids holes/],
    ['trailing bytes no tensor covers', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(1, 2),
      /data bytes \[4, 8\) belong to no tensor; the format forbids trailing bytes/],
    ['a null header', null, f32(), /header must be a JSON object of tensors, got null/],
    ['an array header', [1, 2], f32(), /header must be a JSON object of tensors, got \[1,2\]/],
    ['a null tensor entry', { w: null }, f32(), /tensor "w": header entry must be an object with dtype, shape and data_offsets, got null/],
    ['a negative shape', { w: { dtype: 'F32', shape: [-1, 2], data_offsets: [0, 8] } }, f32(1, 2),
      /tensor "w": shape must be a list of non-negative integers, got \[-1,2\]/],
    ['a fractional shape', { w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, f32(1),
      /tensor "w": shape must be a list of non-negative integers, got \[1\.5\]/],
    ['a shape whose size overflows', { w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, f32(1),
      /tensor "w" \[[0-9,]+\] F32 needs 5316911983139663491615228241121378304 bytes but its offsets are \[0, 4\]/],
    ['a shape that does not match the byte range', { w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(1, 2),
      /tensor "w" \[3\] F32 needs 12 bytes but its offsets are \[0, 8\] of 8 data bytes/],
    ['an unknown dtype', { w: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, f32(1),
      /tensor "w": unknown dtype "F33"; expected one of BOOL, /],
    ['a dtype that is no string', { w: { dtype: 4, shape: [1], data_offsets: [0, 4] } }, f32(1), /tensor "w": unknown dtype 4/],
    ['__metadata__ with a number', { __metadata__: { step: 3 }, w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(1),
      /__metadata__ "step" must be a string, got 3/],
    ['__metadata__ that is no object', { __metadata__: 'pt', w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(1),
      /__metadata__ must be an object of string values, got "pt"/],
    ['a header that is not JSON', '{"w": ', f32(1), /header is not valid UTF-8 JSON/],
  ];
  for (const [what, header, data, error] of cases) {
    it(`refuses ${what}, naming the file`, () => {
      const f = craft(file(), header, data);
      for (const read of [readSafetensors, readSafetensorsHeader]) {
        assert.throws(() => read(f), (e: Error) => {
          assert.ok(e.message.startsWith(`${f}: `), `names the file: ${e.message}`);
          assert.match(e.message, error);
          return true;
        });
      }
    });
  }

  it('refuses header sizes that do not fit the file, or exceed the format\'s 100 MB limit', () => {
    const f = craft(file(), { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(1), 1n << 62n);
    assert.throws(() => readSafetensors(f), new RegExp(`${f}: header length 4611686018427387904 does not fit in the file \\(\\d+ bytes\\)`));
    const g = craft(file(), '{}', new Uint8Array(0), 0n);
    assert.throws(() => readSafetensors(g), /header length 0 does not fit/);
    const big = file();
    fs.writeFileSync(big, Buffer.alloc(8));
    fs.truncateSync(big, 8 + 100_000_001); // sparse: no disk used
    fs.writeFileSync(big, Buffer.from(new BigUint64Array([100_000_001n]).buffer), { flag: 'r+' });
    assert.throws(() => readSafetensors(big), /header length 100000001 does not fit/);
  });

  it('an F32 tensor from crafted string offsets is never decoded as garbage', () => {
    // The old reader computed "0" + 8 = "08" and read bytes [0, 8) of the wrong place without complaint.
    const f = craft(file(), { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, w: { dtype: 'F32', shape: [1], data_offsets: ['4', '8'] } }, f32(1, 2));
    assert.throws(() => readSafetensors(f), /tensor "w": data_offsets must be two non-negative integers/);
  });

  it('refuses devices, FIFOs and folders before reading a byte', function () {
    this.timeout(10000);
    assert.throws(() => readSafetensors('/dev/zero'), /\/dev\/zero: safetensors file must be a regular file, but it is a device/);
    const link = path.join(dir, 'zero.safetensors');
    fs.symlinkSync('/dev/zero', link);
    assert.throws(() => readSafetensors(link), /zero\.safetensors: safetensors file must be a regular file, but it is a device/);
    const fifo = path.join(dir, 'fifo.safetensors');
    execFileSync('mkfifo', [fifo]);
    assert.throws(() => readSafetensors(fifo), /fifo\.safetensors: safetensors file must be a regular file, but it is a FIFO/);
    assert.throws(() => readSafetensors(dir), /safetensors file must be a regular file, but it is a folder/);
    assert.throws(() => readSafetensors(path.join(dir, 'absent.safetensors')), /absent\.safetensors: cannot read safetensors file \(ENOENT/);
  });
});
