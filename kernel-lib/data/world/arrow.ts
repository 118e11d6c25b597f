// The SFT and preference tables as Arrow IPC files. Messages are
// list<struct<role: utf8, content: utf8>>; meta is a JSON string column (its
// shape differs by family); split, rule and the SFT flaws are copied out of
// meta as columns for filtering.
import { Field, List, Struct, Table, Utf8, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import type { Conversation, Message, PreferencePair, Role } from '../records';

const MESSAGES = new List(new Field('item', new Struct([new Field('role', new Utf8(), false), new Field('content', new Utf8(), false)]), false));

const strings = (xs: string[]) => vectorFromArray(xs, new Utf8());
const messages = (xs: Message[][]) => vectorFromArray(xs.map((ms) => ms.map((m) => ({ role: m.role, content: m.content }))), MESSAGES);
const metaOf = (r: { meta?: Record<string, unknown> }, k: string) => String(r.meta?.[k] ?? '');

export function conversationsToArrow(records: Conversation[]): Uint8Array {
  const table = new Table({
    id: strings(records.map((r) => r.id)),
    source: strings(records.map((r) => r.source)),
    category: strings(records.map((r) => r.category ?? '')),
    split: strings(records.map((r) => metaOf(r, 'split'))),
    // The flaws joined by '+' ('padded+made_up'), empty for a clean record.
    flaws: strings(records.map((r) => (Array.isArray(r.meta?.flaws) ? (r.meta!.flaws as string[]).join('+') : ''))),
    messages: messages(records.map((r) => r.messages)),
    meta: strings(records.map((r) => JSON.stringify(r.meta ?? {}))),
  });
  return tableToIPC(table, 'file');
}

export function preferencesToArrow(records: PreferencePair[]): Uint8Array {
  const table = new Table({
    id: strings(records.map((r) => r.id)),
    source: strings(records.map((r) => r.source)),
    category: strings(records.map((r) => r.category ?? '')),
    split: strings(records.map((r) => metaOf(r, 'split'))),
    rule: strings(records.map((r) => metaOf(r, 'rule'))),
    prompt: messages(records.map((r) => r.prompt)),
    chosen: messages(records.map((r) => r.chosen)),
    rejected: messages(records.map((r) => r.rejected)),
    meta: strings(records.map((r) => JSON.stringify(r.meta ?? {}))),
  });
  return tableToIPC(table, 'file');
}

type Row = Record<string, unknown>;
const rows = (bytes: Uint8Array): Row[] => tableFromIPC(bytes).toArray().map((r: { toJSON(): Row }) => r.toJSON());
const toMessages = (v: unknown): Message[] =>
  [...(v as Iterable<{ toJSON(): { role: Role; content: string } }>)].map((m) => {
    const { role, content } = m.toJSON();
    return { role, content };
  });

/** Reads a world SFT table back into conversations. */
export function conversationsFromArrow(bytes: Uint8Array): Conversation[] {
  return rows(bytes).map((r) => ({
    kind: 'conversation',
    messages: toMessages(r.messages),
    source: String(r.source),
    id: String(r.id),
    category: String(r.category),
    meta: JSON.parse(String(r.meta)),
  }));
}

/** Reads a world preference table back into pairs. */
export function preferencesFromArrow(bytes: Uint8Array): PreferencePair[] {
  return rows(bytes).map((r) => ({
    kind: 'preference',
    prompt: toMessages(r.prompt),
    chosen: toMessages(r.chosen),
    rejected: toMessages(r.rejected),
    source: String(r.source),
    id: String(r.id),
    category: String(r.category),
    meta: JSON.parse(String(r.meta)),
  }));
}
