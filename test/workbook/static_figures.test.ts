// Static images for executed notebooks, drawn by plotly.js in Debian's
// Chromium: the rewritten output shows the image where scripts are stripped
// (an untrusted notebook) and the interactive chart where they run, and
// plotly.js itself no longer travels in the notebook.
import * as assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright-core';
import { plotlyBundle, plotlyLibraryBundle } from '../../kernel-lib/viz';
import type { Notebook } from '../../scripts/workbook/notebook';
import { addStaticFigures, chromiumImager, findChromium, type FigureImager } from '../../scripts/workbook/static_figures';

const chromiumPath = findChromium();

function pngSize(base64: string): { width: number; height: number } {
  const b = Buffer.from(base64, 'base64');
  assert.equal(b.subarray(1, 4).toString('latin1'), 'PNG', 'PNG signature');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

function notebookWithFigures(): Notebook {
  const figure = { data: [{ type: 'scatter', mode: 'lines', name: 'loss', x: [1, 2, 3], y: [3, 2, 1.5] }], layout: { title: { text: 'loss <curve>' }, height: 300 } };
  const first = plotlyBundle(figure, true); // the first figure of a session carries plotly.js
  const bars = plotlyBundle({ data: [{ type: 'bar', x: ['a', 'b'], y: [1, 2] }] }, false);
  return {
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      { cell_type: 'code', id: 'a', metadata: {}, execution_count: 1, source: 'showPlot(...)', outputs: [{ output_type: 'display_data', data: first, metadata: {} }] },
      { cell_type: 'code', id: 'b', metadata: {}, execution_count: 2, source: 'live', outputs: [
        { output_type: 'stream', name: 'stdout', text: 'step 1\n' },
        { output_type: 'display_data', data: plotlyLibraryBundleFresh(), metadata: {} },
        { output_type: 'display_data', data: bars, metadata: {} },
      ] },
    ],
  } as Notebook;
}

// plotlyLibraryBundle sends the library once per session; the test wants it every time.
function plotlyLibraryBundleFresh(): Record<string, unknown> {
  const b = plotlyLibraryBundle();
  if (b['text/html']) return b;
  return { 'text/html': (plotlyBundle({ data: [] }, true)['text/html'] as string).split('\n<div')[0], 'text/plain': '' };
}

(chromiumPath ? describe : describe.skip)(`static figures in Chromium${chromiumPath ? '' : ' (SKIPPED: no Chromium; install Debian\'s chromium or set CHROMIUM_PATH)'}`, function () {
  this.timeout(120_000);
  let imager: FigureImager;
  let browser: Browser;
  before(async () => {
    imager = await chromiumImager(chromiumPath!);
    browser = await chromium.launch({ executablePath: chromiumPath!, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  });
  after(async () => {
    await imager?.close();
    await browser?.close();
  });

  it('draws each figure as a PNG of the asked size, drops plotly.js, and keeps other outputs', async () => {
    const nb = notebookWithFigures();
    const before = JSON.stringify(nb).length;
    assert.ok(before > 4_000_000, 'the library is inlined before');
    const result = await addStaticFigures(nb, imager, 640);
    assert.deepEqual(result, { figures: 2, librariesDropped: 1 });
    const after = JSON.stringify(nb);
    assert.ok(after.length < 200_000, `notebook is ${after.length} characters`);
    assert.ok(!after.includes('data-workbook-library'), 'no plotly.js left');
    const [a, b] = nb.cells.map((c) => (c.cell_type === 'code' ? c.outputs : []));
    assert.equal(a.length, 1);
    assert.deepEqual(b.map((o) => o.output_type), ['stream', 'display_data']);
    const first = (a[0] as { data: Record<string, unknown> }).data;
    assert.deepEqual(pngSize(first['image/png'] as string), { width: 640, height: 300 });
    assert.deepEqual(pngSize((b[1] as { data: Record<string, unknown> }).data['image/png'] as string), { width: 640, height: 400 });
    assert.ok('application/vnd.plotly.v1+json' in first, 'the figure JSON stays for front ends with a Plotly renderer');
    assert.match(first['text/html'] as string, /^<div id="plotly-[^"]+"[^>]*><img src="data:image\/png;base64,[^"]+" alt="loss &lt;curve>"/);
  });

  it('shows the image where scripts are stripped, and the interactive chart where plotly.js is loaded', async () => {
    const nb = notebookWithFigures();
    await addStaticFigures(nb, imager, 640);
    const html = (nb.cells[0] as { outputs: { data: Record<string, string> }[] }).outputs[0].data['text/html'];
    // Untrusted: no scripts run at all.
    const untrusted = await browser.newContext({ javaScriptEnabled: false });
    const page = await untrusted.newPage();
    await page.setContent(`<!doctype html><body>${html}</body>`);
    const shown = await page.locator('img').evaluate((img: HTMLImageElement) => ({ w: img.naturalWidth, h: img.naturalHeight }));
    assert.deepEqual(shown, { w: 640, h: 300 });
    await untrusted.close();
    // Trusted, with plotly.js on the page (a live session): the script replaces the image with the chart.
    const trusted = await browser.newPage();
    await trusted.setContent('<!doctype html><body></body>');
    await trusted.addScriptTag({ path: require.resolve('plotly.js-dist-min') });
    await trusted.evaluate((h) => {
      const div = document.createElement('div');
      div.innerHTML = h;
      document.body.appendChild(div);
      for (const old of Array.from(div.querySelectorAll('script'))) {
        const s = document.createElement('script');
        s.textContent = old.textContent;
        old.replaceWith(s); // innerHTML does not run scripts; a new element does
      }
    }, html);
    assert.equal(await trusted.locator('svg.main-svg').count() > 0, true, 'plotly drew an SVG chart');
    assert.equal(await trusted.locator('img').count(), 0, 'the image gave way to the chart');
    assert.equal(await trusted.locator('.scatterlayer .trace').count(), 1, 'one trace');
    await trusted.close();
  });
});
