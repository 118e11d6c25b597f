// What a notebook in notebooks/ must not carry when committed: outputs (a
// chart is hundreds of KB, and plotly.js was once 5 MB), execution counts,
// timings, the runner's injected parameters and run record, and what the
// kernel reports about itself (language_info names the TypeScript version
// tslab bundles, so it changes with the machine that saved the notebook).
// Everything the author wrote stays: sources, cell ids, tags, attachments,
// the kernelspec.
import type { Cell, Notebook } from './notebook';

/** Notebook metadata set by a kernel, a front end or the runner, never by the author. */
const VOLATILE_NOTEBOOK_KEYS = ['language_info', 'workbook', 'widgets', 'vscode'];
/** Cell metadata set by running or viewing a cell. */
const VOLATILE_CELL_KEYS = ['execution', 'collapsed', 'scrolled', 'ExecuteTime', 'trusted'];
/** The runner's tag for the cell it inserts after the parameters cell. */
const INJECTED_TAG = 'injected-parameters';

const isInjected = (cell: Cell): boolean => Array.isArray(cell.metadata?.tags) && cell.metadata.tags.includes(INJECTED_TAG);

/** What makes `nb` unfit to commit, one line each ("cell 5 [id]: 3 outputs"); empty when clean. */
export function notebookDirt(nb: Notebook): string[] {
  const dirt: string[] = [];
  for (const key of VOLATILE_NOTEBOOK_KEYS) if (key in nb.metadata) dirt.push(`metadata.${key}`);
  nb.cells.forEach((cell, i) => {
    const where = `cell ${i + 1}${cell.id ? ` [${cell.id}]` : ''}`;
    if (isInjected(cell)) dirt.push(`${where}: injected parameters (tag "${INJECTED_TAG}")`);
    for (const key of VOLATILE_CELL_KEYS) if (key in (cell.metadata ?? {})) dirt.push(`${where}: metadata.${key}`);
    if (cell.cell_type !== 'code') return;
    if (cell.outputs.length > 0) dirt.push(`${where}: ${cell.outputs.length} output${cell.outputs.length === 1 ? '' : 's'}`);
    if (cell.execution_count !== null) dirt.push(`${where}: execution_count ${cell.execution_count}`);
  });
  return dirt;
}

/** Jupyter stores a cell's source as its lines, each keeping its newline. */
function sourceLines(source: string | string[]): string[] {
  const text = Array.isArray(source) ? source.join('') : source;
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** A copy of `nb` without what notebookDirt names, sources stored as lines. */
export function cleanNotebook(nb: Notebook): Notebook {
  const metadata = { ...nb.metadata };
  for (const key of VOLATILE_NOTEBOOK_KEYS) delete metadata[key];
  const cells = nb.cells.filter((c) => !isInjected(c)).map((cell): Cell => {
    const meta = { ...(cell.metadata ?? {}) };
    for (const key of VOLATILE_CELL_KEYS) delete meta[key];
    const source = sourceLines(cell.source);
    return cell.cell_type === 'code' ? { ...cell, source, metadata: meta, outputs: [], execution_count: null } : { ...cell, source, metadata: meta };
  });
  return { ...nb, metadata, cells };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * The notebook as Jupyter itself saves it (keys sorted, one-space indent, a
 * final newline), so saving in JupyterLab and cleaning give the same bytes and
 * a commit shows only what changed.
 */
export function notebookText(nb: Notebook): string {
  return JSON.stringify(sortKeys(nb), null, 1) + '\n';
}
