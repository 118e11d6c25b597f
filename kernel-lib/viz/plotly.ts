// Plotly figures in a notebook. Each output carries the figure as Plotly JSON
// (rendered natively where a front end has Plotly's renderer) and as HTML that
// draws it with plotly.js (rendered in trusted notebooks and HTML exports).
// plotly.js (4.8 MB minified) is inlined in the first figure a front-end
// session (a page) receives; later figures reuse the window.Plotly it defines,
// and after a page reload the next figure brings it again. The headless runner
// replaces the scripts' output by a static image (scripts/workbook/static_figures.ts)
// and drops the library, which it finds by LIBRARY_ATTRIBUTE.
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { displayBundle, frontEndSession, type MimeBundle } from './display';

export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** Marks the script element that carries plotly.js itself. */
export const LIBRARY_ATTRIBUTE = 'data-workbook-library="plotly.js"';

// The front-end session the library was last sent to ('' outside a kernel or
// an unpatched tslab: then once per kernel).
let inlinedFor: string | null = null;
const needsLibrary = (): boolean => inlinedFor !== (frontEndSession() ?? '');
const librarySent = (): void => {
  inlinedFor = frontEndSession() ?? '';
};

function plotlyScript(): string {
  return fs.readFileSync(require.resolve('plotly.js-dist-min'), 'utf8');
}

/** The MIME bundle of a figure; `inlineLibrary` puts plotly.js itself in the HTML. */
export function plotlyBundle(figure: PlotlyFigure, inlineLibrary: boolean): MimeBundle {
  const id = `plotly-${randomUUID()}`;
  const json = JSON.stringify(figure).replace(/</g, '\\u003c');
  const library = inlineLibrary ? `<script type="text/javascript" ${LIBRARY_ATTRIBUTE}>${plotlyScript()}</script>\n` : '';
  const draw =
    `<div id="${id}" style="width:100%;height:${Number(figure.layout?.height ?? 400)}px"></div>\n` +
    `<script type="text/javascript">(function(){var f=${json};` +
    `if(window.Plotly){window.Plotly.newPlot("${id}",f.data,f.layout||{},f.config||{});}` +
    `else if(!document.getElementById("${id}").firstChild){document.getElementById("${id}").textContent="plotly.js is not loaded: re-run this cell, or trust the notebook.";}})();</script>`;
  const title = (figure.layout?.title as { text?: string } | string | undefined) ?? '';
  const traces = figure.data.map((t) => `${t.type ?? 'scatter'}${t.name ? ` '${t.name}'` : ''}`).join(', ');
  return {
    'application/vnd.plotly.v1+json': { data: figure.data, layout: figure.layout ?? {}, config: figure.config ?? {} },
    'text/html': library + draw,
    'text/plain': `Plotly figure${typeof title === 'string' ? (title ? `: ${title}` : '') : title.text ? `: ${title.text}` : ''} (${traces})`,
  };
}

/**
 * An output holding only plotly.js, shown once before figures that will be
 * redrawn in place (their updates then stay small). No-op after the first call.
 */
export function plotlyLibraryBundle(): MimeBundle {
  if (!needsLibrary()) return { 'text/plain': '' };
  librarySent();
  return { 'text/html': `<script type="text/javascript" ${LIBRARY_ATTRIBUTE}>${plotlyScript()}</script>`, 'text/plain': '' };
}

/** Shows a Plotly figure in the notebook. */
export function showPlot(figure: PlotlyFigure): void {
  const inline = needsLibrary();
  displayBundle(plotlyBundle(figure, inline));
  librarySent();
}
