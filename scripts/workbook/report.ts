// The run report: one self-contained HTML file (no script, no network, every
// image inline) that a CI job keeps and a reader opens by double-click. It
// holds the manifest, each notebook's status and time, the recorded figures
// against their bands (per notebook, and pivoted by stage so a reader sees
// the base -> SFT -> DPO -> RL numbers side by side), every chart the
// notebooks drew (the static images the runner made), and links to the
// executed notebooks beside it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatBand } from './bands';
import type { FigureRecord } from './figures';
import { readNotebook, sourceText, type Notebook } from './notebook';
import type { Manifest, NotebookRecord } from './run';

export const REPORT_FILE = 'report.html';

const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

/** A chart one notebook drew: its title, the heading it sits under, and its image when the runner made one. */
export interface ReportChart {
  title: string;
  section: string;
  /** 1-based cell index among all cells. */
  cell: number;
  /** Base64 PNG, or null where no image was drawn (no Chromium, --no-images). */
  png: string | null;
}

const esc = (t: string): string => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function chartTitle(figure: unknown): string {
  const title = (figure as { layout?: { title?: string | { text?: string } } })?.layout?.title;
  return (typeof title === 'string' ? title : title?.text) || 'figure';
}

/** The charts of an executed notebook, in order, each under the last markdown heading above it. */
export function notebookCharts(nb: Notebook): ReportChart[] {
  const charts: ReportChart[] = [];
  let section = '';
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type === 'markdown') {
      const heading = sourceText(cell.source)
        .split('\n')
        .filter((l) => /^#{1,4}\s/.test(l))
        .pop();
      if (heading) section = heading.replace(/^#+\s*/, '').trim();
      return;
    }
    if (cell.cell_type !== 'code') return;
    for (const out of cell.outputs) {
      if (out.output_type !== 'display_data' && out.output_type !== 'execute_result') continue;
      if (!(PLOTLY_MIME in out.data)) continue;
      const png = out.data['image/png'];
      charts.push({ title: chartTitle(out.data[PLOTLY_MIME]), section, cell: i + 1, png: typeof png === 'string' ? png.replace(/\s/g, '') : null });
    }
  });
  return charts;
}

const fmtValue = (v: number | null, unit?: string): string => {
  if (v === null) return '—';
  const text = Math.abs(v) >= 1000 || Number.isInteger(v) ? String(v) : v.toPrecision(4).replace(/\.?0+$/, '');
  return unit && unit !== 'fraction' ? `${text} ${unit}` : text;
};

const fmtSeconds = (s: number): string => (s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`);

function checkCell(f: FigureRecord): string {
  const cls = f.check === 'in band' ? 'pass' : f.check === 'no band' ? 'none' : 'fail';
  const label = f.check === 'in band' ? 'pass' : f.check === 'no band' ? 'no band' : f.check === 'out of band' ? 'FAIL' : 'not recorded';
  return `<td class="${cls}">${label}</td>`;
}

/** Splits a figure name into its stage (all but the last segment) and metric (the last one). */
export function stageAndMetric(name: string): { stage: string; metric: string } {
  const cut = name.lastIndexOf('/');
  return cut < 0 ? { stage: '', metric: name } : { stage: name.slice(0, cut), metric: name.slice(cut + 1) };
}

/** The metrics the table across stages holds: how right the replies are, how they fare against a baseline, how far the policy moved. */
const HEADLINE = /^(heldout_)?(exact_match|content_accuracy|pairwise_accuracy)$|^win_rate_(greedy|sampled)$|^kl$/;

/**
 * The accuracy and win-rate table across stages: a row per stage (sft,
 * dpo/onpolicy, rl/grpo, ...) and a column per headline metric, each value
 * coloured by its band check. Breakdowns of a figure (its per-family values,
 * recorded under the figure's name) stay in the notebooks' own tables.
 */
function stageTable(notebooks: NotebookRecord[]): string {
  const rows = new Map<string, { notebook: string; cells: Map<string, FigureRecord> }>();
  const metrics: string[] = [];
  for (const nb of notebooks) {
    const names = Object.keys(nb.figures ?? {});
    for (const [name, f] of Object.entries(nb.figures ?? {})) {
      const { stage, metric } = stageAndMetric(name);
      if (names.includes(stage) || !HEADLINE.test(metric)) continue;
      if (!metrics.includes(metric)) metrics.push(metric);
      const key = `${nb.name}\u0000${stage}`;
      if (!rows.has(key)) rows.set(key, { notebook: nb.name, cells: new Map() });
      rows.get(key)!.cells.set(metric, f);
    }
  }
  if (rows.size === 0) return '<p class="muted">No notebook recorded an accuracy, win rate or KL.</p>';
  const head = `<tr><th>notebook</th><th>stage</th>${metrics.map((m) => `<th>${esc(m)}</th>`).join('')}</tr>`;
  const body = [...rows.entries()].map(([key, row]) => {
    const stage = key.split('\u0000')[1];
    const cells = metrics.map((m) => {
      const f = row.cells.get(m);
      if (!f) return '<td></td>';
      const cls = f.check === 'in band' ? 'num pass' : f.check === 'no band' ? 'num' : 'num fail';
      const band = f.band ? ` title="band ${esc(formatBand(f.band))}"` : '';
      return `<td class="${cls}"${band}>${esc(fmtValue(f.value, f.unit))}${f.band ? `<span class="band">${esc(formatBand(f.band))}</span>` : ''}</td>`;
    });
    return `<tr><td>${esc(row.notebook)}</td><td>${esc(stage || '(none)')}</td>${cells.join('')}</tr>`;
  });
  return `<table class="pivot">${head}${body.join('')}</table>`;
}

function figuresTable(nb: NotebookRecord): string {
  const entries = Object.entries(nb.figures ?? {});
  if (entries.length === 0) return '<p class="muted">No figures recorded.</p>';
  const rows = entries.map(
    ([name, f]) =>
      `<tr><td><code>${esc(name)}</code></td><td class="num">${esc(fmtValue(f.value, f.unit))}</td><td>${f.band ? esc(formatBand(f.band)) : ''}</td>${checkCell(f)}<td>${f.cell || ''}</td><td>${esc(f.note ?? '')}</td></tr>`,
  );
  return `<table><tr><th>figure</th><th>value</th><th>band</th><th>check</th><th>cell</th><th>note</th></tr>${rows.join('')}</table>`;
}

function failureText(nb: NotebookRecord): string {
  const f = nb.failure;
  if (!f) return '';
  const where = f.cell > 0 ? `cell ${f.cell}${f.cellId ? ` [${f.cellId}]` : ''}: ` : '';
  return `${where}${f.ename}: ${f.evalue}`;
}

/** A relative link from the report to a notebook's executed copy; null when none was written. */
function notebookLink(nb: NotebookRecord, reportDir: string): string | null {
  if (!nb.output || !fs.existsSync(nb.output)) return null;
  return path.relative(reportDir, nb.output).split(path.sep).map(encodeURIComponent).join('/');
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#1f2328}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px} h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px} th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{background:#dafbe1} .fail{background:#ffebe9;color:#a40e26;font-weight:600} .none{color:#57606a}
.ok{color:#1a7f37;font-weight:600} .failed{color:#cf222e;font-weight:600} .muted{color:#57606a}
.band{display:block;font-size:11px;color:#57606a;font-weight:normal}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:12px}
figure{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:8px;background:#fff} figure img{max-width:100%;display:block}
figcaption{font-size:12px;color:#57606a;margin-top:4px} pre{white-space:pre-wrap;background:#f6f8fa;padding:8px;border-radius:6px;font-size:12px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0} dt{color:#57606a}
`;

/**
 * The report's HTML for a run. `charts` holds each notebook's charts by name
 * (read from the executed notebooks); `reportDir` is where the file goes, so
 * links to the notebooks are relative and survive moving the folder.
 */
export function reportHtml(manifest: Manifest, charts: Map<string, ReportChart[]>, reportDir: string): string {
  const status = manifest.interrupted ? `interrupted (${manifest.interrupted})` : manifest.ok ? 'ok' : 'failed';
  const failedCount = manifest.notebooks.filter((n) => n.status !== 'ok').length;
  const commit = manifest.git.commit ? `${manifest.git.commit.slice(0, 12)}${manifest.git.dirty ? ' (uncommitted changes)' : ''}` : 'not a git checkout';
  const params = Object.entries(manifest.parameters).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ') || '(none)';
  const p = manifest.platform;
  const overview = `<dl>
<dt>status</dt><dd class="${manifest.ok ? 'ok' : 'failed'}">${esc(status)}${failedCount ? ` — ${failedCount} of ${manifest.notebooks.length} notebooks failed` : ''}</dd>
<dt>started</dt><dd>${esc(manifest.createdAt)}</dd>
<dt>total time</dt><dd>${esc(fmtSeconds(manifest.totalSeconds))}</dd>
<dt>command</dt><dd><code>npm run workbook${manifest.command.length ? ` -- ${esc(manifest.command.join(' '))}` : ''}</code></dd>
<dt>mode, seed</dt><dd>${esc(manifest.mode)}, ${manifest.seed}</dd>
<dt>parameters</dt><dd><code>${esc(params)}</code></dd>
<dt>git commit</dt><dd><code>${esc(commit)}</code></dd>
<dt>backends</dt><dd>${esc(manifest.backends.join(', ') || '(not reported)')}</dd>
<dt>platform</dt><dd>${esc(`${p.os} ${p.arch}, ${p.cpus} × ${p.cpuModel}, ${p.memoryGiB} GiB`)}</dd>
<dt>bands</dt><dd>${esc(manifest.bands.file ?? 'not checked')}</dd>
<dt>versions</dt><dd>${esc(Object.entries(manifest.versions).map(([k, v]) => `${k} ${v}`).join(', '))}</dd>
</dl>`;

  const notebookRows = manifest.notebooks.map((nb) => {
    const link = notebookLink(nb, reportDir);
    const name = link ? `<a href="${esc(link)}">${esc(nb.name)}</a>` : esc(nb.name);
    const figs = Object.values(nb.figures ?? {});
    const bad = figs.filter((f) => !f.ok).length;
    return `<tr><td>${name}</td><td class="${nb.status}">${nb.status}</td><td class="num">${nb.codeCellsRun}/${nb.codeCellCount}</td><td class="num">${esc(fmtSeconds(nb.seconds))}</td><td class="num">${figs.length}${bad ? ` (${bad} failing)` : ''}</td><td class="num">${(charts.get(nb.name) ?? []).length}</td><td>${esc(failureText(nb).split('\n')[0])}</td></tr>`;
  });

  const sections = manifest.notebooks.map((nb) => {
    const list = charts.get(nb.name) ?? [];
    const link = notebookLink(nb, reportDir);
    const figures = list.map((c) => {
      const caption = `${esc(c.title)}<br>cell ${c.cell}${c.section ? ` · ${esc(c.section)}` : ''}`;
      const body = c.png
        ? `<img src="data:image/png;base64,${c.png}" alt="${esc(c.title)}">`
        : `<p class="muted">No static image (the run drew none: no Chromium, or --no-images); open the notebook to see it.</p>`;
      return `<figure>${body}<figcaption>${caption}</figcaption></figure>`;
    });
    const warnings = nb.warnings.length ? `<h3>Warnings</h3><ul>${nb.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
    const failure = nb.failure ? `<h3>Failure</h3><pre>${esc(failureText(nb))}</pre>` : '';
    return `<h2 id="nb-${esc(nb.name)}">${esc(nb.name)} <span class="${nb.status}">${nb.status}</span></h2>
<p class="muted">${esc(fmtSeconds(nb.seconds))} · ${nb.codeCellsRun}/${nb.codeCellCount} code cells${link ? ` · <a href="${esc(link)}">executed notebook</a>` : ''}</p>
${failure}${warnings}<h3>Figures</h3>${figuresTable(nb)}
${list.length ? `<h3>Charts</h3><div class="charts">${figures.join('\n')}</div>` : ''}`;
  });

  const title = `Workbook run ${manifest.createdAt.slice(0, 16).replace('T', ' ')} — ${status}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head><body>
<h1>${esc(title)}</h1>
${overview}
<h2>Notebooks</h2>
<table><tr><th>notebook</th><th>status</th><th>cells</th><th>time</th><th>figures</th><th>charts</th><th>failure</th></tr>${notebookRows.join('')}</table>
<h2>Accuracy and win rate by stage</h2>
<p class="muted">Held-out accuracy, win rate against the baseline and KL from the reference, a row per stage; green: inside its expected band for ${esc(manifest.mode)} mode (shown under the value), red: outside it. Every figure, with its breakdowns, is in its notebook's table below.</p>
${stageTable(manifest.notebooks)}
${sections.join('\n')}
</body></html>
`;
}

/** Reads the charts of the run's executed notebooks and writes the report beside them; returns its path. */
export function writeReport(manifest: Manifest, outDir: string): string {
  const charts = new Map<string, ReportChart[]>();
  for (const nb of manifest.notebooks) {
    if (!nb.output || !fs.existsSync(nb.output)) continue;
    charts.set(nb.name, notebookCharts(readNotebook(nb.output)));
  }
  const file = path.join(outDir, REPORT_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, reportHtml(manifest, charts, outDir));
  fs.renameSync(tmp, file);
  return file;
}
