// One row of a known layout (or a field mapping) to one record. OpenAssistant
// is the exception, a record per path through a tree of rows: see schema_oasst.
import type { Conversation, DataRecord, Message, PreferencePair } from './records';
import { describeValue } from './read_plain';
import { isSchemaName, type ConversationMapping, type PreferenceMapping, type SchemaMapping, type SchemaName } from './schema';
import {
  checkConversation,
  checkPreference,
  fail,
  fieldValue,
  numberValue,
  optionalText,
  readMessages,
  readShareGpt,
  recordId,
  requireText,
  requireValue,
  splitSharedPrompt,
  textOrMessages,
  type RowContext,
  type Turn,
} from './schema_fields';
import { splitHhPair, type HhTurn } from './schema_hh';

/** A row as a record; a DataError naming the row and field when it is not one. */
export function normaliseRow(row: Record<string, unknown>, schema: SchemaName | SchemaMapping, ctx: RowContext): DataRecord {
  if (!isSchemaName(schema)) return schema.kind === 'conversation' ? mappedConversation(row, schema, ctx) : mappedPreference(row, schema, ctx);
  switch (schema) {
    case 'alpaca':
      return instruction(row, ctx, 'input', 'output');
    case 'dolly':
      return instruction(row, ctx, 'context', 'response');
    case 'sharegpt':
      return sharegpt(row, ctx);
    case 'messages':
      return chat(row, ctx);
    case 'prompt_completion':
      return mappedConversation(row, { kind: 'conversation', prompt: 'prompt', response: 'completion', id: 'id' }, ctx);
    case 'preference':
      return ultraFeedback(row, ctx);
    case 'hh_rlhf':
      return hhRlhf(row, ctx);
    case 'oasst':
      throw new Error('normaliseRow: OpenAssistant rows make records per tree, not per row; use oasstConversations');
  }
}

function conversation(messages: Message[], row: Record<string, unknown>, ctx: RowContext, idFields: readonly string[], category?: string): Conversation {
  const rec: Conversation = { kind: 'conversation', messages, source: ctx.source, id: recordId(row, idFields, ctx) };
  if (category !== undefined) rec.category = category;
  return rec;
}

/**
 * Alpaca (instruction, input, output) and Dolly (instruction, context,
 * response, category): the user's turn is the instruction, followed after a
 * blank line by the input or context when there is one.
 */
function instruction(row: Record<string, unknown>, ctx: RowContext, extraField: string, replyField: string): Conversation {
  const ask = requireText(row, 'instruction', ctx, 'instruction');
  const extra = optionalText(row, extraField, ctx);
  const reply = requireText(row, replyField, ctx, 'reply');
  const messages: Message[] = [
    { role: 'user', content: extra === undefined ? ask : `${ask}\n\n${extra}` },
    { role: 'assistant', content: reply },
  ];
  return conversation(messages, row, ctx, ['id'], optionalText(row, 'category', ctx));
}

/** ShareGPT; some exports carry the system prompt in a top-level `system` field instead of a turn. */
function sharegpt(row: Record<string, unknown>, ctx: RowContext): Conversation {
  const turns = readShareGpt(requireValue(row, 'conversations', ctx, 'a list of {from, value} turns'), ctx, 'conversations');
  const system = optionalText(row, 'system', ctx);
  if (system !== undefined && !turns.some((t) => t.role === 'system')) turns.unshift({ role: 'system', content: system, field: 'system' });
  return conversation(checkConversation(turns, ctx, 'conversations'), row, ctx, ['id']);
}

/** OpenAI / TRL chat: a list of {role, content} messages. */
function chat(row: Record<string, unknown>, ctx: RowContext): Conversation {
  const turns = readMessages(requireValue(row, 'messages', ctx, 'a list of {role, content} messages'), ctx, 'messages');
  return conversation(checkConversation(turns, ctx, 'messages'), row, ctx, ['id']);
}

function systemTurn(row: Record<string, unknown>, field: string | undefined, ctx: RowContext): Turn[] {
  if (field === undefined) return [];
  const text = optionalText(row, field, ctx);
  return text === undefined ? [] : [{ role: 'system', content: text, field }];
}

function withCategory<T extends DataRecord>(rec: T, row: Record<string, unknown>, ctx: RowContext, category: string | undefined): T {
  if (category !== undefined) {
    const v = fieldValue(row, category);
    if (v !== undefined) {
      if (typeof v !== 'string' && typeof v !== 'number') fail(ctx, category, `expected a category name, got ${describeValue(v)}`);
      rec.category = String(v);
    }
  }
  return rec;
}

/** TRL prompt-completion, and any conversation layout named by a mapping. */
function mappedConversation(row: Record<string, unknown>, m: ConversationMapping, ctx: RowContext): Conversation {
  const turns = [...systemTurn(row, m.system, ctx), ...textOrMessages(row, m.prompt, ctx, 'user'), ...textOrMessages(row, m.response, ctx, 'assistant')];
  const messages = checkConversation(turns, ctx, m.response);
  return withCategory(conversation(messages, row, ctx, m.id ? [m.id] : []), row, ctx, m.category);
}

/**
 * Preference pairs in TRL's four shapes: prompt, chosen and rejected as
 * strings or as message lists; or chosen and rejected as whole conversations
 * (UltraFeedback binarized, TRL's implicit prompt) whose shared opening is
 * the prompt. A prompt given beside whole conversations must agree with them.
 */
function mappedPreference(row: Record<string, unknown>, m: PreferenceMapping, ctx: RowContext): PreferencePair {
  const chosenAll = textOrMessages(row, m.chosen, ctx, 'assistant');
  const rejectedAll = textOrMessages(row, m.rejected, ctx, 'assistant');
  const givenPrompt = m.prompt === undefined ? undefined : fieldValue(row, m.prompt) === undefined ? undefined : textOrMessages(row, m.prompt, ctx, 'user');
  let prompt: Turn[];
  let chosen = chosenAll;
  let rejected = rejectedAll;
  if (chosenAll.some((t) => t.role !== 'assistant')) {
    ({ prompt, chosen, rejected } = splitSharedPrompt(chosenAll, rejectedAll));
    if (prompt.length === 0) fail(ctx, m.rejected, `chosen and rejected share no opening user turn; expected whole conversations with the same prompt`);
    if (givenPrompt) agree(givenPrompt, prompt, ctx, m.prompt as string);
  } else {
    prompt = givenPrompt ?? fail(ctx, m.prompt ?? 'prompt', 'missing; expected the prompt (chosen and rejected hold only the replies)');
  }
  const pair = checkPreference([...systemTurn(row, m.system, ctx), ...prompt], chosen, rejected, ctx, {
    prompt: m.prompt ?? m.chosen,
    chosen: m.chosen,
    rejected: m.rejected,
  });
  const rec: PreferencePair = { kind: 'preference', ...pair, source: ctx.source, id: recordId(row, m.id ? [m.id] : [], ctx) };
  return withCategory(rec, row, ctx, m.category);
}

/** A prompt field beside whole conversations: a string is their first user turn, a list their whole opening. */
function agree(given: Turn[], shared: Turn[], ctx: RowContext, field: string): void {
  const same =
    given.length === 1 && given[0].role === 'user'
      ? shared.find((t) => t.role === 'user')?.content.trim() === given[0].content.trim()
      : given.length <= shared.length && given.every((t, i) => t.role === shared[i].role && t.content === shared[i].content);
  if (!same) {
    const first = shared.find((t) => t.role === 'user')?.content ?? '';
    fail(ctx, field, `does not match the opening of chosen and rejected (their first user turn is ${describeValue(first)})`);
  }
}

/** TRL / UltraFeedback binarized: the mapping above, with UltraFeedback's id and scores. */
function ultraFeedback(row: Record<string, unknown>, ctx: RowContext): PreferencePair {
  const pair = mappedPreference(row, { kind: 'preference', prompt: 'prompt', chosen: 'chosen', rejected: 'rejected' }, ctx);
  pair.id = recordId(row, ['id', 'prompt_id'], ctx);
  const meta: Record<string, unknown> = {};
  for (const k of ['score_chosen', 'score_rejected']) {
    const v = numberValue(fieldValue(row, k));
    if (v !== undefined) meta[k] = v;
  }
  if (Object.keys(meta).length > 0) pair.meta = meta;
  return pair;
}

function hhTranscript(row: Record<string, unknown>, field: 'chosen' | 'rejected', ctx: RowContext): string {
  const text = requireValue(row, field, ctx, 'an HH-RLHF transcript string');
  if (typeof text !== 'string') fail(ctx, field, `expected an HH-RLHF transcript string, got ${describeValue(text)}`);
  return text;
}

/** HH-RLHF: the shared dialogue up to the last Assistant marker is the prompt, what follows it in each transcript the reply (see schema_hh). */
function hhRlhf(row: Record<string, unknown>, ctx: RowContext): PreferencePair {
  const split = splitHhPair(hhTranscript(row, 'chosen', ctx), hhTranscript(row, 'rejected', ctx));
  if ('problem' in split) fail(ctx, split.field, `transcript does not parse: ${split.problem}`);
  const turns = (field: 'chosen' | 'rejected', list: HhTurn[]): Turn[] => list.map((t) => ({ ...t, field }));
  const reply = (field: 'chosen' | 'rejected'): Turn[] => turns(field, [{ role: 'assistant', content: split[field] }]);
  const pair = checkPreference(turns('chosen', split.prompt), reply('chosen'), reply('rejected'), ctx, { prompt: 'chosen', chosen: 'chosen', rejected: 'rejected' });
  return { kind: 'preference', ...pair, source: ctx.source, id: recordId(row, ['id'], ctx) };
}
