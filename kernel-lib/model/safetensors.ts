// The safetensors file format, read and written here because it is small
// (an 8-byte header length, a JSON header, raw little-endian data) and the
// errors should name the file and the tensor. Reading accepts what
// transformers writes for Llama models (F32, F16, BF16); writing uses F32.
import * as fs from 'node:fs';
import { writeFileAtomic } from '../runtime/files';

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * Math.pow(2, -14) * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * Math.pow(2, exp - 15) * (1 + frac / 1024);
}

function decode(file: string, name: string, entry: HeaderEntry, bytes: Uint8Array): Float32Array {
  const n = entry.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (entry.dtype === 'F32') {
    // One copy when the data is 4-byte aligned (it is in files written by the reference writer).
    if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
    else for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (entry.dtype === 'BF16') {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u32[i] = view.getUint16(i * 2, true) << 16;
  } else if (entry.dtype === 'F16') {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  } else {
    throw new Error(`${file}: tensor "${name}" has dtype ${entry.dtype}; expected F32, F16 or BF16`);
  }
  return out;
}

/** Reads every tensor (upcast to float32) and the `__metadata__` map of a .safetensors file. */
export function readSafetensors(file: string): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read safetensors file (${(e as Error).message})`);
  }
  if (buf.length < 8) throw new Error(`${file}: too short for a safetensors file (${buf.length} bytes)`);
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (headerLen <= 0 || 8 + headerLen > buf.length) {
    throw new Error(`${file}: header length ${headerLen} does not fit in the file (${buf.length} bytes); the file is corrupt or truncated`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  } catch (e) {
    throw new Error(`${file}: header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;
  const tensors = new Map<string, NamedArray>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const entry = raw as HeaderEntry;
    if (!entry || !Array.isArray(entry.shape) || !Array.isArray(entry.data_offsets) || typeof entry.dtype !== 'string') {
      throw new Error(`${file}: tensor "${name}" has a malformed header entry ${JSON.stringify(raw)}`);
    }
    const size = BYTES[entry.dtype];
    if (!size) throw new Error(`${file}: tensor "${name}" has dtype ${entry.dtype}; expected F32, F16 or BF16`);
    const [begin, end] = entry.data_offsets;
    const n = entry.shape.reduce((a, b) => a * b, 1);
    if (!(begin >= 0 && end <= dataLen && end - begin === n * size)) {
      throw new Error(
        `${file}: tensor "${name}" [${entry.shape}] ${entry.dtype} needs ${n * size} bytes but its offsets are [${begin}, ${end}] of ${dataLen} data bytes; the file is corrupt or truncated`,
      );
    }
    tensors.set(name, { shape: entry.shape, data: decode(file, name, entry, buf.subarray(dataStart + begin, dataStart + end)) });
  }
  return { tensors, metadata };
}

/** Encodes float32 tensors (in insertion order) as a safetensors file's bytes. */
export function encodeSafetensors(tensors: Map<string, NamedArray>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: tensor "${name}" has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + n * 4] };
    offset += n * 4;
  }
  let json = JSON.stringify(header);
  // The data section starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    // Float32Array is little-endian on every platform Node runs on.
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Writes float32 tensors to a .safetensors file atomically. */
export function writeSafetensors(file: string, tensors: Map<string, NamedArray>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}
