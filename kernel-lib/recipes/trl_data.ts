// The records of a TRL recipe, checked and converted: TRL's dataset formats
// (conversational `messages`, `prompt` / `completion`, preference pairs
// `prompt` / `chosen` / `rejected`, and GRPO's prompts), and the workbook's own tokens in the
// columns TRL's trainers take ready-made (SFT's input_ids / labels, DPO's
// prompt_ids / chosen_ids / rejected_ids).
import type { PreferencePair } from '../data/records';
import { promptMessages, type PromptSource } from '../eval/replies';
import type { ChatMessage } from '../text/chat_types';
import type { SftRecord } from '../train/sft';
import type { EncodedPair } from '../train/preference_batch';

const ROLES = new Set(['system', 'user', 'assistant']);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value !== 'object') return JSON.stringify(value);
  const keys = Object.keys(value as object);
  return `an object with ${keys.length ? keys.slice(0, 6).map((k) => `"${k}"`).join(', ') : 'no fields'}`;
}

function messagesProblem(messages: unknown, field: string): string | null {
  if (!Array.isArray(messages) || messages.length === 0) return `${field} must be a non-empty array of {role, content}, got ${describe(messages)}`;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as { role?: unknown; content?: unknown } | null;
    if (typeof m !== 'object' || m === null || !ROLES.has(m.role as string) || typeof m.content !== 'string') {
      return `${field}[${i}] must be {role: "system" | "user" | "assistant", content: string}, got ${describe(m)}`;
    }
  }
  return null;
}

/** Checks every record is a conversation or a prompt-completion record, all of one kind; returns TRL's name for the kind. */
export function checkRecipeRecords(records: unknown): 'conversational' | 'prompt-completion' {
  if (!Array.isArray(records)) throw new Error(`exportTrlRecipe: records must be an array of conversations or prompt-completion records, got ${describe(records)}`);
  if (records.length === 0) throw new Error('exportTrlRecipe: records is empty; there is nothing to train on');
  let first: { kind: string; index: number } | undefined;
  records.forEach((r: any, i) => {
    const where = `exportTrlRecipe: records[${i}]${r && typeof r === 'object' && r.id !== undefined ? ` (${r.source ?? 'record'} ${r.id})` : ''}`;
    let problem: string | null;
    if (r && r.kind === 'conversation') {
      problem = messagesProblem(r.messages, 'messages');
    } else if (r && r.kind === 'prompt-completion') {
      const text = typeof r.prompt === 'string' && typeof r.completion === 'string';
      problem = text ? null : messagesProblem(r.prompt, 'prompt') ?? messagesProblem(r.completion, 'completion');
    } else {
      problem = `expected a conversation ({kind: "conversation", messages}) or a prompt-completion record ({kind: "prompt-completion", prompt, completion}), got ${describe(r)}`;
    }
    if (problem) throw new Error(`${where}: ${problem}`);
    if (!first) first = { kind: r.kind, index: i };
    else if (first.kind !== r.kind) {
      throw new Error(`${where}: a ${r.kind} record among ${first.kind} records (records[${first.index}] is one); TRL's SFTTrainer takes one format per dataset`);
    }
  });
  return first!.kind === 'conversation' ? 'conversational' : 'prompt-completion';
}

/** Checks every record is a preference pair ({kind: "preference", prompt, chosen, rejected}, each a list of messages). */
export function checkPreferenceRecords(records: unknown): 'preference' {
  if (!Array.isArray(records)) throw new Error(`exportTrlRecipe: records must be an array of preference pairs, got ${describe(records)}`);
  if (records.length === 0) throw new Error('exportTrlRecipe: records is empty; there is nothing to train on');
  records.forEach((r: any, i) => {
    const where = `exportTrlRecipe: records[${i}]${r && typeof r === 'object' && r.id !== undefined ? ` (${r.source ?? 'record'} ${r.id})` : ''}`;
    const problem = r && r.kind === 'preference'
      ? messagesProblem(r.prompt, 'prompt') ?? messagesProblem(r.chosen, 'chosen') ?? messagesProblem(r.rejected, 'rejected')
      : `expected a preference pair ({kind: "preference", prompt, chosen, rejected}) for a DPO recipe, got ${describe(r)}`;
    if (problem) throw new Error(`${where}: ${problem}`);
  });
  return 'preference';
}

const messages = (ms: { role: string; content: string }[]): ChatMessage[] => ms.map((m) => ({ role: m.role, content: m.content }) as ChatMessage);

/** One record in TRL's dataset format: only the fields TRL reads. */
export function trlRecord(record: SftRecord): Record<string, unknown> {
  if (record.kind === 'conversation') return { messages: messages(record.messages) };
  return {
    prompt: typeof record.prompt === 'string' ? record.prompt : messages(record.prompt),
    completion: typeof record.completion === 'string' ? record.completion : messages(record.completion),
  };
}

/** A pair in TRL's conversational preference format with an explicit prompt. */
export function trlPreferenceRecord(pair: PreferencePair): Record<string, unknown> {
  return { prompt: messages(pair.prompt), chosen: messages(pair.chosen), rejected: messages(pair.rejected) };
}

/** input_ids and labels: the label is the token where our mask trains it, else -100 (position 0 is never a target in either). */
export function tokenizedRecord(example: { ids: ArrayLike<number>; mask: ArrayLike<number> }): { input_ids: number[]; labels: number[] } {
  const input_ids = Array.from(example.ids);
  return { input_ids, labels: input_ids.map((id, t) => (example.mask[t] !== 0 ? id : -100)) };
}

/**
 * DPOTrainer's tokenized columns: the prompt's tokens (with the generation
 * prompt) and each reply's tokens after them, up to and including its
 * end-of-turn token, as encodeDpoPairs made them.
 */
export function tokenizedPair(pair: EncodedPair): { prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[] } {
  const n = pair.promptLength;
  if (n === undefined) throw new Error(`exportTrlRecipe: pair ${pair.id} has no promptLength (encode the pairs with encodeDpoPairs)`);
  return { prompt_ids: pair.chosen.slice(0, n), chosen_ids: pair.chosen.slice(n), rejected_ids: pair.rejected.slice(n) };
}

/**
 * Checks every record can be a GRPO prompt (a conversation, whose last
 * assistant turns are left out, a preference pair's prompt, or a list of
 * messages) and, where the oracle is a reward, a world task it can judge (a
 * conversation record). Returns the prompts in TRL's conversational format.
 */
export function checkPromptRecords(records: unknown, needTasks: boolean): ChatMessage[][] {
  if (!Array.isArray(records)) throw new Error(`exportTrlRecipe: records must be an array of prompts (conversations, preference pairs or message lists), got ${describe(records)}`);
  if (records.length === 0) throw new Error('exportTrlRecipe: records is empty; there are no prompts to sample from');
  return records.map((r: any, i) => {
    const where = `exportTrlRecipe: records[${i}]${r && typeof r === 'object' && !Array.isArray(r) && r.id !== undefined ? ` (${r.source ?? 'record'} ${r.id})` : ''}`;
    const list = Array.isArray(r) ? r : r && typeof r === 'object' ? (r.messages ?? r.prompt) : undefined;
    const problem = messagesProblem(list, Array.isArray(r) ? 'the record' : r?.messages ? 'messages' : 'prompt');
    if (problem) throw new Error(`${where}: ${problem}`);
    if (needTasks && !(r.kind === 'conversation' && typeof r.category === 'string')) {
      throw new Error(`${where}: the oracle reward judges world tasks (conversation records with their category and task), got ${describe(r)}; use a reward model for other prompts`);
    }
    return messages(promptMessages(r as PromptSource, where));
  });
}

/** A GRPO dataset row: the prompt, and for a world task the record the oracle judges by, as JSON (its fields differ by family). */
export function trlPromptRecord(prompt: ChatMessage[], record: unknown, withTask: boolean): Record<string, unknown> {
  return withTask ? { prompt, world_task: JSON.stringify(record) } : { prompt };
}
