// Generations side by side: per prompt, each run's reply (e.g. before and
// after SFT) with a mark from the world's checker, as plain rows for the viz
// table helper (showTable / tableBundle).
import type { Conversation } from '../data';
import type { Row } from '../viz';
import { scoreReply, type ReplyLike, type ScoredReply } from './accuracy';
import { EvalError } from './errors';
import { promptMessages } from './replies';

export interface ReplyRun {
  name: string;
  /** One reply per task, in the tasks' order. */
  replies: ReplyLike[];
}

export interface SideBySideOptions {
  /** Only prompts where the runs' marks differ (what changed). */
  onlyChanged?: boolean;
  /** At most this many rows. */
  limit?: number;
}

/** '✓' when the checker accepts the reply, else '✗', with the oracle's verdict when it is neither exact nor plain wrong (e.g. '✗ padded'). */
export function replyMark(s: ScoredReply): string {
  if (s.exact) return '✓';
  return s.verdict === 'wrong' ? '✗' : `✗ ${s.verdict}`;
}

/**
 * Rows {id, family, prompt, reference, <run>, <run> ✓, ...}: the last user
 * message, the record's reference reply, and every run's reply and mark.
 */
export function sideBySide(tasks: Conversation[], runs: ReplyRun[], options: SideBySideOptions = {}): Row[] {
  if (runs.length === 0) throw new EvalError('sideBySide: no runs to show');
  const names = new Set<string>();
  for (const run of runs) {
    if (names.has(run.name)) throw new EvalError(`sideBySide: two runs are named ${JSON.stringify(run.name)}`);
    names.add(run.name);
    if (run.replies.length !== tasks.length) {
      throw new EvalError(`sideBySide: run ${JSON.stringify(run.name)} has ${run.replies.length} replies for ${tasks.length} tasks; expected one per task, in order`);
    }
  }
  const rows: Row[] = [];
  for (const [i, task] of tasks.entries()) {
    const marks = runs.map((run) => replyMark(scoreReply(task, run.replies[i])));
    if (options.onlyChanged && marks.every((m) => m === marks[0])) continue;
    const users = promptMessages(task, `sideBySide: task ${task.id}`).filter((m) => m.role === 'user');
    const row: Row = {
      id: task.id,
      family: task.category ?? '',
      prompt: users[users.length - 1].content,
      reference: typeof task.meta?.answer === 'string' ? task.meta.answer : '',
    };
    runs.forEach((run, k) => {
      const reply = run.replies[i];
      row[run.name] = typeof reply === 'string' ? reply : reply.text;
      row[`${run.name} ✓`] = marks[k];
    });
    rows.push(row);
    if (options.limit !== undefined && rows.length >= options.limit) break;
  }
  return rows;
}
