// Nothing outlives a run: a signal to the runner ends its kernel, removes the
// connection file and still writes the manifest; processes a cell started end
// with their kernel, whether the notebook ends, times out or is interrupted.
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CodeCell, Notebook } from '../../scripts/workbook/notebook';
import { sourceText } from '../../scripts/workbook/notebook';
import { runWorkbook, type Manifest } from '../../scripts/workbook/run';
import { cmdline, descendants, hasProc, isRunning, listeners, waitFor } from './procs';
import { root, fixtures, tsx, tempDir } from './helpers';

/** The pid the spawns.ipynb fixture printed for its `sleep 1000` child. */
function sleepPid(file: string): number {
  const nb: Notebook = JSON.parse(fs.readFileSync(file, 'utf8'));
  const cell = nb.cells.find((c) => c.id === 'spawn') as CodeCell;
  const text = cell.outputs.map((o) => (o.output_type === 'stream' ? sourceText(o.text) : '')).join('');
  const m = /child pid (\d+)/.exec(text);
  assert.ok(m, `the spawn cell printed its child's pid: ${JSON.stringify(cell.outputs)}`);
  return Number(m[1]);
}

/** Last resort for a failing test: no stray sleep or kernel left on the machine. */
function killIfRunning(pids: number[]): void {
  for (const pid of pids) {
    try {
      if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

describe('workbook lifecycle: processes a cell starts end with the kernel', function () {
  before(function () {
    if (!hasProc) {
      console.log('      skipped: needs Linux /proc to see processes');
      this.skip();
    }
  });

  for (const [label, hang] of [['the notebook ends', false], ['the cell times out and the kernel is killed', true]] as const) {
    it(`a child process (sleep 1000, not detached) is gone after ${label}`, async function () {
      this.timeout(60_000);
      const out = tempDir('workbook-spawns-');
      const m = await runWorkbook({ notebooksDir: fixtures, outDir: out, select: ['spawns'], mode: 'quick', seed: 0, parameters: { hang }, cellTimeoutSeconds: 3, log: () => {} });
      const pid = sleepPid(path.join(out, 'spawns.ipynb'));
      try {
        if (hang) assert.equal(m.notebooks[0].failure?.kind, 'timeout');
        else assert.equal(m.ok, true, JSON.stringify(m.notebooks[0].failure));
        assert.ok(await waitFor(() => !isRunning(pid), 3000), `sleep (pid ${pid}, ${cmdline(pid).join(' ')}) still runs after ${label}`);
      } finally {
        killIfRunning([pid]);
      }
    });
  }
});

interface Running {
  runner: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The real CLI (tsx, as `npm run workbook` starts it) on spawns.ipynb with its cell hanging. */
function startRunner(out: string, ownGroup: boolean): Running {
  const runner = spawn(process.execPath, [tsx, path.join(root, 'scripts', 'workbook.ts'), 'spawns', '-p', 'hang=true', '--timeout', '300', '--notebooks', fixtures, '--out', out], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: ownGroup,
  });
  let err = '';
  runner.stderr!.on('data', (d) => (err += d));
  runner.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => runner.on('exit', (code, signal) => resolve({ code, signal })));
  return { runner, stderr: () => err, exited };
}

describe('workbook lifecycle: a signal to the runner (real CLI, real signal)', function () {
  before(function () {
    if (!hasProc) {
      console.log('      skipped: needs Linux /proc to see processes');
      this.skip();
    }
  });

  const cases = [
    { label: 'SIGTERM to the runner', signal: 'SIGTERM' as const, ownGroup: false, code: 143 },
    { label: 'Ctrl-C (SIGINT to the whole process group)', signal: 'SIGINT' as const, ownGroup: true, code: 130 },
    // One Ctrl-C reaching the runner twice (the terminal's and a wrapper's relay) is still one press.
    { label: 'Ctrl-C delivered twice within a moment', signal: 'SIGINT' as const, ownGroup: false, code: 130, twice: true },
  ];
  for (const c of cases) {
    it(`${c.label}: kernel and its child ended, ports closed, connection file removed, manifest marked interrupted`, async function () {
      this.timeout(120_000);
      const out = tempDir('workbook-signal-');
      const run = startRunner(out, c.ownGroup);
      const pids: number[] = [];
      try {
        assert.ok(await waitFor(() => /spawns: code cell 4\/4/.test(run.stderr()), 60_000), `the hanging cell started:\n${run.stderr()}`);
        const kernel = descendants(run.runner.pid!).find((pid) => cmdline(pid).includes('--config-path'));
        assert.ok(kernel, 'found the kernel process under the runner');
        pids.push(kernel);
        const args = cmdline(kernel);
        const connectionFile = args[args.indexOf('--config-path') + 1];
        const connection = JSON.parse(fs.readFileSync(connectionFile, 'utf8'));
        const ports: number[] = [connection.shell_port, connection.iopub_port, connection.control_port, connection.stdin_port, connection.hb_port];
        assert.ok(await waitFor(() => descendants(kernel).some((pid) => cmdline(pid)[0] === 'sleep'), 10_000), 'the cell started sleep');
        const sleep = descendants(kernel).find((pid) => cmdline(pid)[0] === 'sleep')!;
        pids.push(sleep);
        await new Promise((r) => setTimeout(r, 500)); // the hanging cell is busy now

        if (c.ownGroup) process.kill(-run.runner.pid!, c.signal);
        else run.runner.kill(c.signal);
        if ('twice' in c) {
          await new Promise((r) => setTimeout(r, 50));
          for (const pid of [run.runner.pid!, ...descendants(run.runner.pid!).filter((p) => p !== kernel && !descendants(kernel).includes(p))]) {
            try {
              process.kill(pid, c.signal);
            } catch {
              /* already gone */
            }
          }
        }
        const result = await Promise.race([run.exited, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
        assert.ok(result, `the runner exited after ${c.signal}:\n${run.stderr()}`);
        assert.equal(result.code, c.code, `exit code (signal ${result.signal}):\n${run.stderr()}`);

        assert.ok(await waitFor(() => !isRunning(kernel), 3000), `kernel ${kernel} still runs`);
        assert.ok(await waitFor(() => !isRunning(sleep), 3000), `the cell's child ${sleep} still runs`);
        assert.equal(fs.existsSync(connectionFile), false, `connection file (with the key) left on disk: ${connectionFile}`);
        assert.equal(fs.existsSync(path.dirname(connectionFile)), false);
        for (const port of ports) assert.deepEqual(listeners(port), [], `port ${port} still listening`);

        const manifestFile = path.join(out, 'manifest.json');
        assert.ok(fs.existsSync(manifestFile), `manifest written:\n${run.stderr()}`);
        const m: Manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
        assert.equal(m.interrupted, c.signal);
        assert.equal(m.ok, false);
        assert.equal(m.notebooks[0].status, 'failed');
        assert.deepEqual({ kind: m.notebooks[0].failure?.kind, cellId: m.notebooks[0].failure?.cellId }, { kind: 'interrupted', cellId: 'hang' });
        assert.ok(fs.existsSync(path.join(out, 'spawns.ipynb')), 'the executed part of the notebook is written');
      } finally {
        killIfRunning([...pids, run.runner.pid!]);
      }
    });
  }
});
