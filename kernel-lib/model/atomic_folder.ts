// Replacing a checkpoint folder so that a run killed at any moment leaves a
// whole checkpoint behind. Files are written into a hidden sibling
// `.<name>.<pid>.<ms>.tmp`; the old folder is renamed to `.<name>.<pid>.<ms>.old`,
// the new one renamed into place, and the old one removed. Two renames are
// needed (a folder cannot be swapped in one step), so a kill between them
// leaves no folder under the name, only the `.old` one: the next save or load
// of that name finds it and renames it back (the interrupted save is rolled
// back), and removes the temporaries that dead runs left. Leftovers of a
// process that is still alive are never touched: it may be mid-save.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mayStillBeWriting, writeFileSynced } from '../runtime/files';

/** Points in a save where a test may stop the process (see test/model/checkpoint_crash.test.ts). */
export type SaveStage = 'written' | 'old-moved';

export interface WriteFolderOptions {
  /** Called at each stage of the swap; for crash tests, which kill the process there. */
  onStage?: (stage: SaveStage) => void;
}

export interface RecoveryReport {
  /** The `.old` folder renamed back to the checkpoint's name, if the name was missing. */
  restored?: string;
  /** Leftover temporaries of dead runs that were removed. */
  removed: string[];
}

interface Leftover {
  path: string;
  pid: number;
  ms: number;
  kind: 'tmp' | 'old';
}

function leftovers(dir: string): Leftover[] {
  const parent = path.dirname(path.resolve(dir));
  const base = path.basename(path.resolve(dir));
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return [];
  }
  const out: Leftover[] = [];
  for (const name of names) {
    const m = /^\.(.*)\.(\d+)\.(\d+)\.(tmp|old)$/.exec(name);
    if (m && m[1] === base) out.push({ path: path.join(parent, name), pid: Number(m[2]), ms: Number(m[3]), kind: m[4] as 'tmp' | 'old' });
  }
  return out;
}

/** Makes renames in `folder` durable (a power cut must not undo them). */
function syncFolder(folder: string): void {
  try {
    const fd = fs.openSync(folder, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* some file systems refuse fsync on folders; the rename itself is still atomic */
  }
}

/**
 * Repairs what an interrupted save of `dir` left: if `dir` is missing, the
 * newest `.old` folder of a dead run is renamed back; other leftovers of dead
 * runs are removed (best effort: a read-only parent only skips the clean-up).
 */
export function recoverCheckpointFolder(dir: string): RecoveryReport {
  const report: RecoveryReport = { removed: [] };
  const all = leftovers(dir);
  const stale = all.filter((l) => !mayStillBeWriting(l.pid));
  const busy = all.find((l) => l.kind === 'old' && !stale.includes(l));
  if (busy && !fs.existsSync(dir)) {
    throw new Error(`${dir}: missing while process ${busy.pid} replaces it (its previous version is ${busy.path}); try again when that save has finished`);
  }
  if (!stale.length) return report;
  if (!fs.existsSync(dir)) {
    const olds = stale.filter((l) => l.kind === 'old').sort((a, b) => b.ms - a.ms);
    if (olds.length) {
      try {
        fs.renameSync(olds[0].path, dir);
      } catch (e) {
        throw new Error(`${dir}: missing after an interrupted save, and its previous version ${olds[0].path} could not be restored (${(e as Error).message})`);
      }
      syncFolder(path.dirname(path.resolve(dir)));
      report.restored = olds[0].path;
    }
  }
  for (const l of stale) {
    if (l.path === report.restored) continue;
    try {
      fs.rmSync(l.path, { recursive: true, force: true });
      report.removed.push(l.path);
    } catch {
      /* leave it for a later save */
    }
  }
  return report;
}

/**
 * Writes every file into a fresh sibling folder, then swaps it into place:
 * a run killed midway leaves the previous checkpoint whole (restored by the
 * next save or load if the kill fell between the two renames), never half of a new one.
 */
export function writeCheckpointFolder(dir: string, files: Record<string, Uint8Array | string>, options: WriteFolderOptions = {}): void {
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  recoverCheckpointFolder(dir);
  const stamp = `${process.pid}.${Date.now()}`;
  const base = path.basename(path.resolve(dir));
  const tmp = path.join(parent, `.${base}.${stamp}.tmp`);
  const old = path.join(parent, `.${base}.${stamp}.old`);
  fs.mkdirSync(tmp);
  for (const [name, content] of Object.entries(files)) writeFileSynced(path.join(tmp, name), content);
  syncFolder(tmp);
  options.onStage?.('written');
  const existed = fs.existsSync(dir);
  if (existed) {
    fs.renameSync(dir, old);
    options.onStage?.('old-moved');
  }
  fs.renameSync(tmp, dir);
  syncFolder(parent);
  if (existed) fs.rmSync(old, { recursive: true, force: true });
}
