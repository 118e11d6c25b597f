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

/** Writes `content` to `file` through a temporary file and a rename, so readers never see half a file. */
export function writeFileAtomic(file: string, content: Uint8Array | string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  writeFileSynced(tmp, content);
  fs.renameSync(tmp, file);
}
