// An executed notebook as its users open it later: untrusted, in JupyterLab
// 4 and Notebook 7, in headless Chromium. Every figure must show (as its
// static image: scripts are stripped) and the token view keep its colours.
// Needs Chromium and a Python with jupyterlab and notebook (the project's
// .venv, or on PATH); skipped, visibly, where either is missing.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { plotlyBundle, tokenViewBundle } from '../../kernel-lib/viz';
import type { Notebook } from '../../scripts/workbook/notebook';
import { addStaticFigures, chromiumImager, findChromium } from '../../scripts/workbook/static_figures';
import { root, tempDir } from '../workbook/helpers';

const chromiumPath = findChromium();
function findJupyter(): string | null {
  for (const j of [process.env.WORKBOOK_JUPYTER, path.join(root, '.venv', 'bin', 'jupyter'), 'jupyter']) {
    if (!j) continue;
    const r = spawnSync(j, ['lab', '--version'], { encoding: 'utf8' });
    const n = spawnSync(j, ['notebook', '--version'], { encoding: 'utf8' });
    if (r.status === 0 && n.status === 0) return j;
  }
  return null;
}
const jupyter = findJupyter();
const missing = [chromiumPath ? '' : 'Chromium', jupyter ? '' : 'jupyterlab/notebook'].filter(Boolean).join(' and ');
export const screenshotsDir = path.join(root, 'out', 'screenshots');

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

async function executedNotebook(dir: string): Promise<string> {
  const figure = { data: [{ type: 'scatter', mode: 'lines', name: 'loss', x: [1, 2, 3, 4], y: [3, 2, 1.6, 1.4] }], layout: { title: { text: 'loss' }, height: 320 } };
  const tokens = tokenViewBundle({
    title: 'one conversation',
    tokens: [
      { id: 1, text: '<|im_start|>', trainable: false, special: true },
      { id: 2, text: 'Hi', trainable: false, special: false },
      { id: 3, text: ' there', trainable: true, special: false },
      { id: 4, text: '<|im_end|>', trainable: true, special: true },
    ],
  });
  const nb: Notebook = {
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
    cells: [
      { cell_type: 'code', id: 'fig', metadata: {}, execution_count: 1, source: 'showPlot(figure)', outputs: [{ output_type: 'display_data', data: plotlyBundle(figure, true), metadata: {} }] },
      { cell_type: 'code', id: 'tok', metadata: {}, execution_count: 2, source: 'showTokens(view)', outputs: [{ output_type: 'display_data', data: tokens, metadata: {} }] },
    ],
  } as Notebook;
  const imager = await chromiumImager(chromiumPath!);
  try {
    await addStaticFigures(nb, imager);
  } finally {
    await imager.close();
  }
  const file = path.join(dir, 'executed.ipynb');
  fs.writeFileSync(file, JSON.stringify(nb, null, 1));
  return file;
}

(missing ? describe.skip : describe)(`an executed notebook in JupyterLab and Notebook 7, untrusted${missing ? ` (SKIPPED: no ${missing})` : ''}`, function () {
  this.timeout(180_000);
  let server: ChildProcess;
  let browser: Browser;
  let base: string;
  const token = 'workbook-test';

  before(async () => {
    const dir = tempDir('jlab-');
    await executedNotebook(dir);
    const port = await freePort();
    server = spawn(jupyter!, ['lab', '--no-browser', `--port=${port}`, '--ip=127.0.0.1', `--IdentityProvider.token=${token}`, `--ServerApp.root_dir=${dir}`, '--ServerApp.disable_check_xsrf=True', '--allow-root'], {
      env: { ...process.env, JUPYTER_CONFIG_DIR: path.join(dir, '.config'), JUPYTER_DATA_DIR: path.join(dir, '.data'), JUPYTER_RUNTIME_DIR: path.join(dir, '.runtime') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 120; i++) {
      try {
        if ((await fetch(`${base}/api/status?token=${token}`)).ok) break;
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    browser = await chromium.launch({ executablePath: chromiumPath!, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    fs.mkdirSync(screenshotsDir, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
  });

  for (const [frontEnd, url] of [['jupyterlab', '/lab/tree/executed.ipynb'], ['notebook7', '/notebooks/executed.ipynb']] as const) {
    it(`${frontEnd}: shows the figure as its image and keeps the token colours`, async () => {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${base}${url}?token=${token}`);
      const img = page.locator('.jp-OutputArea-output img').first();
      await img.waitFor({ timeout: 60_000 });
      await page.waitForFunction(() => {
        const i = document.querySelector('.jp-OutputArea-output img') as HTMLImageElement | null;
        return !!i && i.complete && i.naturalWidth > 0;
      });
      const size = await img.evaluate((i: HTMLImageElement) => ({ w: i.naturalWidth, h: i.naturalHeight, shown: i.getBoundingClientRect().height }));
      assert.equal(size.h, 320);
      assert.ok(size.shown > 100, `image shown ${size.shown}px high`);
      const trained = page.locator('.jp-OutputArea-output span.tv-t.tr').first();
      assert.equal(await trained.evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(201, 242, 201)');
      const special = page.locator('.jp-OutputArea-output span.tv-t.sp').first();
      assert.equal(await special.evaluate((e) => getComputedStyle(e).fontWeight), '700');
      // The front end asks which kernel to start (none is installed here): answer, so the screenshot shows the notebook.
      await page.getByRole('button', { name: 'No Kernel' }).click({ timeout: 5_000 }).catch(() => undefined);
      await page.screenshot({ path: path.join(screenshotsDir, `${frontEnd}-untrusted.png`) });
      assert.deepEqual(errors.filter((e) => /plotly|workbook/i.test(e)), []);
      await page.close();
    });
  }
});
