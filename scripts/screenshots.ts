// npm run screenshots -- [--run DIR] [--to DIR] [--notebook NAME]
// Pictures of a finished run as its readers see it, for the README: the run
// report opened from disk, and an executed notebook opened untrusted in
// JupyterLab (figures as their static images). Needs Chromium, and
// JupyterLab for the second picture.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { dismissDialogs, findJupyter, launchChromium, startJupyter } from './workbook/front_ends';
import { REPORT_FILE } from './workbook/report';

const USAGE = `usage: npm run screenshots -- [--run DIR] [--to DIR] [--notebook NAME]

  --run DIR        a finished run's folder (default out/workbook)
  --to DIR         where the PNGs go (default out/screenshots)
  --notebook NAME  the executed notebook to open in JupyterLab (default 04-instruction-tuning)`;

async function main(): Promise<number> {
  const root = path.resolve(__dirname, '..');
  const { values } = parseArgs({
    options: {
      run: { type: 'string', default: path.join(root, 'out', 'workbook') },
      to: { type: 'string', default: path.join(root, 'out', 'screenshots') },
      notebook: { type: 'string', default: '04-instruction-tuning' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const run = path.resolve(values.run);
  const report = path.join(run, REPORT_FILE);
  if (!fs.existsSync(report)) throw new Error(`${report}: not found; run npm run workbook first`);
  fs.mkdirSync(values.to, { recursive: true });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1500 } });
    await page.route(/^https?:/, (route) => route.abort());
    await page.goto(`file://${encodeURI(report)}`);
    const reportPng = path.join(values.to, 'report.png');
    await page.screenshot({ path: reportPng });
    console.log(`wrote ${reportPng}`);
    await page.close();

    const notebook = `${values.notebook.replace(/\.ipynb$/, '')}.ipynb`;
    const jupyter = findJupyter();
    if (!jupyter) {
      console.log('note: no jupyter with JupyterLab and Notebook found (.venv or PATH): no notebook screenshot');
      return 0;
    }
    if (!fs.existsSync(path.join(run, notebook))) throw new Error(`${path.join(run, notebook)}: not found`);
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'screenshots-'));
    const server = await startJupyter(jupyter, run, state);
    try {
      const lab = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await lab.goto(server.url(notebook, 'lab'));
      const figure = lab.locator('.jp-OutputArea-output img').first();
      await figure.waitFor({ timeout: 60_000 });
      await dismissDialogs(lab);
      // Put the first figure in the middle of the view; again once the cells around it have laid out.
      for (let i = 0; i < 3; i++) {
        await figure.evaluate((img) => img.scrollIntoView({ block: 'center' }));
        await lab.waitForTimeout(700);
      }
      const labPng = path.join(values.to, 'jupyterlab-untrusted.png');
      await lab.screenshot({ path: labPng });
      console.log(`wrote ${labPng}`);
    } finally {
      server.stop();
      fs.rmSync(state, { recursive: true, force: true });
    }
  } finally {
    await browser.close();
  }
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(`screenshots: ${(err as Error).message}`);
    process.exitCode = 2;
  },
);
