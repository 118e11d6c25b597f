// Static images for the figures of an executed notebook. A notebook executed
// here opens untrusted everywhere else: front ends strip its scripts, so a
// Plotly chart drawn by a script is blank space. JupyterLab also ranks
// sanitised text/html above image/png for untrusted outputs, so adding a PNG
// beside the HTML is not enough. Each figure output is therefore rewritten as
// one HTML output whose markup first holds the PNG (an <img> with a data URI,
// which survives sanitising) and whose script then draws the interactive chart
// over it where scripts may run and plotly.js is loaded; plus the PNG alone
// for viewers that show no HTML. plotly.js itself (4.8 MB) is dropped from the
// notebook: without it the image stays, and a re-run cell brings it back.
//
// The PNGs are drawn by plotly.js in a real browser engine (Debian's chromium,
// driven by playwright-core), the same code that draws the live chart.
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { LIBRARY_ATTRIBUTE } from '../../kernel-lib/viz/plotly';
import type { MimeBundle, Notebook, Output } from './notebook';

const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
// The script element kernel-lib/viz marks as carrying plotly.js.
const escapeRegExp = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const LIBRARY_SCRIPT = new RegExp(`<script\\b[^>]*${escapeRegExp(LIBRARY_ATTRIBUTE)}[^>]*>[\\s\\S]*?</script>\\s*`);
const LIBRARY_SCRIPTS = new RegExp(LIBRARY_SCRIPT.source, 'g');

export interface PlotlyJson {
  data: unknown[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** Turns a Plotly figure into PNG bytes (base64). */
export interface FigureImager {
  png(figure: PlotlyJson, size: { width: number; height: number }): Promise<string>;
  close(): Promise<void>;
}

/** Where a Chromium executable is: $CHROMIUM_PATH, else the usual Debian and Ubuntu paths; null when none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((c): c is string => !!c && fs.existsSync(c)) ?? null;
}

// Flags for a machine with no display and no network: without the
// background-networking ones Chromium keeps dialling out at every start.
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];

/** A headless Chromium page with plotly.js loaded, drawing PNGs with Plotly.toImage. */
export async function chromiumImager(executablePath: string): Promise<FigureImager> {
  const { chromium } = await import('playwright-core');
  const browser: Browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true });
  try {
    const page: Page = await browser.newPage();
    await page.setContent('<!doctype html><html><body><div id="plot"></div></body></html>');
    await page.addScriptTag({ path: require.resolve('plotly.js-dist-min') });
    return {
      async png(figure, size) {
        const url = await page.evaluate(
          async ({ fig, w, h }) => {
            const Plotly = (window as unknown as { Plotly: { toImage(f: unknown, o: unknown): Promise<string> } }).Plotly;
            return Plotly.toImage({ data: fig.data, layout: { ...(fig.layout ?? {}), width: w, height: h } }, { format: 'png', width: w, height: h });
          },
          { fig: figure, w: size.width, h: size.height },
        );
        const prefix = 'data:image/png;base64,';
        if (!url.startsWith(prefix)) throw new Error(`Plotly.toImage returned ${url.slice(0, 40)}..., not a PNG data URL`);
        return url.slice(prefix.length);
      },
      close: () => browser.close(),
    };
  } catch (err) {
    await browser.close();
    throw err;
  }
}

/** Whether any output of `nb` is a Plotly figure. */
export function hasFigures(nb: Notebook): boolean {
  return nb.cells.some((c) => c.cell_type === 'code' && c.outputs.some((o) => 'data' in o && PLOTLY_MIME in o.data));
}

const asText = (v: unknown): string => (Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '');

function figureTitle(figure: PlotlyJson): string {
  const title = figure.layout?.title as { text?: string } | string | undefined;
  return (typeof title === 'string' ? title : title?.text) ?? 'figure';
}

/** The HTML of a figure: the image first (what an untrusted front end shows), then the script that draws over it. */
export function staticFigureHtml(figure: PlotlyJson, png: string, height: number): string {
  const id = `plotly-${randomUUID()}`;
  const alt = figureTitle(figure).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  const json = JSON.stringify(figure).replace(/</g, '\\u003c');
  return (
    `<div id="${id}" style="width:100%;min-height:${height}px"><img src="data:image/png;base64,${png}" alt="${alt}" style="max-width:100%"></div>\n` +
    `<script type="text/javascript">(function(){if(!window.Plotly)return;var f=${json};var d=document.getElementById("${id}");` +
    `d.innerHTML="";d.style.height="${height}px";window.Plotly.newPlot(d,f.data,f.layout||{},f.config||{});})();</script>`
  );
}

export interface StaticFiguresResult {
  figures: number;
  /** Outputs that held only plotly.js and were dropped. */
  librariesDropped: number;
}

/**
 * Rewrites every Plotly output of `nb` in place: static image plus the
 * interactive script (see the file comment), and drops plotly.js wherever it
 * was inlined. The runner calls it only with an imager: without images the
 * library is what lets a trusted notebook draw its figures, so it stays.
 */
export async function addStaticFigures(nb: Notebook, imager: FigureImager, width = 900): Promise<StaticFiguresResult> {
  let figures = 0;
  let librariesDropped = 0;
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'code') continue;
    const kept: Output[] = [];
    for (const out of cell.outputs) {
      if (out.output_type !== 'display_data' && out.output_type !== 'execute_result') {
        kept.push(out);
        continue;
      }
      const data: MimeBundle = out.data;
      const html = asText(data['text/html']);
      const figure = data[PLOTLY_MIME] as PlotlyJson | undefined;
      if (!figure && LIBRARY_SCRIPT.test(html)) {
        const rest = html.replace(LIBRARY_SCRIPTS, '').trim();
        if (!rest) {
          librariesDropped++;
          continue;
        }
        data['text/html'] = rest;
      }
      if (figure && typeof figure === 'object' && Array.isArray(figure.data)) {
        const height = Number(figure.layout?.height ?? 400) || 400;
        const png = await imager.png(figure, { width, height });
        data['text/html'] = staticFigureHtml(figure, png, height);
        data['image/png'] = png;
        figures++;
      }
      kept.push(out);
    }
    cell.outputs = kept;
  }
  return { figures, librariesDropped };
}
