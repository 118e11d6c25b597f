// The run report: a real run of a fixture notebook through the tslab kernel
// writes report.html beside the executed notebook; its tables hold the
// figures against their bands, its links reach the notebook, and, opened from
// disk in headless Chromium with every network request refused, each chart's
// image decodes and no script error or request happens.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { launchChromium } from '../../scripts/workbook/front_ends';
import { REPORT_FILE } from '../../scripts/workbook/report';
import { runWorkbook, type Manifest } from '../../scripts/workbook/run';
import { findChromium } from '../../scripts/workbook/static_figures';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, 'test', 'fixtures', 'notebooks');
const chromiumPath = findChromium();
const screenshotsDir = path.join(root, 'out', 'screenshots');

describe('workbook: the run report', function () {
  this.timeout(180_000);
  let out: string;
  let manifest: Manifest;
  let html: string;

  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'workbook-report-'));
    out = path.join(dir, 'out with space');
    const bands = path.join(dir, 'bands.json');
    const band = (quick: [number, number]) => ({ quick, why: 'test' });
    fs.writeFileSync(bands, JSON.stringify({ notebooks: { charts: { 'sft/exact_match': band([0.4, 0.6]), 'dpo/exact_match': band([0, 0.5]) } } }));
    manifest = await runWorkbook({ notebooksDir: fixtures, outDir: out, select: ['charts'], mode: 'quick', seed: 0, parameters: {}, cellTimeoutSeconds: 60, log: () => {}, bandsFile: bands });
    html = fs.readFileSync(path.join(out, REPORT_FILE), 'utf8');
  });

  it('holds the run, the figures against their bands by stage, and links to the executed notebook', () => {
    const nb = manifest.notebooks[0];
    assert.equal(nb.status, 'failed', 'dpo/exact_match 0.9 is outside [0, 0.5]');
    assert.match(html, /<title>Workbook run .* — failed<\/title>/);
    assert.match(html, /1 of 1 notebooks failed/);
    assert.match(html, new RegExp(`<code>${manifest.git.commit!.slice(0, 12)}`));
    // The pivot: a row per stage (sft, dpo), a column per headline metric (exact_match, kl);
    // neither the breakdown sft/exact_match/arithmetic nor dpo/sampling_share is in it.
    const pivot = html.slice(html.indexOf('<table class="pivot">'), html.indexOf('</table>', html.indexOf('<table class="pivot">')));
    assert.match(pivot, /<tr><th>notebook<\/th><th>stage<\/th><th>exact_match<\/th><th>kl<\/th><\/tr>/);
    assert.doesNotMatch(pivot, /arithmetic|sampling_share/);
    assert.match(pivot, /<td>sft<\/td><td class="num pass"[^>]*>0\.5<span class="band">\[0\.4, 0\.6\]<\/span><\/td><td><\/td>/);
    assert.match(pivot, /<td>dpo<\/td><td class="num fail"[^>]*>0\.9<span class="band">\[0, 0\.5\]<\/span><\/td><td class="num">0\.3<\/td>/);
    assert.match(html, /<td><code>dpo\/exact_match<\/code><\/td><td class="num">0\.9<\/td><td>\[0, 0\.5\]<\/td><td class="fail">FAIL<\/td><td>7<\/td>/);
    // The link is relative and encoded, so the folder can be moved or kept as a CI artifact.
    assert.match(html, /<a href="charts\.ipynb">charts<\/a>/);
    assert.ok(fs.existsSync(path.join(out, 'charts.ipynb')));
    assert.doesNotMatch(html, /<script/i, 'the report runs no script');
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'the report fetches nothing');
  });

  it('shows every chart the notebook drew, titled and placed under its heading', function () {
    if (!chromiumPath) this.skip();
    const images = [...html.matchAll(/<figure><img src="data:image\/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"><figcaption>([^<]*)<br>([^<]*)<\/figcaption>/g)];
    assert.deepEqual(
      images.map((m) => [m[2], m[4]]),
      [
        ['Training loss', 'cell 5 · Loss curve'],
        ['Accuracy &lt;by stage&gt;', 'cell 7 · Accuracy by stage'],
      ],
    );
    for (const m of images) assert.equal(Buffer.from(m[1], 'base64').subarray(1, 4).toString('latin1'), 'PNG');
  });

  (chromiumPath ? it : it.skip)(`renders offline in Chromium: images decoded, no request, no error${chromiumPath ? '' : ' (SKIPPED: no Chromium; set CHROMIUM_PATH or install Debian\'s chromium)'}`, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const file = `file://${path.join(out, REPORT_FILE)}`;
      const requests: string[] = [];
      const errors: string[] = [];
      await page.route('**/*', (route) => {
        const url = route.request().url();
        if (url === encodeURI(file)) return route.continue();
        requests.push(url);
        return route.abort();
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      await page.goto(encodeURI(file));
      const decoded = await page.$$eval('figure img', (imgs) => imgs.map((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0));
      assert.deepEqual(decoded, [true, true]);
      assert.deepEqual(requests, []);
      assert.deepEqual(errors, []);
      const failCells = await page.$$eval('td.fail', (tds) => tds.map((t) => getComputedStyle(t).backgroundColor));
      assert.ok(failCells.length >= 2 && failCells.every((c) => c === 'rgb(255, 235, 233)'), JSON.stringify(failCells));
      fs.mkdirSync(screenshotsDir, { recursive: true });
      await page.screenshot({ path: path.join(screenshotsDir, 'report-fixture.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
