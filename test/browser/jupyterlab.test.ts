// An executed notebook as its users open it later: untrusted, in JupyterLab
// 4 and Notebook 7, in headless Chromium. Every figure must show (as its
// static image: scripts are stripped) and the token view keep its colours.
// Needs Chromium and a Python with jupyterlab and notebook (the project's
// .venv, or on PATH); skipped, visibly, where either is missing.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { dismissDialogs, findJupyter, launchChromium, startJupyter, type JupyterServer } from '../../scripts/workbook/front_ends';
import { runWorkbook } from '../../scripts/workbook/run';
import { findChromium } from '../../scripts/workbook/static_figures';
import { root, tempDir } from '../workbook/helpers';

const fixtures = path.join(root, 'test', 'fixtures', 'notebooks');
const chromiumPath = findChromium();
const jupyter = findJupyter();
const missing = [chromiumPath ? '' : 'Chromium', jupyter ? '' : 'jupyterlab/notebook'].filter(Boolean).join(' and ');
const screenshotsDir = path.join(root, 'out', 'screenshots');

/** A fixture notebook executed by the runner: two charts (static images added) and a token view. */
async function executedNotebook(dir: string): Promise<string> {
  const m = await runWorkbook({ notebooksDir: fixtures, outDir: dir, select: ['charts'], mode: 'quick', seed: 0, parameters: {}, cellTimeoutSeconds: 60, log: () => {}, bandsFile: null });
  assert.equal(m.notebooks[0].status, 'ok', JSON.stringify(m.notebooks[0].failure));
  assert.equal(m.notebooks[0].images, 2);
  const file = path.join(dir, 'executed.ipynb');
  fs.renameSync(m.notebooks[0].output, file);
  return file;
}

(missing ? describe.skip : describe)(`an executed notebook in JupyterLab and Notebook 7, untrusted${missing ? ` (SKIPPED: no ${missing})` : ''}`, function () {
  this.timeout(180_000);
  let server: JupyterServer;
  let browser: Browser;
  let executed: string;
  before(async () => {
    const dir = tempDir('jlab-');
    executed = await executedNotebook(dir);
    server = await startJupyter(jupyter!, dir, dir);
    browser = await launchChromium();
    fs.mkdirSync(screenshotsDir, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    server?.stop();
  });

  for (const [frontEnd, kind] of [['jupyterlab', 'lab'], ['notebook7', 'notebook']] as const) {
    it(`${frontEnd}: shows the figure as its image and keeps the token colours`, async () => {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(server.url('executed.ipynb', kind));
      const img = page.locator('.jp-OutputArea-output img').first();
      await img.waitFor({ timeout: 60_000 });
      await page.waitForFunction(() => {
        const i = document.querySelector('.jp-OutputArea-output img') as HTMLImageElement | null;
        return !!i && i.complete && i.naturalWidth > 0;
      });
      const size = await img.evaluate((i: HTMLImageElement) => ({ w: i.naturalWidth, h: i.naturalHeight, shown: i.getBoundingClientRect().height }));
      assert.equal(size.h, 320);
      assert.ok(size.shown > 100, `image shown ${size.shown}px high`);
      const images = await page.$$eval('.jp-OutputArea-output img', (all) => all.map((i) => (i as HTMLImageElement).alt));
      assert.deepEqual(images, ['Training loss', 'Accuracy <by stage>'], 'every figure shows as its image');
      const trained = page.locator('.jp-OutputArea-output span.tv-t.tr').first();
      assert.equal(await trained.evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(201, 242, 201)');
      const special = page.locator('.jp-OutputArea-output span.tv-t.sp').first();
      assert.equal(await special.evaluate((e) => getComputedStyle(e).fontWeight), '700');
      // Markdown renders too (the headings the figures sit under).
      await page.locator('.jp-MarkdownOutput h2', { hasText: 'Loss curve' }).waitFor({ timeout: 30_000 });
      // The front end asks which kernel to start (none is installed here): answer, so the screenshot shows the notebook.
      await dismissDialogs(page);
      await page.screenshot({ path: path.join(screenshotsDir, `${frontEnd}-untrusted.png`) });
      assert.deepEqual(errors.filter((e) => /plotly|workbook/i.test(e)), []);
      await page.close();
    });
  }

  it('an nbconvert HTML export, opened from disk offline: every figure shows, no script error', async () => {
    const dir = path.dirname(executed);
    const r = spawnSync(jupyter!, ['nbconvert', '--to', 'html', '--output-dir', dir, executed], { encoding: 'utf8', env: { ...process.env, JUPYTER_CONFIG_DIR: path.join(dir, '.config'), JUPYTER_DATA_DIR: path.join(dir, '.data') } });
    assert.equal(r.status, 0, r.stderr);
    const html = path.join(dir, 'executed.html');
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Offline: whatever the export's template fetches from a CDN is refused.
    await page.route(/^https?:/, (route) => route.abort());
    await page.goto(`file://${html}`);
    const images = await page.$$eval('.jp-OutputArea-output img', (all) => all.map((i) => ({ alt: (i as HTMLImageElement).alt, ok: (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0 })));
    assert.deepEqual(images, [{ alt: 'Training loss', ok: true }, { alt: 'Accuracy <by stage>', ok: true }]);
    const special = page.locator('.jp-OutputArea-output span.tv-t.sp').first();
    assert.equal(await special.evaluate((e) => getComputedStyle(e).fontWeight), '700');
    await page.screenshot({ path: path.join(screenshotsDir, 'nbconvert-export.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
