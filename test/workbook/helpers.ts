// Paths and launchers shared by the runner's tests.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const root = path.resolve(__dirname, '..', '..');
export const fixtures = path.join(root, 'test', 'fixtures', 'notebooks');
export const tsx = path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Runs `npm run workbook -- ...args` the way a user does, without npm. */
export function runCli(args: string[]) {
  return spawnSync(process.execPath, [tsx, path.join(root, 'scripts', 'workbook.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 });
}
