// The safetensors file format, read and written here because it is small
// (an 8-byte header length, a JSON header, raw little-endian data) and the
// errors should name the file and the tensor. Reading checks every rule of
// the format (integer offsets, byte ranges that tile the data exactly, sizes
// that match shapes, a string-to-string __metadata__) before any tensor is
// decoded, so a crafted header cannot make the reader allocate more than the
// file holds. Decoding accepts what transformers writes for Llama models
// (F32, F16, BF16); writing uses F32, or BF16 on request (exports).
import * as fs from 'node:fs';
import { writeFileAtomic } from '../runtime/files';
import { readAt, readRegularFile } from './files';

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

/** One tensor's header entry, checked: offsets are relative to the data section. */
export interface TensorEntry {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** A checked header: the tensors in file order, the metadata, and where the data starts. */
export interface SafetensorsHeader {
  file: string;
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
  dataStart: number;
  fileSize: number;
}

/** Bytes per element of every dtype the format defines (sub-byte types are not listed: nothing here reads them). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

/** The reference implementation's limit; real headers are a few MB at most. */
const MAX_HEADER_BYTES = 100_000_000;

const isOffset = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function checkEntry(file: string, name: string, raw: unknown, dataLen: number): TensorEntry {
  const where = `${file}: tensor "${name}"`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${where}: header entry must be an object with dtype, shape and data_offsets, got ${JSON.stringify(raw)}`);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    throw new Error(`${where}: unknown dtype ${JSON.stringify(dtype)}; expected one of ${Object.keys(DTYPE_BYTES).join(', ')}`);
  }
  if (!Array.isArray(shape) || !shape.every(isOffset)) {
    throw new Error(`${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isOffset)) {
    throw new Error(`${where}: data_offsets must be two non-negative integers [begin, end], got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  // BigInt: a crafted shape's product must not lose precision and compare equal by accident.
  const bytes = (shape as number[]).reduce((a, d) => a * BigInt(d), BigInt(DTYPE_BYTES[dtype]));
  if (begin > end || end > dataLen || bytes !== BigInt(end - begin)) {
    throw new Error(
      `${where} [${shape}] ${dtype} needs ${bytes} bytes but its offsets are [${begin}, ${end}] of ${dataLen} data bytes; the file is corrupt or truncated`,
    );
  }
  return { dtype, shape: (shape as number[]).slice(), begin, end };
}

function checkMetadata(file: string, raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${file}: __metadata__ must be an object of string values, got ${JSON.stringify(raw)}`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw new Error(`${file}: __metadata__ "${key}" must be a string, got ${JSON.stringify(value)}`);
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The byte ranges must cover the data section exactly once, with no hole or overlap (the format forbids both). */
function checkTiling(file: string, tensors: Map<string, TensorEntry>, dataLen: number): void {
  const sorted = [...tensors].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let at = 0;
  let previous = '';
  for (const [name, t] of sorted) {
    if (t.begin < at) {
      throw new Error(`${file}: tensor "${name}" bytes [${t.begin}, ${t.end}] overlap tensor "${previous}" (which ends at ${at})`);
    }
    if (t.begin > at) {
      throw new Error(`${file}: data bytes [${at}, ${t.begin}) belong to no tensor (before tensor "${name}"); the format forbids holes`);
    }
    at = t.end;
    previous = name;
  }
  if (at !== dataLen) throw new Error(`${file}: data bytes [${at}, ${dataLen}) belong to no tensor; the format forbids trailing bytes`);
}

/** Parses and checks the header of an open file; reads no tensor data. */
function readHeaderFrom(file: string, fd: number, fileSize: number): SafetensorsHeader {
  if (fileSize < 8) throw new Error(`${file}: too short for a safetensors file (${fileSize} bytes)`);
  const lenBytes = Buffer.alloc(8);
  fs.readSync(fd, lenBytes, 0, 8, 0);
  const headerLen = lenBytes.readBigUInt64LE(0);
  if (headerLen < 2n || headerLen > BigInt(Math.min(MAX_HEADER_BYTES, fileSize - 8))) {
    throw new Error(`${file}: header length ${headerLen} does not fit in the file (${fileSize} bytes); the file is corrupt or truncated`);
  }
  const n = Number(headerLen);
  const headerBytes = Buffer.alloc(n);
  if (readAt(fd, headerBytes, 8) !== n) throw new Error(`${file}: header ended early; the file is truncated`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new Error(`${file}: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new Error(`${file}: header must be a JSON object of tensors, got ${JSON.stringify(header)?.slice(0, 80)}`);
  }
  const dataStart = 8 + n;
  const dataLen = fileSize - dataStart;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') metadata = checkMetadata(file, raw);
    else tensors.set(name, checkEntry(file, name, raw, dataLen));
  }
  checkTiling(file, tensors, dataLen);
  return { file, tensors, metadata, dataStart, fileSize };
}

/** Reads and checks only the header of a .safetensors file (names, dtypes, shapes), not its data. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  return readRegularFile(file, 'safetensors file', (fd, size) => readHeaderFrom(file, fd, size));
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * Math.pow(2, -14) * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * Math.pow(2, exp - 15) * (1 + frac / 1024);
}

function decode(file: string, name: string, entry: TensorEntry, bytes: Uint8Array): Float32Array {
  const n = entry.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (entry.dtype === 'F32') {
    const out = new Float32Array(n);
    // One copy when the data is 4-byte aligned (it is in files written by the reference writer).
    if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
    else for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  if (entry.dtype === 'BF16') {
    const out = new Float32Array(n);
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u32[i] = view.getUint16(i * 2, true) << 16;
    return out;
  }
  if (entry.dtype === 'F16') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
    return out;
  }
  throw new Error(`${file}: tensor "${name}" has dtype ${entry.dtype}; expected F32, F16 or BF16`);
}

/**
 * Reads the named tensors (default: all), upcast to float32, after checking
 * the whole header. Unsupported dtypes are an error only for tensors read.
 */
export function readSafetensorsTensors(file: string, names?: Iterable<string>): { header: SafetensorsHeader; tensors: Map<string, NamedArray> } {
  return readRegularFile(file, 'safetensors file', (fd, size) => {
    const header = readHeaderFrom(file, fd, size);
    const wanted = names ? [...names] : [...header.tensors.keys()];
    const tensors = new Map<string, NamedArray>();
    for (const name of wanted) {
      const entry = header.tensors.get(name);
      if (!entry) throw new Error(`${file}: no tensor "${name}"`);
      if (!['F32', 'F16', 'BF16'].includes(entry.dtype)) decode(file, name, entry, new Uint8Array(0));
      const bytes = Buffer.alloc(entry.end - entry.begin);
      if (readAt(fd, bytes, header.dataStart + entry.begin) !== bytes.length) {
        throw new Error(`${file}: tensor "${name}" ended early; the file is truncated`);
      }
      tensors.set(name, { shape: entry.shape.slice(), data: decode(file, name, entry, bytes) });
    }
    return { header, tensors };
  });
}

/** Reads every tensor (upcast to float32) and the `__metadata__` map of a .safetensors file. */
export function readSafetensors(file: string): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  const { header, tensors } = readSafetensorsTensors(file);
  return { tensors, metadata: header.metadata };
}

/**
 * bfloat16 bits of a float32: the upper half, rounded to nearest even (as
 * torch's .to(torch.bfloat16) does); NaN stays a quiet NaN.
 */
export function toBfloat16Bits(data: Float32Array): Uint16Array {
  const u32 = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const x = u32[i];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x007fffff) !== 0) out[i] = (x >>> 16) | 0x0040;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Encodes float32 tensors (in insertion order) as a safetensors file's bytes, stored as F32 or BF16. */
export function encodeSafetensors(tensors: Map<string, NamedArray>, metadata: Record<string, string> = {}, dtype: 'F32' | 'BF16' = 'F32'): Uint8Array {
  const width = dtype === 'BF16' ? 2 : 4;
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: tensor "${name}" has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + n * width] };
    offset += n * width;
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
    // Typed arrays are little-endian on every platform Node runs on.
    const values = dtype === 'BF16' ? toBfloat16Bits(t.data) : t.data;
    out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
    at += values.byteLength;
  }
  return out;
}

/** Writes float32 tensors to a .safetensors file atomically. */
export function writeSafetensors(file: string, tensors: Map<string, NamedArray>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}
