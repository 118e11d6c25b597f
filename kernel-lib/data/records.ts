// The two records every dataset is normalised into, whatever its published
// layout: a conversation (instruction data) and a preference pair (a prompt
// with a chosen and a rejected reply). Loaders, the synthetic world,
// exploration and the trainers all speak these.

export type Role = 'system' | 'user' | 'assistant';

// A type alias, not an interface, so that messages pass straight to a chat
// template (whose ChatMessage allows extra fields).
export type Message = {
  role: Role;
  content: string;
};

export interface Conversation {
  kind: 'conversation';
  messages: Message[];
  /** Where it came from: a file path, or 'world' for the synthetic world. */
  source: string;
  /** Stable within the source (the dataset's own id, or file:line). */
  id: string;
  /** Task family / category where the dataset gives one (Dolly's category, the world's task family). */
  category?: string;
  /** Anything else the dataset carries that is worth keeping (e.g. a reference answer, a language tag). */
  meta?: Record<string, unknown>;
}

export interface PreferencePair {
  kind: 'preference';
  /** The shared conversation so far, ending with a user turn; multi-turn prompts are kept. */
  prompt: Message[];
  /** The preferred continuation: assistant message(s) after the prompt (usually one). */
  chosen: Message[];
  /** The dispreferred continuation. */
  rejected: Message[];
  source: string;
  id: string;
  category?: string;
  meta?: Record<string, unknown>;
}

export type DataRecord = Conversation | PreferencePair;

/** Where a bad record is: the file, the 1-based line (JSONL, CSV) or 0-based row (JSON array, Arrow, Parquet), and the field. */
export interface DataLocation {
  file: string;
  line?: number;
  row?: number;
  field?: string;
}

/** A record that cannot be read or normalised; the message names the file, line or row, and field, and what was expected. */
export class DataError extends Error {
  override readonly name = 'DataError';
  constructor(
    readonly location: DataLocation,
    readonly problem: string,
  ) {
    super(`${describeLocation(location)}: ${problem}`);
  }
}

export function describeLocation(at: DataLocation): string {
  const parts = [at.file];
  if (at.line !== undefined) parts.push(`line ${at.line}`);
  if (at.row !== undefined) parts.push(`row ${at.row}`);
  if (at.field !== undefined) parts.push(`field "${at.field}"`);
  return parts.join(', ');
}

/** The text of a reply made of one or more assistant messages. */
export function replyText(reply: Message[]): string {
  return reply.map((m) => m.content).join('\n');
}
