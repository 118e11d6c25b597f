// Reading the fields of one row: strings, message lists in their two
// published shapes ({role, content} and ShareGPT's {from, value}), and the
// checks every conversation and preference pair must pass. Each message keeps
// the field it came from, so a check that fails names that exact field.
import { DataError, type DataLocation, type Message, type Role } from './records';
import { describeValue } from './read_plain';

/** Where a row is and what to fall back on, for the normalisers. */
export interface RowContext {
  at: DataLocation;
  /** The records' `source` (the file). */
  source: string;
  /** The record id when the dataset carries none (file:line or file[row]). */
  fallbackId: string;
  /**
   * Whether a list may arrive as JSON text: CSV has no list type, so
   * exporters write message lists into a cell as JSON (and tables converted
   * from such files keep them so).
   */
  jsonText: boolean;
}

/** A message and the field it was read from. */
export interface Turn extends Message {
  field: string;
}

export function fail(ctx: RowContext, field: string | undefined, problem: string): never {
  throw new DataError(field === undefined ? ctx.at : { ...ctx.at, field }, problem);
}

/** A field's value; null (Arrow, Parquet) and absent are both missing, and so is an inherited name such as "constructor". */
export function fieldValue(row: Record<string, unknown>, name: string): unknown {
  const v = Object.prototype.hasOwnProperty.call(row, name) ? row[name] : undefined;
  return v === null ? undefined : v;
}

export function requireValue(row: Record<string, unknown>, name: string, ctx: RowContext, expected: string): unknown {
  const v = fieldValue(row, name);
  if (v === undefined) fail(ctx, name, `missing; expected ${expected}`);
  return v;
}

/** A string field; `what` names it in the message when it is empty ("instruction", "reply"). */
export function requireText(row: Record<string, unknown>, name: string, ctx: RowContext, what: string): string {
  const v = requireValue(row, name, ctx, `the ${what} as a string`);
  if (typeof v !== 'string') fail(ctx, name, `expected the ${what} as a string, got ${describeValue(v)}`);
  if (v.trim() === '') fail(ctx, name, `empty ${what}`);
  return v;
}

/** An optional string field; empty counts as absent. */
export function optionalText(row: Record<string, unknown>, name: string, ctx: RowContext): string | undefined {
  const v = fieldValue(row, name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(ctx, name, `expected a string, got ${describeValue(v)}`);
  return v.trim() === '' ? undefined : v;
}

/** The dataset's own id from the first of `names` present, else the row's place in the file. */
export function recordId(row: Record<string, unknown>, names: readonly string[], ctx: RowContext): string {
  for (const n of names) {
    const v = fieldValue(row, n);
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number') return String(v);
  }
  return ctx.fallbackId;
}

/** A number from a number, or (CSV) a numeric string; undefined when absent or empty. */
export function numberValue(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

/** A list, or in a table (CSV, Arrow, Parquet) a list written as JSON text. */
export function listValue(value: unknown, ctx: RowContext, field: string, expected: string): unknown[] {
  if (Array.isArray(value)) return value;
  if (ctx.jsonText && typeof value === 'string') {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // fall through to the error below, which shows the text
    }
    fail(ctx, field, `expected ${expected} (or one written as JSON text), got ${describeValue(value)}`);
  }
  return fail(ctx, field, `expected ${expected}, got ${describeValue(value)}`);
}

function messageText(value: unknown, ctx: RowContext, field: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  // OpenAI's content parts: [{type: 'text', text}]; anything but text cannot be a training string.
  if (Array.isArray(value)) {
    return value
      .map((part, i) => {
        const p = (part ?? {}) as Record<string, unknown>;
        if (p.type === 'text' && typeof p.text === 'string') return p.text;
        return fail(ctx, `${field}[${i}]`, `content part of type ${JSON.stringify(p.type)} is not supported; only {type: "text", text} parts are`);
      })
      .join('');
  }
  return fail(ctx, field, `expected the message text as a string, got ${describeValue(value)}`);
}

const ROLES = new Map<unknown, Role>([
  ['system', 'system'],
  ['developer', 'system'],
  ['user', 'user'],
  ['assistant', 'assistant'],
]);

/** A list of {role, content} messages (OpenAI, TRL); "developer" is OpenAI's newer name for system. */
export function readMessages(value: unknown, ctx: RowContext, field: string): Turn[] {
  return listValue(value, ctx, field, 'a list of {role, content} messages').map((m, i) => {
    const at = `${field}[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) fail(ctx, at, `expected a {role, content} message, got ${describeValue(m)}`);
    const msg = m as Record<string, unknown>;
    const role = ROLES.get(msg.role);
    if (role === undefined) fail(ctx, `${at}.role`, `unknown role ${JSON.stringify(msg.role)}; expected one of ${[...ROLES.keys()].join(', ')}`);
    return { role, content: messageText(msg.content, ctx, `${at}.content`), field: `${at}.content` };
  });
}

// Exports differ in case ("human", "Human"), so speakers are matched in lower case.
const SHAREGPT_SPEAKERS = new Map<unknown, Role>([
  ['system', 'system'],
  ['human', 'user'],
  ['user', 'user'],
  ['gpt', 'assistant'],
  ['assistant', 'assistant'],
  ['chatgpt', 'assistant'],
  ['bing', 'assistant'],
  ['bard', 'assistant'],
]);

/** ShareGPT's list of {from, value} turns. */
export function readShareGpt(value: unknown, ctx: RowContext, field: string): Turn[] {
  return listValue(value, ctx, field, 'a list of {from, value} turns').map((m, i) => {
    const at = `${field}[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) fail(ctx, at, `expected a {from, value} turn, got ${describeValue(m)}`);
    const turn = m as Record<string, unknown>;
    const role = typeof turn.from === 'string' ? SHAREGPT_SPEAKERS.get(turn.from.toLowerCase()) : undefined;
    if (role === undefined) fail(ctx, `${at}.from`, `unknown speaker ${JSON.stringify(turn.from)}; expected one of ${[...SHAREGPT_SPEAKERS.keys()].join(', ')}`);
    return { role, content: messageText(turn.value, ctx, `${at}.value`), field: `${at}.value` };
  });
}

function jsonMessageList(text: string): unknown[] | undefined {
  if (!text.trimStart().startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) && parsed.length > 0 && parsed.every((m) => typeof m === 'object' && m !== null && !Array.isArray(m)) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A field that is either a plain string (one message in `role`) or a list of
 * messages (TRL's conversational form). In a table, a cell that is JSON text
 * of a list of objects is read as that list; a plain text never looks like one.
 */
export function textOrMessages(row: Record<string, unknown>, name: string, ctx: RowContext, role: Role): Turn[] {
  const v = requireValue(row, name, ctx, 'a string or a list of {role, content} messages');
  if (typeof v === 'string') {
    const list = ctx.jsonText ? jsonMessageList(v) : undefined;
    return list ? readMessages(list, ctx, name) : [{ role, content: v, field: name }];
  }
  if (Array.isArray(v)) return readMessages(v, ctx, name);
  return fail(ctx, name, `expected a string or a list of {role, content} messages, got ${describeValue(v)}`);
}

function aTurn(role: Role): string {
  return `${role === 'assistant' ? 'an' : 'a'} ${role} turn`;
}

function plain(turns: Turn[]): Message[] {
  return turns.map((t) => ({ role: t.role, content: t.content }));
}

/** An empty system prompt says nothing, the same as none: it is left out, not reported. */
function withoutEmptySystem(turns: Turn[]): Turn[] {
  return turns.filter((t) => !(t.role === 'system' && t.content.trim() === ''));
}

function checkTexts(turns: Turn[], ctx: RowContext): void {
  for (const t of turns) {
    if (t.content.trim() !== '') continue;
    fail(ctx, t.field, t.role === 'assistant' ? 'empty reply: the assistant message has no text' : `empty ${t.role} message`);
  }
}

/** A conversation to learn from: a user turn first, the assistant's reply last, no empty message. */
export function checkConversation(turns: Turn[], ctx: RowContext, field: string): Message[] {
  const kept = withoutEmptySystem(turns);
  if (kept.length === 0) fail(ctx, field, 'empty conversation: no messages');
  checkTexts(kept, ctx);
  const first = kept.find((t) => t.role !== 'system');
  if (first === undefined || !kept.some((t) => t.role === 'assistant')) fail(ctx, field, 'no assistant reply; expected at least one assistant message');
  if (first.role !== 'user') fail(ctx, first.field, 'the conversation opens with an assistant turn; expected a user turn first');
  const last = kept[kept.length - 1];
  if (last.role !== 'assistant') fail(ctx, last.field, `the conversation ends with ${aTurn(last.role)}; expected it to end with the assistant's reply`);
  return plain(kept);
}

/** A prompt ending with the user turn being answered, and two replies made of assistant messages. */
export function checkPreference(
  prompt: Turn[],
  chosen: Turn[],
  rejected: Turn[],
  ctx: RowContext,
  fields: { prompt: string; chosen: string; rejected: string },
): { prompt: Message[]; chosen: Message[]; rejected: Message[] } {
  const p = withoutEmptySystem(prompt);
  if (p.length === 0) fail(ctx, fields.prompt, 'empty prompt: no messages');
  checkTexts(p, ctx);
  const last = p[p.length - 1];
  if (last.role !== 'user') fail(ctx, last.field, `the prompt ends with ${aTurn(last.role)}; expected it to end with the user turn being answered`);
  for (const [name, reply] of [
    [fields.chosen, chosen],
    [fields.rejected, rejected],
  ] as const) {
    if (reply.length === 0) fail(ctx, name, 'empty reply: no assistant message after the prompt');
    for (const t of reply) {
      if (t.role !== 'assistant') fail(ctx, t.field, `expected only assistant messages after the prompt, got ${aTurn(t.role)}`);
    }
    checkTexts(reply, ctx);
  }
  return { prompt: plain(p), chosen: plain(chosen), rejected: plain(rejected) };
}

/**
 * Splits two whole conversations into their shared prompt and the two
 * continuations: the longest common opening, cut back to end with a user turn.
 */
export function splitSharedPrompt(chosen: Turn[], rejected: Turn[]): { prompt: Turn[]; chosen: Turn[]; rejected: Turn[] } {
  let n = 0;
  while (n < chosen.length && n < rejected.length && chosen[n].role === rejected[n].role && chosen[n].content === rejected[n].content) n++;
  while (n > 0 && chosen[n - 1].role !== 'user') n--;
  return { prompt: chosen.slice(0, n), chosen: chosen.slice(n), rejected: rejected.slice(n) };
}
