// Looking at a dataset before training on it: one row of numbers per record
// (turns, characters and, given a tokenizer, tokens of prompt and reply),
// counts by a field, length summaries, duplicates and near-empty records, and
// for preference data the length bias (how often the chosen reply is simply
// the longer one, which a reward model learns before anything else).
import { replyText, type Conversation, type DataRecord, type Message, type PreferencePair } from './records';

/** What exploration needs from a tokenizer (BpeTokenizer and the byte tokenizer both fit). */
export interface LengthTokenizer {
  encode(text: string): number[];
}

export interface RecordStats {
  id: string;
  source: string;
  kind: DataRecord['kind'];
  category: string;
  /** Messages in the conversation, or in the prompt of a pair. */
  turns: number;
  promptChars: number;
  /** Assistant text of a conversation; the chosen reply of a pair. */
  replyChars: number;
  /** Pairs only: the rejected reply. */
  rejectedChars?: number;
  promptTokens?: number;
  replyTokens?: number;
  rejectedTokens?: number;
}

const chars = (ms: Message[]) => ms.reduce((n, m) => n + m.content.length, 0);

/** One row of numbers per record. */
export function recordStats(records: DataRecord[], options: { tokenizer?: LengthTokenizer } = {}): RecordStats[] {
  const tok = options.tokenizer;
  const count = (t: string) => (tok ? tok.encode(t).length : undefined);
  return records.map((r) => {
    if (r.kind === 'conversation') {
      const prompt = r.messages.filter((m) => m.role !== 'assistant');
      const reply = r.messages.filter((m) => m.role === 'assistant');
      return {
        id: r.id, source: r.source, kind: r.kind, category: r.category ?? '', turns: r.messages.length,
        promptChars: chars(prompt), replyChars: chars(reply),
        promptTokens: count(replyText(prompt)), replyTokens: count(replyText(reply)),
      };
    }
    return {
      id: r.id, source: r.source, kind: r.kind, category: r.category ?? '', turns: r.prompt.length,
      promptChars: chars(r.prompt), replyChars: chars(r.chosen), rejectedChars: chars(r.rejected),
      promptTokens: count(replyText(r.prompt)), replyTokens: count(replyText(r.chosen)), rejectedTokens: count(replyText(r.rejected)),
    };
  });
}

/** How many records have each value of `key` (descending), with their share. */
export function countBy<T>(items: T[], key: (item: T) => string | number | undefined): { value: string; count: number; share: number }[] {
  const counts = new Map<string, number>();
  for (const item of items) {
    const v = String(key(item) ?? '(none)');
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([value, count]) => ({ value, count, share: items.length ? count / items.length : 0 }));
}

export interface Summary {
  count: number;
  min: number;
  p10: number;
  median: number;
  mean: number;
  p90: number;
  max: number;
}

/** Order statistics of a list of numbers (nearest-rank percentiles). */
export function summarise(values: number[]): Summary {
  if (values.length === 0) return { count: 0, min: NaN, p10: NaN, median: NaN, mean: NaN, p90: NaN, max: NaN };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  return { count: s.length, min: s[0], p10: at(0.1), median: at(0.5), mean: s.reduce((a, b) => a + b, 0) / s.length, p90: at(0.9), max: s[s.length - 1] };
}

/** The text a record is compared on for duplicates: roles and contents, whitespace collapsed, case folded. */
function fingerprint(r: DataRecord): string {
  const ms = r.kind === 'conversation' ? r.messages : [...r.prompt, ...r.chosen, { role: 'assistant', content: '\u0000' }, ...r.rejected];
  return ms.map((m) => `${m.role}:${m.content.replace(/\s+/g, ' ').trim().toLowerCase()}`).join('\u0001');
}

/** Groups of records with the same content (ignoring case and spacing); only groups of two or more. */
export function findDuplicates(records: DataRecord[]): { ids: string[]; count: number; preview: string }[] {
  const groups = new Map<string, DataRecord[]>();
  for (const r of records) {
    const key = fingerprint(r);
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()]
    .filter((g) => g.length > 1)
    .sort((a, b) => b.length - a.length)
    .map((g) => ({ ids: g.map((r) => r.id), count: g.length, preview: previewOf(g[0]) }));
}

function previewOf(r: DataRecord): string {
  const first = r.kind === 'conversation' ? r.messages.find((m) => m.role === 'user') : r.prompt[r.prompt.length - 1];
  return (first?.content ?? '').slice(0, 80);
}

/** Messages (or a pair's prompt or replies) shorter than minChars after trimming; the default 1 finds empty and whitespace-only ones. */
export function findNearEmpty(records: DataRecord[], options: { minChars?: number } = {}): { id: string; field: string; chars: number }[] {
  const min = options.minChars ?? 1;
  const out: { id: string; field: string; chars: number }[] = [];
  const check = (id: string, field: string, t: string) => {
    const n = t.trim().length;
    if (n < min) out.push({ id, field, chars: n });
  };
  for (const r of records) {
    if (r.kind === 'conversation') {
      r.messages.forEach((m, i) => check(r.id, `messages[${i}] (${m.role})`, m.content));
    } else {
      check(r.id, 'prompt', replyText(r.prompt));
      check(r.id, 'chosen', replyText(r.chosen));
      check(r.id, 'rejected', replyText(r.rejected));
    }
  }
  return out;
}

export interface PreferenceStats {
  pairs: number;
  chosen: Summary;
  rejected: Summary;
  /** Share of pairs whose chosen reply is strictly longer, strictly shorter, equal. */
  chosenLonger: number;
  chosenShorter: number;
  equalLength: number;
  /** Mean of (chosen - rejected) length. */
  meanDifference: number;
  unit: 'chars' | 'tokens';
}

/**
 * Chosen vs rejected reply lengths. A chosenLonger far from 0.5 means a
 * reward model can score well by preferring length alone.
 */
export function preferenceStats(pairs: PreferencePair[], options: { tokenizer?: LengthTokenizer } = {}): PreferenceStats {
  const len = (ms: Message[]) => (options.tokenizer ? options.tokenizer.encode(replyText(ms)).length : replyText(ms).length);
  const c = pairs.map((p) => len(p.chosen));
  const r = pairs.map((p) => len(p.rejected));
  const n = pairs.length || 1;
  return {
    pairs: pairs.length,
    chosen: summarise(c),
    rejected: summarise(r),
    chosenLonger: c.filter((x, i) => x > r[i]).length / n,
    chosenShorter: c.filter((x, i) => x < r[i]).length / n,
    equalLength: c.filter((x, i) => x === r[i]).length / n,
    meanDifference: c.reduce((a, x, i) => a + x - r[i], 0) / n,
    unit: options.tokenizer ? 'tokens' : 'chars',
  };
}

export function isConversation(r: DataRecord): r is Conversation {
  return r.kind === 'conversation';
}

export function isPreference(r: DataRecord): r is PreferencePair {
  return r.kind === 'preference';
}
