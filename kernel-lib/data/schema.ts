// The published dataset layouts the loaders know, how each is recognised from
// the fields of a row, and the field mapping that covers any other layout.
import { DataError, type DataLocation } from './records';

export type SchemaName = 'alpaca' | 'dolly' | 'sharegpt' | 'messages' | 'prompt_completion' | 'oasst' | 'preference' | 'hh_rlhf';

export interface SchemaInfo {
  kind: 'conversation' | 'preference';
  /** Fields every row must have. */
  required: readonly string[];
  /** Fields read when present. */
  optional: readonly string[];
  /** Where the layout comes from, for error messages and documentation. */
  layout: string;
}

/** The known layouts, in the order detection tries them (the more specific first). */
export const SCHEMAS: Readonly<Record<SchemaName, SchemaInfo>> = {
  oasst: {
    kind: 'conversation',
    required: ['message_id', 'parent_id', 'role', 'text'],
    optional: ['message_tree_id', 'rank', 'lang'],
    layout: 'OpenAssistant oasst1/oasst2 message rows (role prompter/assistant), rebuilt into trees',
  },
  preference: {
    kind: 'preference',
    required: ['chosen', 'rejected'],
    optional: ['prompt', 'prompt_id', 'score_chosen', 'score_rejected'],
    layout: 'TRL / UltraFeedback preferences: strings or message lists, prompt implicit when chosen and rejected carry it',
  },
  hh_rlhf: {
    kind: 'preference',
    required: ['chosen', 'rejected'],
    optional: [],
    layout: 'Anthropic HH-RLHF: "\\n\\nHuman: ... \\n\\nAssistant: ..." transcripts',
  },
  sharegpt: { kind: 'conversation', required: ['conversations'], optional: ['id', 'system'], layout: 'ShareGPT: conversations of {from, value}' },
  messages: { kind: 'conversation', required: ['messages'], optional: ['id'], layout: 'OpenAI / TRL chat: messages of {role, content}' },
  prompt_completion: { kind: 'conversation', required: ['prompt', 'completion'], optional: ['id'], layout: 'TRL prompt-completion: strings or message lists' },
  dolly: { kind: 'conversation', required: ['instruction', 'response'], optional: ['context', 'category'], layout: 'Databricks Dolly 15k' },
  alpaca: { kind: 'conversation', required: ['instruction', 'output'], optional: ['input'], layout: 'Stanford Alpaca' },
};

/** Any other layout: which field holds what. A field holding a list of {role, content} is read as messages. */
export interface ConversationMapping {
  kind: 'conversation';
  /** The user's turn: a string, or the messages before the reply. */
  prompt: string;
  /** The reply: a string, or assistant messages. */
  response: string;
  /** A system prompt to put first, when the field is non-empty. */
  system?: string;
  category?: string;
  /** The dataset's own record id. */
  id?: string;
}

export interface PreferenceMapping {
  kind: 'preference';
  /** Leave out when chosen and rejected are whole conversations that share their prompt. */
  prompt?: string;
  chosen: string;
  rejected: string;
  system?: string;
  category?: string;
  id?: string;
}

export type SchemaMapping = ConversationMapping | PreferenceMapping;

export function isSchemaName(name: unknown): name is SchemaName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(SCHEMAS, name);
}

/** The known schemas and their fields, as a sentence for error messages. */
export function describeSchemas(): string {
  return (Object.entries(SCHEMAS) as [SchemaName, SchemaInfo][])
    .map(([name, s]) => `${name} (${s.required.join(', ')}${s.optional.length ? `; optional ${s.optional.join(', ')}` : ''})`)
    .join(', ');
}

/** A string that is not a list written as JSON text (as CSV holds lists). */
function isTranscript(v: unknown): boolean {
  return typeof v === 'string' && !v.trimStart().startsWith('[');
}

function present(row: Record<string, unknown> | undefined, fields: Set<string>, name: string): boolean {
  return fields.has(name) && (row === undefined || (row[name] !== undefined && row[name] !== null));
}

/**
 * The layout a row (or a list of field names) is in. From a row, chosen and
 * rejected without a prompt are told apart by their values: transcripts
 * (strings) are HH-RLHF, message lists are preferences with an implicit
 * prompt; from names alone they are taken as HH-RLHF.
 */
export function detectSchema(rowOrFields: Record<string, unknown> | readonly string[], at: DataLocation = { file: '(row)' }): SchemaName {
  const row = Array.isArray(rowOrFields) ? undefined : (rowOrFields as Record<string, unknown>);
  const fields = new Set(row ? Object.keys(row) : (rowOrFields as readonly string[]));
  const has = (...names: string[]) => names.every((n) => present(row, fields, n));
  if (has('message_id', 'role', 'text') && fields.has('parent_id')) return 'oasst';
  if (has('chosen', 'rejected')) {
    if (has('prompt')) return 'preference';
    if (row && !(isTranscript(row.chosen) && isTranscript(row.rejected))) return 'preference';
    return 'hh_rlhf';
  }
  if (has('conversations')) return 'sharegpt';
  if (has('messages')) return 'messages';
  if (has('prompt', 'completion')) return 'prompt_completion';
  if (has('instruction', 'response')) return 'dolly';
  if (has('instruction', 'output')) return 'alpaca';
  const found = [...fields].map((f) => JSON.stringify(f)).join(', ') || '(none)';
  throw new DataError(
    at,
    `no known schema matches the fields ${found}; the known schemas are ${describeSchemas()}. ` +
      `Name one with options.schema, or map the fields, e.g. { kind: 'conversation', prompt: 'question', response: 'answer' }`,
  );
}

/** Checks a mapping given by a caller, naming the option that is wrong. */
export function checkMapping(mapping: SchemaMapping, at: DataLocation): SchemaMapping {
  const m = mapping as unknown as Record<string, unknown>;
  if (m.kind !== 'conversation' && m.kind !== 'preference') {
    throw new DataError(at, `schema mapping: kind must be 'conversation' or 'preference', got ${JSON.stringify(m.kind)}`);
  }
  const required = m.kind === 'conversation' ? ['prompt', 'response'] : ['chosen', 'rejected'];
  const optional = m.kind === 'conversation' ? ['system', 'category', 'id'] : ['prompt', 'system', 'category', 'id'];
  for (const k of required) {
    if (typeof m[k] !== 'string' || m[k] === '') throw new DataError(at, `schema mapping: "${k}" must name the field that holds it, got ${JSON.stringify(m[k])}`);
  }
  for (const k of Object.keys(m)) {
    if (k === 'kind') continue;
    if (!required.includes(k) && !optional.includes(k)) {
      throw new DataError(at, `schema mapping: unknown key "${k}" for kind '${String(m.kind)}'; expected ${[...required, ...optional].join(', ')}`);
    }
    if (typeof m[k] !== 'string' && m[k] !== undefined) throw new DataError(at, `schema mapping: "${k}" must be a field name, got ${JSON.stringify(m[k])}`);
  }
  return mapping;
}
