// Real front ends for looking at what the runner wrote: a JupyterLab server
// (JupyterLab 4 and Notebook 7 from the project's .venv, or on PATH) over a
// folder, and headless Chromium. Used by the browser tests and by
// `npm run screenshots`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { findChromium } from './static_figures';

const root = path.resolve(__dirname, '..', '..');

/** A `jupyter` that has both JupyterLab and Notebook: $WORKBOOK_JUPYTER, the project's .venv, then PATH; null when none. */
export function findJupyter(): string | null {
  for (const j of [process.env.WORKBOOK_JUPYTER, path.join(root, '.venv', 'bin', 'jupyter'), 'jupyter']) {
    if (!j) continue;
    const lab = spawnSync(j, ['lab', '--version'], { encoding: 'utf8' });
    const nb = spawnSync(j, ['notebook', '--version'], { encoding: 'utf8' });
    if (lab.status === 0 && nb.status === 0) return j;
  }
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface JupyterServer {
  /** http://127.0.0.1:PORT */
  base: string;
  token: string;
  /** The URL of a file of the served folder in a front end ('lab' or 'notebook'). */
  url(file: string, frontEnd: 'lab' | 'notebook'): string;
  stop(): void;
}

/**
 * Serves `dir` with JupyterLab (its own config, data and runtime folders
 * under `stateDir`, so nothing of the user's settings or kernels is used),
 * and waits until it answers.
 */
export async function startJupyter(jupyter: string, dir: string, stateDir: string): Promise<JupyterServer> {
  const token = 'workbook';
  const port = await freePort();
  const server: ChildProcess = spawn(jupyter, ['lab', '--no-browser', `--port=${port}`, '--ip=127.0.0.1', `--IdentityProvider.token=${token}`, `--ServerApp.root_dir=${dir}`, '--ServerApp.disable_check_xsrf=True', '--allow-root'], {
    env: { ...process.env, JUPYTER_CONFIG_DIR: path.join(stateDir, '.config'), JUPYTER_DATA_DIR: path.join(stateDir, '.data'), JUPYTER_RUNTIME_DIR: path.join(stateDir, '.runtime') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/api/status?token=${token}`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (i === 120 || server.exitCode !== null) {
      server.kill('SIGTERM');
      throw new Error(`${jupyter} lab did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    base,
    token,
    url: (file, frontEnd) => `${base}/${frontEnd === 'lab' ? 'lab/tree' : 'notebooks'}/${file.split('/').map(encodeURIComponent).join('/')}?token=${token}`,
    stop: () => server.kill('SIGTERM'),
  };
}

/** Headless Chromium with the flags a machine without display or network needs. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error('no Chromium found (set CHROMIUM_PATH, or install Debian\'s chromium)');
  return chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
}

/**
 * Answers what a freshly opened notebook asks in JupyterLab: which kernel to
 * start (none: the page shows the saved outputs) and whether to fetch news.
 */
export async function dismissDialogs(page: Page): Promise<void> {
  const noKernel = page.locator('.jp-Dialog-button', { hasText: 'No Kernel' });
  await noKernel.click({ timeout: 10_000 }).catch(() => undefined);
  await noKernel.waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
  const news = page.locator('.jp-toast-button', { hasText: /^No$/ });
  await news.click({ timeout: 2_000 }).catch(() => undefined);
  await news.waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
}
