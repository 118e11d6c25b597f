// Writing files so that a reader (or a run killed midway) never sees half of
// one: checkpoints, tokenizers and other artefacts all go through here.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Writes `content` and waits until it is on disk (before a rename makes it visible). */
export function writeFileSynced(file: string, content: Uint8Array | string): void {
  const fd = fs.openSync(file, 'w');
  try {
    if (typeof content === 'string') fs.writeSync(fd, content);
    else fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Whether process `pid` may still be writing the temporaries it named after
 * itself. Writes here are synchronous, so this process's own leftovers come
 * from a write that threw and are not in progress.
 */
export function mayStillBeWriting(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes `.<name>.<pid>.<ms>.tmp` files beside `file` left by writes that were
 * killed (their process is gone): each can be as large as the file itself.
 */
function removeStaleTemporaries(file: string): void {
  const folder = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^\.(.*)\.(\d+)\.(\d+)\.tmp$/.exec(name);
    if (!m || m[1] !== base || mayStillBeWriting(Number(m[2]))) continue;
    try {
      fs.rmSync(path.join(folder, name), { force: true });
    } catch {
      /* best effort: the next write tries again */
    }
  }
}

/**
 * Writes `content` to `file` through a temporary file and a rename, so readers
 * never see half a file; temporaries that killed writes of the same file left
 * are removed first.
 */
export function writeFileAtomic(file: string, content: Uint8Array | string): void {
  removeStaleTemporaries(file);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  writeFileSynced(tmp, content);
  fs.renameSync(tmp, file);
}
