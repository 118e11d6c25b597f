// Reading the files of a model folder without trusting them: every file must
// be a regular file (a device such as /dev/zero, a FIFO or a folder is
// refused before a byte is read), JSON files have a size limit, and a name
// taken from inside the folder (a shard of an index) must stay inside it,
// through symlinks too.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Opens `file`, checks it is a regular file, and hands the descriptor and size to `use`. */
export function readRegularFile<T>(file: string, what: string, use: (fd: number, size: number) => T): T {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer before the check below refuses it.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw new Error(`${file}: cannot read ${what} (${(e as Error).message})`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${file}: ${what} must be a regular file, but it is ${kindOf(stat)}`);
    return use(fd, stat.size);
  } finally {
    fs.closeSync(fd);
  }
}

function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  return 'not a file';
}

/** Reads into `buf` from `position` until it is full or the file ends; returns the bytes read. */
export function readAt(fd: number, buf: Uint8Array, position: number): number {
  let done = 0;
  while (done < buf.length) {
    // Reads of more than 2 GiB at once fail; chunks keep large tensors readable.
    const n = fs.readSync(fd, buf, done, Math.min(buf.length - done, 1 << 30), position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** config.json and index files of the largest models are a few MB; anything far larger is not one. */
export const MAX_JSON_BYTES = 64 << 20;

/** Reads and parses a JSON object file, refusing non-regular files and files over MAX_JSON_BYTES. */
export function readJsonObject(file: string, what: string): Record<string, unknown> {
  const text = readRegularFile(file, what, (fd, size) => {
    if (size > MAX_JSON_BYTES) throw new Error(`${file}: ${what} is ${size} bytes; more than the ${MAX_JSON_BYTES} a JSON file of a model may have`);
    const buf = Buffer.alloc(size);
    readAt(fd, buf, 0);
    return buf.toString('utf8');
  });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${file}: ${what} must be a JSON object, got ${JSON.stringify(raw)?.slice(0, 80)}`);
  }
  return raw as Record<string, unknown>;
}

/**
 * The folders a model folder's files may really live in: the folder itself,
 * and for a Hugging Face cache snapshot (…/snapshots/<revision>) the cache's
 * blobs folder, where the snapshot's symlinks point.
 */
function allowedRoots(realDir: string): string[] {
  const roots = [realDir];
  if (path.basename(path.dirname(realDir)) === 'snapshots') {
    const blobs = path.join(path.dirname(path.dirname(realDir)), 'blobs');
    if (fs.existsSync(blobs)) roots.push(fs.realpathSync(blobs));
  }
  return roots;
}

const inside = (root: string, p: string): boolean => p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

/**
 * Resolves `name` (read from `source`, e.g. an index's weight_map) as a file
 * of folder `dir`: a relative path that stays inside the folder, whose real
 * path (symlinks followed) is inside it too (or in a Hugging Face cache's blobs).
 */
export function fileInsideFolder(dir: string, name: unknown, source: string): string {
  if (typeof name !== 'string' || name === '' || name.includes('\0')) {
    throw new Error(`${source}: file name ${JSON.stringify(name)} must be a non-empty string`);
  }
  const realDir = fs.realpathSync(dir);
  const joined = path.resolve(realDir, name);
  if (path.isAbsolute(name) || !inside(realDir, joined) || joined === realDir) {
    throw new Error(`${source}: file "${name}" lies outside the model folder ${dir}; only files inside it are read`);
  }
  let real: string;
  try {
    real = fs.realpathSync(joined);
  } catch (e) {
    throw new Error(`${source}: file "${name}" cannot be opened (${(e as Error).message})`);
  }
  if (!allowedRoots(realDir).some((root) => inside(root, real))) {
    throw new Error(`${source}: file "${name}" is a link to ${real}, outside the model folder ${dir}; only files inside it are read`);
  }
  return path.join(dir, name);
}
