// Notebook views of a dataset: the per-record numbers as a danfojs DataFrame
// (for the reader's own groupby and describe), and a few records printed as
// readable conversations, chosen by a seed so a rerun shows the same ones.
import type { DataFrame } from 'danfojs-node';
import { displayBundle, escapeHtml, type MimeBundle } from '../viz/display';
import { randomStream } from '../runtime/seed';
import { recordStats, type LengthTokenizer } from './explore';
import type { DataRecord, Message } from './records';

/** recordStats as a danfojs DataFrame (danfojs is loaded on first use: it is large). */
export function statsFrame(records: DataRecord[], options: { tokenizer?: LengthTokenizer } = {}): DataFrame {
  const dfd = require('danfojs-node') as typeof import('danfojs-node');
  const rows = recordStats(records, options).map((r) => {
    const out: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v as string | number;
    return out;
  });
  return new dfd.DataFrame(rows);
}

/** `n` records picked by `seed` (without replacement), in their original order. */
export function sampleRecords<T>(records: T[], n: number, seed: number | string = 0): T[] {
  const uniform = randomStream(`sample:${seed}`);
  const idx = records.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, Math.min(n, records.length)).sort((a, b) => a - b).map((i) => records[i]);
}

const ROLE_COLOUR: Record<string, string> = { system: '#7a3fbf', user: '#1f5fbf', assistant: '#2e7d32' };

function messagesHtml(ms: Message[]): string {
  return ms
    .map((m) => `<div style="margin:2px 0"><b style="color:${ROLE_COLOUR[m.role] ?? '#333'}">${m.role}</b>: <span style="white-space:pre-wrap">${escapeHtml(m.content)}</span></div>`)
    .join('');
}

function messagesText(ms: Message[], indent = ''): string {
  return ms.map((m) => `${indent}[${m.role}] ${m.content.replace(/\n/g, `\n${indent}  `)}`).join('\n');
}

/** HTML and text for records shown as conversations (pairs: the prompt, then both replies). */
export function recordsBundle(records: DataRecord[]): MimeBundle {
  const html = records
    .map((r) => {
      const head = `<div style="font-size:11px;color:#666">${escapeHtml(r.id)} · ${escapeHtml(r.source)}${r.category ? ` · ${escapeHtml(r.category)}` : ''}</div>`;
      const body =
        r.kind === 'conversation'
          ? messagesHtml(r.messages)
          : `${messagesHtml(r.prompt)}<div style="display:grid;grid-template-columns:1fr 1fr;gap:8px;margin-top:4px">` +
            `<div style="border-left:3px solid #2e7d32;padding-left:6px"><i>chosen</i>${messagesHtml(r.chosen)}</div>` +
            `<div style="border-left:3px solid #c62828;padding-left:6px"><i>rejected</i>${messagesHtml(r.rejected)}</div></div>`;
      return `<div style="border:1px solid #ddd;border-radius:4px;padding:6px;margin:6px 0;font-size:13px">${head}${body}</div>`;
    })
    .join('');
  const text = records
    .map((r) => {
      const head = `--- ${r.id} (${r.source}${r.category ? `, ${r.category}` : ''})`;
      if (r.kind === 'conversation') return `${head}\n${messagesText(r.messages)}`;
      return `${head}\n${messagesText(r.prompt)}\n  chosen:\n${messagesText(r.chosen, '    ')}\n  rejected:\n${messagesText(r.rejected, '    ')}`;
    })
    .join('\n');
  return { 'text/html': html, 'text/plain': text };
}

/** Shows `n` records picked by `seed`, readably. */
export function showSample(records: DataRecord[], n = 3, seed: number | string = 0): void {
  displayBundle(recordsBundle(sampleRecords(records, n, seed)));
}
