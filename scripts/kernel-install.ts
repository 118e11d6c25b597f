// npm run kernel:install -- [--name NAME] [--display-name TEXT] [--prefix DIR] [--uninstall] [--force]
// Registers the tslab TypeScript kernel with Jupyter by writing its kernelspec
// folder directly (no Python or jupyter needed to install it). The kernelspec
// starts the kernel with absolute paths to this node binary and to tslab, so
// front ends (JupyterLab, Notebook, VS Code) can start it whatever their PATH.
// A kernelspec of the same name that this installer did not write (a global
// tslab's, say) is neither replaced nor removed without --force.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

export const DEFAULT_NAME = 'tslab';
export const DEFAULT_DISPLAY_NAME = 'TypeScript (workbook)';

/** The key under kernel.json's `metadata` that marks a kernelspec as written by this installer. */
export const MARKER = 'instruction-tuning-workbook';

/** The fields of a kernel.json that this installer writes. */
export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: 'typescript';
  interrupt_mode: 'signal';
  metadata: { [MARKER]: { project: string } };
}

export interface KernelspecOptions {
  /** Kernel name: the folder name and what `kernel_name` selects (default `tslab`). */
  name?: string;
  /** Name shown in the front end's kernel picker. */
  displayName?: string;
  /** Install under PREFIX/share/jupyter/kernels instead of the user's data dir. */
  prefix?: string;
  /** Node binary the kernel runs with (default: the one running this script). */
  nodePath?: string;
  /** tslab's launcher script (default: resolved from this project's node_modules). */
  tslabPath?: string;
  /** Environment used to find the user's Jupyter data dir (default process.env). */
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  homedir?: string;
  /** Replace or remove a kernelspec of that name even if this installer did not write it. */
  force?: boolean;
}

export interface InstallResult {
  dir: string;
  spec: KernelSpec;
  /** Files written into `dir`, by base name. */
  files: string[];
}

/** The user's Jupyter data dir, by the rules of jupyter_core's `jupyter_data_dir()`. */
export function jupyterDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  homedir: string = os.homedir(),
): string {
  const p = platform === 'win32' ? path.win32 : path.posix;
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  if (platform === 'darwin') return p.join(homedir, 'Library', 'Jupyter');
  if (platform === 'win32') {
    if (env.APPDATA) return p.join(env.APPDATA, 'jupyter');
    // jupyter_core falls back to the config dir's "data" folder without APPDATA.
    return p.join(env.JUPYTER_CONFIG_DIR || p.join(homedir, '.jupyter'), 'data');
  }
  return p.join(env.XDG_DATA_HOME || p.join(homedir, '.local', 'share'), 'jupyter');
}

/** The folder the kernelspec goes to: the user's data dir, or PREFIX/share/jupyter. */
export function kernelspecDir(options: KernelspecOptions = {}): string {
  const name = checkName(options.name ?? DEFAULT_NAME);
  const platform = options.platform ?? process.platform;
  const p = platform === 'win32' ? path.win32 : path.posix;
  const base = options.prefix
    ? p.join(p.resolve(options.prefix), 'share', 'jupyter')
    : jupyterDataDir(options.env ?? process.env, platform, options.homedir ?? os.homedir());
  return p.join(base, 'kernels', name);
}

/** Jupyter accepts kernel names made of ASCII letters, digits, '.', '_' and '-'. */
function checkName(name: string): string {
  if (!/^[a-zA-Z0-9._-]+$/.test(name) || name === '.' || name === '..') {
    throw new Error(`invalid kernel name '${name}': use only letters, digits, '.', '_' and '-'`);
  }
  return name;
}

function resolveTslab(): string {
  try {
    return require.resolve('tslab/bin/tslab');
  } catch {
    throw new Error("cannot find tslab's launcher (tslab/bin/tslab): run 'npm install' in this project first");
  }
}

/** Logo files a kernelspec folder may hold, as Jupyter names them. */
const LOGO_NAMES = ['logo-32x32.png', 'logo-64x64.png', 'logo-svg.svg'];

/** Logos shipped in the tslab package, if any (tslab 1.0.22 ships none). */
function tslabLogos(tslabPath: string): string[] {
  const pkgDir = path.resolve(path.dirname(tslabPath), '..');
  const found: string[] = [];
  for (const name of LOGO_NAMES) {
    const candidate = [path.join(pkgDir, 'python', name), path.join(pkgDir, name)].find((f) => fs.existsSync(f));
    if (candidate) found.push(candidate);
  }
  return found;
}

export function buildKernelSpec(nodePath: string, tslabPath: string, displayName: string): KernelSpec {
  return {
    argv: [nodePath, tslabPath, 'kernel', '--config-path', '{connection_file}'],
    display_name: displayName,
    language: 'typescript',
    interrupt_mode: 'signal',
    metadata: { [MARKER]: { project: path.resolve(__dirname, '..') } },
  };
}

/**
 * Why the kernelspec in `dir` must not be replaced or removed without
 * --force, or null when there is none or this installer wrote it (it carries
 * the marker, or, from before the marker, starts this project's tslab).
 */
function foreignKernelspec(dir: string, name: string): string | null {
  const file = path.join(dir, 'kernel.json');
  if (!fs.existsSync(file)) return null;
  let spec: Partial<KernelSpec> & { metadata?: Record<string, unknown> };
  try {
    spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    return `${file} is not a kernelspec this installer wrote (unreadable: ${(err as Error).message})`;
  }
  if (spec.metadata && MARKER in spec.metadata) return null;
  let ownTslab: string | null = null;
  try {
    ownTslab = fs.realpathSync(require.resolve('tslab/bin/tslab'));
  } catch {
    /* no tslab installed here: nothing can match */
  }
  const launcher = Array.isArray(spec.argv) ? spec.argv[1] : undefined;
  if (ownTslab && typeof launcher === 'string' && fs.existsSync(launcher) && fs.realpathSync(launcher) === ownTslab) return null;
  const argv = Array.isArray(spec.argv) ? spec.argv.join(' ') : JSON.stringify(spec.argv);
  return `${file} is a kernelspec '${name}' that this installer did not write (display_name ${JSON.stringify(spec.display_name)}, argv: ${argv})`;
}

/**
 * Writes `<dir>/kernel.json` (and any tslab logos), replacing a kernelspec of
 * that name that this installer wrote; another one only with `force`.
 */
export function installKernelspec(options: KernelspecOptions = {}): InstallResult {
  const dir = kernelspecDir(options);
  const foreign = foreignKernelspec(dir, options.name ?? DEFAULT_NAME);
  if (foreign && !options.force) {
    throw new Error(`${foreign}; not replacing it. Use --name to install under another name, or --force to replace it`);
  }
  const nodePath = path.resolve(options.nodePath ?? process.execPath);
  const tslabPath = path.resolve(options.tslabPath ?? resolveTslab());
  if (!fs.existsSync(nodePath)) throw new Error(`node binary not found: ${nodePath}`);
  if (!fs.existsSync(tslabPath)) throw new Error(`tslab launcher not found: ${tslabPath}`);
  const spec = buildKernelSpec(nodePath, tslabPath, options.displayName ?? DEFAULT_DISPLAY_NAME);

  try {
    fs.mkdirSync(dir, { recursive: true });
    const files = ['kernel.json'];
    const tmp = path.join(dir, `.kernel.json.${process.pid}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(spec, null, 2) + '\n');
    fs.renameSync(tmp, path.join(dir, 'kernel.json'));
    for (const logo of tslabLogos(tslabPath)) {
      fs.copyFileSync(logo, path.join(dir, path.basename(logo)));
      files.push(path.basename(logo));
    }
    return { dir, spec, files };
  } catch (err) {
    throw new Error(`cannot write the kernelspec to ${dir}: ${(err as Error).message}`);
  }
}

/**
 * Removes the kernelspec folder; returns its path. Refuses a folder without
 * kernel.json, and one this installer did not write unless `force`.
 */
export function uninstallKernelspec(options: KernelspecOptions = {}): string {
  const dir = kernelspecDir(options);
  if (!fs.existsSync(path.join(dir, 'kernel.json'))) {
    throw new Error(`no kernelspec '${options.name ?? DEFAULT_NAME}' to remove: ${path.join(dir, 'kernel.json')} does not exist`);
  }
  const foreign = foreignKernelspec(dir, options.name ?? DEFAULT_NAME);
  if (foreign && !options.force) throw new Error(`${foreign}; not removing it (--force removes it anyway)`);
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    throw new Error(`cannot remove ${dir}: ${(err as Error).message}`);
  }
  return dir;
}

const USAGE = `usage: npm run kernel:install -- [options]

Registers the tslab TypeScript kernel for the current user, so that JupyterLab,
Notebook and VS Code list it and can start it. The kernelspec names this node
binary and this project's tslab by absolute path: neither needs to be on PATH.
Run it again after moving the project or changing the node installation.

options:
  --name NAME           kernel name (default ${DEFAULT_NAME})
  --display-name TEXT   name shown in the kernel picker (default '${DEFAULT_DISPLAY_NAME}')
  --prefix DIR          install to DIR/share/jupyter/kernels/NAME (e.g. a venv's
                        sys.prefix) instead of the user's Jupyter data dir
  --uninstall           remove the kernelspec instead
  --force               replace (or with --uninstall, remove) a kernelspec of
                        that name that this installer did not write
  -h, --help            this text

The user's Jupyter data dir is $JUPYTER_DATA_DIR if set, else
~/.local/share/jupyter (or $XDG_DATA_HOME/jupyter) on Linux,
~/Library/Jupyter on macOS, %APPDATA%\\jupyter on Windows.`;

function main(argv: string[]): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        name: { type: 'string', default: DEFAULT_NAME },
        'display-name': { type: 'string', default: DEFAULT_DISPLAY_NAME },
        prefix: { type: 'string' },
        uninstall: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    console.error(`kernel-install: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const options: KernelspecOptions = { name: values.name, displayName: values['display-name'], prefix: values.prefix, force: values.force };
  if (values.uninstall) {
    const dir = uninstallKernelspec(options);
    console.log(`removed kernelspec '${values.name}' (${dir})`);
    return 0;
  }
  const { dir, spec, files } = installKernelspec(options);
  console.log(`installed kernelspec '${values.name}' ("${spec.display_name}") in ${dir}`);
  console.log(`  wrote ${files.join(', ')}`);
  console.log(`  node:  ${spec.argv[0]}`);
  console.log(`  tslab: ${spec.argv[1]}`);
  console.log('');
  console.log(`check:  jupyter kernelspec list   (should list '${values.name}' at ${dir})`);
  if (values.prefix) {
    console.log(`        a Jupyter running with sys.prefix ${path.resolve(values.prefix)}, or with that share/jupyter in JUPYTER_PATH, finds it`);
  }
  console.log(`then pick "${spec.display_name}" as the kernel in JupyterLab, Notebook or VS Code (reload the window if it was open).`);
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`kernel-install: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
