// `npm run kernel:install`: the real CLI writes a kernelspec, and a real
// Jupyter client (jupyter_client under the system Python, where installed)
// finds it and starts the kernel from it with node absent from PATH.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DEFAULT_DISPLAY_NAME,
  installKernelspec,
  jupyterDataDir,
  kernelspecDir,
  uninstallKernelspec,
  type KernelSpec,
} from '../../scripts/kernel-install';

const root = path.resolve(__dirname, '..', '..');
const script = path.join(root, 'scripts', 'kernel-install.ts');
const tsx = path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const systemPython = '/usr/bin/python3';

const temps: string[] = [];
function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/** Environment with the given Jupyter data dir and nothing else pointing Jupyter elsewhere. */
function jupyterEnv(dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, JUPYTER_DATA_DIR: dataDir, JUPYTER_RUNTIME_DIR: path.join(dataDir, 'runtime') };
  delete env.JUPYTER_PATH;
  return { ...env, ...extra };
}

function runCli(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [tsx, script, ...args], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
}

function readSpec(dir: string): KernelSpec {
  return JSON.parse(fs.readFileSync(path.join(dir, 'kernel.json'), 'utf8'));
}

function hasJupyterClient(): boolean {
  if (!fs.existsSync(systemPython)) return false;
  return spawnSync(systemPython, ['-c', 'import jupyter_client'], { encoding: 'utf8' }).status === 0;
}

function python(code: string, args: string[], env: NodeJS.ProcessEnv, timeout = 60_000) {
  return spawnSync(systemPython, ['-c', code, ...args], { cwd: root, env, encoding: 'utf8', timeout });
}

/** `jupyter kernelspec list --json`, run as the jupyter_client module (no `jupyter` script needed). */
function kernelspecList(env: NodeJS.ProcessEnv): Record<string, { resource_dir: string; spec: KernelSpec }> {
  const res = spawnSync(systemPython, ['-m', 'jupyter_client.kernelspecapp', 'list', '--json'], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(res.status, 0, `kernelspec list failed:\n${res.stderr}`);
  return JSON.parse(res.stdout).kernelspecs;
}

// Starts the kernel by name through jupyter_client, exactly as a front end does,
// runs cells, interrupts one, shuts the kernel down, and prints a JSON report.
const CLIENT_SCRIPT = String.raw`
import json, os, shutil, sys, time
from jupyter_client.manager import start_new_kernel

name = sys.argv[1]
report = {"node_on_path": shutil.which("node"), "PATH": os.environ.get("PATH")}
km, kc = start_new_kernel(kernel_name=name, startup_timeout=90)

def run(code, interrupt_after=None, timeout=60):
    msg_id = kc.execute(code)
    if interrupt_after is not None:
        time.sleep(interrupt_after)
        km.interrupt_kernel()
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    out = {"status": reply["content"]["status"], "stdout": "", "stderr": ""}
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out[msg["content"]["name"]] += msg["content"]["text"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    return out

try:
    report["spec_argv"] = km.kernel_spec.argv
    report["interrupt_mode"] = km.kernel_spec.interrupt_mode
    pid = getattr(getattr(km, "provisioner", None), "pid", None) or getattr(getattr(km, "kernel", None), "pid", None)
    try:
        report["exe"] = os.readlink("/proc/%d/exe" % pid)
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            report["cmdline"] = [a.decode() for a in f.read().split(b"\0") if a]
    except Exception:
        pass
    report["answer"] = run("console.log(6*7)")
    started = time.time()
    report["interrupted"] = run("await new Promise((r) => setTimeout(r, 60000)); console.log('not interrupted')", interrupt_after=2)
    report["interrupt_seconds"] = time.time() - started
    # After a failed cell tslab aborts requests that arrive within 200 ms (queued cells of a "run all").
    time.sleep(1)
    report["after_interrupt"] = run("console.log('still ' + 'alive')")
    report["alive_before_shutdown"] = km.is_alive()
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=False)
report["alive_after_shutdown"] = km.is_alive()
print("REPORT " + json.dumps(report))
`;

describe('kernel:install', function () {
  after(() => {
    for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('where the kernelspec goes', () => {
    it("follows jupyter_core's data dir rules on each platform", () => {
      const home = '/home/u';
      assert.equal(jupyterDataDir({ JUPYTER_DATA_DIR: '/x/data' }, 'linux', home), '/x/data');
      assert.equal(jupyterDataDir({}, 'linux', home), '/home/u/.local/share/jupyter');
      assert.equal(jupyterDataDir({ XDG_DATA_HOME: '/xdg' }, 'linux', home), '/xdg/jupyter');
      assert.equal(jupyterDataDir({ JUPYTER_DATA_DIR: '/x/data', XDG_DATA_HOME: '/xdg' }, 'linux', home), '/x/data');
      assert.equal(jupyterDataDir({ XDG_DATA_HOME: '/xdg' }, 'darwin', '/Users/u'), '/Users/u/Library/Jupyter');
      assert.equal(jupyterDataDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32', 'C:\\Users\\u'), 'C:\\Users\\u\\AppData\\Roaming\\jupyter');
      assert.equal(jupyterDataDir({}, 'win32', 'C:\\Users\\u'), 'C:\\Users\\u\\.jupyter\\data');
    });

    it('puts --prefix installs in PREFIX/share/jupyter/kernels/NAME, like jupyter kernelspec install --prefix', () => {
      assert.equal(kernelspecDir({ prefix: '/opt/venv', platform: 'linux' }), '/opt/venv/share/jupyter/kernels/tslab');
      assert.equal(kernelspecDir({ prefix: '/opt/venv', name: 'ts2', platform: 'linux' }), '/opt/venv/share/jupyter/kernels/ts2');
      assert.equal(kernelspecDir({ env: { JUPYTER_DATA_DIR: '/d' }, platform: 'linux' }), '/d/kernels/tslab');
    });

    it('rejects kernel names Jupyter would not accept (and path tricks)', () => {
      for (const name of ['a/b', '..', '.', 'a b', '', 'x\\y']) {
        assert.throws(() => kernelspecDir({ name, env: { JUPYTER_DATA_DIR: '/d' } }), /invalid kernel name/, name);
      }
    });
  });

  describe('installKernelspec / uninstallKernelspec', () => {
    it('writes kernel.json under a prefix with absolute node and tslab paths, and replaces it on a second run', () => {
      const prefix = tempDir('kernelspec-prefix-');
      const first = installKernelspec({ prefix, name: 'ts-test', displayName: 'First' });
      assert.equal(first.dir, path.join(prefix, 'share', 'jupyter', 'kernels', 'ts-test'));
      assert.deepEqual(readSpec(first.dir), first.spec);
      assert.equal(first.spec.argv[0], process.execPath);
      assert.equal(first.spec.argv[1], require.resolve('tslab/bin/tslab'));
      const second = installKernelspec({ prefix, name: 'ts-test', displayName: 'Second' });
      assert.equal(readSpec(second.dir).display_name, 'Second');
      assert.deepEqual(fs.readdirSync(second.dir).sort(), second.files.sort(), 'only the files it reports, no temp files left');
    });

    it('fails clearly when the target cannot be created', () => {
      const file = path.join(tempDir('kernelspec-file-'), 'not-a-dir');
      fs.writeFileSync(file, '');
      assert.throws(() => installKernelspec({ prefix: file }), /cannot write the kernelspec to .*not-a-dir.*ENOTDIR/);
    });

    it('removes only a folder that holds a kernel.json', () => {
      const data = tempDir('kernelspec-data-');
      const stray = path.join(data, 'kernels', 'tslab');
      fs.mkdirSync(stray, { recursive: true });
      fs.writeFileSync(path.join(stray, 'notes.txt'), 'keep');
      assert.throws(() => uninstallKernelspec({ env: { JUPYTER_DATA_DIR: data } }), /no kernelspec 'tslab' to remove/);
      assert.ok(fs.existsSync(path.join(stray, 'notes.txt')));
    });
  });

  describe("a kernelspec of the same name that the installer did not write (a global tslab's)", () => {
    it('is neither replaced nor removed without --force; --force does both', () => {
      const data = tempDir('kernelspec-foreign-');
      const dir = path.join(data, 'kernels', 'tslab');
      fs.mkdirSync(dir, { recursive: true });
      const theirs = JSON.stringify({ argv: ['tslab', 'kernel', '--config-path', '{connection_file}'], display_name: 'TypeScript', language: 'typescript' });
      fs.writeFileSync(path.join(dir, 'kernel.json'), theirs);
      fs.writeFileSync(path.join(dir, 'logo-64x64.png'), 'their logo');
      const env = jupyterEnv(data);

      const install = runCli([], env);
      assert.equal(install.status, 1, install.stdout + install.stderr);
      assert.match(install.stderr, /kernel\.json is a kernelspec 'tslab' that this installer did not write \(display_name "TypeScript", argv: tslab kernel --config-path \{connection_file\}\); not replacing it\. Use --name .* or --force/);
      assert.equal(fs.readFileSync(path.join(dir, 'kernel.json'), 'utf8'), theirs, 'their kernel.json is untouched');

      const uninstall = runCli(['--uninstall'], env);
      assert.equal(uninstall.status, 1);
      assert.match(uninstall.stderr, /did not write .*not removing it/);
      assert.equal(fs.readFileSync(path.join(dir, 'logo-64x64.png'), 'utf8'), 'their logo', 'their kernelspec folder is untouched');

      const other = runCli(['--name', 'tslab-workbook'], env);
      assert.equal(other.status, 0, other.stderr);
      assert.equal(fs.readFileSync(path.join(dir, 'kernel.json'), 'utf8'), theirs, 'another name leaves theirs alone');

      const forced = runCli(['--force'], env);
      assert.equal(forced.status, 0, forced.stderr);
      assert.equal(readSpec(dir).argv[0], process.execPath);
      const again = runCli([], env);
      assert.equal(again.status, 0, `a kernelspec it wrote is replaced without --force:\n${again.stderr}`);
      const removed = runCli(['--uninstall'], env);
      assert.equal(removed.status, 0, removed.stderr);
      assert.equal(fs.existsSync(dir), false);
    });
  });

  describe('the CLI, with JUPYTER_DATA_DIR set to a fresh folder', function () {
    let dataDir: string;
    let kernelDir: string;
    let spec: KernelSpec;

    before(function () {
      dataDir = tempDir('kernelspec-jupyter-');
      kernelDir = path.join(dataDir, 'kernels', 'tslab');
      const res = runCli([], jupyterEnv(dataDir));
      assert.equal(res.status, 0, `install failed:\n${res.stdout}\n${res.stderr}`);
      assert.match(res.stdout, new RegExp(`installed kernelspec 'tslab'.* in ${kernelDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.match(res.stdout, /jupyter kernelspec list/);
      spec = readSpec(kernelDir);
    });

    it('writes kernel.json that starts tslab with an absolute, working node binary', () => {
      assert.equal(spec.display_name, DEFAULT_DISPLAY_NAME);
      assert.equal(spec.language, 'typescript');
      assert.equal(spec.interrupt_mode, 'signal');
      const [node, tslab, ...rest] = spec.argv;
      assert.deepEqual(rest, ['kernel', '--config-path', '{connection_file}']);
      assert.ok(path.isAbsolute(node) && fs.existsSync(node), `node binary ${node}`);
      fs.accessSync(node, fs.constants.X_OK);
      const version = spawnSync(node, ['--version'], { encoding: 'utf8', env: { PATH: '' } });
      assert.equal(version.stdout.trim(), process.version, 'argv[0] is the node that ran the installer');
      assert.ok(path.isAbsolute(tslab) && fs.existsSync(tslab), `tslab launcher ${tslab}`);
      assert.equal(fs.realpathSync(tslab), fs.realpathSync(path.join(root, 'node_modules', 'tslab', 'bin', 'tslab')));
    });

    it('prints usage for --help and rejects unknown options', () => {
      const help = runCli(['--help'], jupyterEnv(dataDir));
      assert.equal(help.status, 0);
      assert.match(help.stdout, /usage: npm run kernel:install/);
      const bad = runCli(['--bogus'], jupyterEnv(dataDir));
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /Unknown option '--bogus'/);
    });

    it('is listed by jupyter kernelspec list --json', function () {
      if (!hasJupyterClient()) {
        console.log(`      skipped: ${systemPython} cannot import jupyter_client (apt-get install jupyter-client)`);
        this.skip();
      }
      const specs = kernelspecList(jupyterEnv(dataDir));
      assert.ok(specs.tslab, `tslab not in ${Object.keys(specs).join(', ')}`);
      assert.equal(fs.realpathSync(specs.tslab.resource_dir), fs.realpathSync(kernelDir));
      assert.deepEqual(specs.tslab.spec.argv, spec.argv);
      assert.equal(specs.tslab.spec.display_name, DEFAULT_DISPLAY_NAME);
    });

    it('starts in jupyter_client with node not on PATH: runs a cell, survives an interrupt, shuts down', function () {
      if (!hasJupyterClient()) {
        console.log(`      skipped: ${systemPython} cannot import jupyter_client (apt-get install jupyter-client)`);
        this.skip();
      }
      this.timeout(240_000);
      const emptyBin = tempDir('kernelspec-path-');
      const res = python(CLIENT_SCRIPT, ['tslab'], jupyterEnv(dataDir, { PATH: emptyBin }), 200_000);
      const line = res.stdout.split('\n').find((l) => l.startsWith('REPORT '));
      assert.ok(line, `no report (status ${res.status}, signal ${res.signal}):\n${res.stdout}\n${res.stderr}`);
      const report = JSON.parse(line.slice('REPORT '.length));
      assert.equal(res.status, 0, res.stderr);

      assert.equal(report.node_on_path, null, `node must not be on PATH (${report.PATH})`);
      assert.deepEqual(report.spec_argv, spec.argv);
      assert.equal(report.interrupt_mode, 'signal');
      if (report.exe) {
        assert.equal(fs.realpathSync(report.exe), fs.realpathSync(spec.argv[0]), 'the kernel process is that node binary');
        assert.equal(report.cmdline[1], spec.argv[1]);
        assert.deepEqual(report.cmdline.slice(2, 4), ['kernel', '--config-path']);
        assert.match(report.cmdline[4], /^[^{].*\.json$/, `a real connection file in place of {connection_file}: ${JSON.stringify(report.cmdline)}`);
      }

      assert.deepEqual(report.answer, { status: 'ok', stdout: '42\n', stderr: '' });
      assert.notEqual(report.interrupted.status, 'ok', 'the interrupted cell does not succeed');
      assert.doesNotMatch(report.interrupted.stdout, /not interrupted/);
      assert.match(report.interrupted.stderr, /Interrupted/, 'tslab reports the interrupt');
      assert.ok(report.interrupt_seconds < 30, `interrupt took ${report.interrupt_seconds}s`);
      assert.equal(report.after_interrupt.status, 'ok');
      assert.equal(report.after_interrupt.stdout, 'still alive\n');
      assert.equal(report.alive_before_shutdown, true);
      assert.equal(report.alive_after_shutdown, false);
    });

    it('--uninstall removes it, and jupyter no longer lists it', function () {
      const res = runCli(['--uninstall'], jupyterEnv(dataDir));
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stdout, /removed kernelspec 'tslab'/);
      assert.equal(fs.existsSync(kernelDir), false);
      const again = runCli(['--uninstall'], jupyterEnv(dataDir));
      assert.equal(again.status, 1);
      assert.match(again.stderr, /no kernelspec 'tslab' to remove/);
      if (hasJupyterClient()) {
        const listed = kernelspecList(jupyterEnv(dataDir)).tslab;
        assert.ok(!listed || path.resolve(listed.resource_dir) !== path.resolve(kernelDir), `still listed at ${listed?.resource_dir}`);
      } else {
        console.log('      (jupyter kernelspec list check skipped: no jupyter_client)');
      }
    });
  });
});
