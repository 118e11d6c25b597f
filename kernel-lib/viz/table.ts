// Tables as HTML (for notebooks) and aligned text (for terminals), from plain
// rows, danfojs DataFrames and Apache Arrow tables alike.
import { displayBundle, escapeHtml, type MimeBundle } from './display';

export type Row = Record<string, unknown>;

/** Rows from an Arrow Table, a danfojs DataFrame, or an array of records. */
export function toRows(source: unknown): Row[] {
  if (Array.isArray(source)) return source as Row[];
  const s = source as { toArray?: () => unknown[]; toJSON?: (o?: unknown) => unknown; schema?: unknown; columns?: unknown };
  // danfojs: toJSON({format: 'column'}) gives one record per row.
  if (s && typeof s.toJSON === 'function' && Array.isArray(s.columns)) {
    try {
      return s.toJSON({ format: 'column' }) as Row[];
    } catch {
      // Frames made by groupby are danfojs's browser class, whose method only
      // throws "deprecated"; the package-level function handles both.
      const dfd = require('danfojs-node') as { toJSON(df: unknown, o: { format: 'column' }): unknown };
      return dfd.toJSON(s, { format: 'column' }) as Row[];
    }
  }
  // Arrow: a Table iterates as StructRow proxies; toJSON turns each into a record.
  if (s && typeof s.toArray === 'function' && s.schema) {
    return s.toArray().map((r) => (r as { toJSON(): Row }).toJSON());
  }
  throw new Error('viz: table source must be an array of records, a danfojs DataFrame or an Arrow Table');
}

function cell(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, '');
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  return String(value);
}

export function tableBundle(source: unknown, options: { caption?: string; maxRows?: number } = {}): MimeBundle {
  const all = toRows(source);
  const maxRows = options.maxRows ?? 50;
  const rows = all.slice(0, maxRows);
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const more = all.length > rows.length ? `${all.length - rows.length} more rows` : '';
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = rows.map((r) => `<tr>${columns.map((c) => `<td>${escapeHtml(cell(r[c]))}</td>`).join('')}</tr>`).join('\n');
  const caption = options.caption ? `<caption>${escapeHtml(options.caption)}</caption>` : '';
  const html = `<table class="workbook-table">${caption}<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table>${more ? `<p>${more}</p>` : ''}`;
  const text = [columns, ...rows.map((r) => columns.map((c) => cell(r[c])))];
  const widths = columns.map((_, i) => Math.max(...text.map((line) => line[i].length)));
  const plain = [options.caption ?? '', ...text.map((line) => line.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()), more]
    .filter((l) => l !== '')
    .join('\n');
  return { 'text/html': html, 'text/plain': plain };
}

/** Shows a table in the notebook (or prints it outside one). */
export function showTable(source: unknown, options: { caption?: string; maxRows?: number } = {}): void {
  displayBundle(tableBundle(source, options));
}
