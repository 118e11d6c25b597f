// checkReply: the exact checker of a world record's family, applied to any
// reply. It reads only the record's category and meta.params, so it works on
// records loaded from disk without the world's facts.
import { replyText, type Conversation, type Message, type PreferencePair } from '../records';
import type { Check, Params } from './family';
import { familyNamed } from './families';

/** Anything that carries a world task: a Conversation or PreferencePair made by the world, or { category, meta: { params } }. */
export type CheckableTask = Conversation | PreferencePair | { id?: string; category?: string; meta?: Record<string, unknown> };

export function checkReply(task: CheckableTask, reply: string | Message[]): Check {
  const where = `world check${task.id ? ` (${task.id})` : ''}`;
  if (typeof task.category !== 'string') throw new Error(`${where}: the record has no category (expected a world task family)`);
  const params = task.meta?.params;
  if (!params || typeof params !== 'object' || typeof (params as Params).op !== 'string') {
    throw new Error(`${where}: meta.params is missing or has no "op" (expected a record made by the world generator)`);
  }
  return familyNamed(task.category).check(params as Params, typeof reply === 'string' ? reply : replyText(reply));
}
