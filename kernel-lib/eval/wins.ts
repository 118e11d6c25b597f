// Oracle win rates: each model's reply against the baseline's reply to the
// same task, judged by the world's rules. A tie counts half a win, as in the
// usual win-rate definition, so a model against itself scores exactly 0.5.
import type { Conversation } from '../data';
import { byFamily, oracleScore, type ReplyLike } from './accuracy';
import { EvalError } from './errors';

/** Which of two replies to a task is better: 'a', 'b' or 'tie'. */
export type PairJudge = (task: Conversation, a: string, b: string) => 'a' | 'b' | 'tie';

/** The oracle judge's rules (world/judge.ts, as oracleJudge.compare) on the record's own task. */
export const oraclePairJudge: PairJudge = (task, a, b) => {
  const [sa, sb] = [oracleScore(task, a).score, oracleScore(task, b).score];
  return sa > sb ? 'a' : sb > sa ? 'b' : 'tie';
};

export interface WinRow {
  /** A task family, or 'all'. */
  family: string;
  n: number;
  wins: number;
  ties: number;
  losses: number;
  /** (wins + ties / 2) / n */
  winRate: number;
}

/** Counts outcomes ('a' = a win for the model judged first). */
export function winRow(family: string, outcomes: ('a' | 'b' | 'tie')[]): WinRow {
  const wins = outcomes.filter((o) => o === 'a').length;
  const ties = outcomes.filter((o) => o === 'tie').length;
  return { family, n: outcomes.length, wins, ties, losses: outcomes.length - wins - ties, winRate: outcomes.length ? (wins + ties / 2) / outcomes.length : NaN };
}

/** Win rate of `replies` against `baseline` (one reply per task each), per family and over all tasks. */
export function winRates(tasks: Conversation[], replies: ReplyLike[], baseline: ReplyLike[], judge: PairJudge = oraclePairJudge): WinRow[] {
  if (replies.length !== tasks.length || baseline.length !== tasks.length) {
    throw new EvalError(`winRates: ${tasks.length} tasks, ${replies.length} replies and ${baseline.length} baseline replies; expected one of each per task, in order`);
  }
  const text = (r: ReplyLike) => (typeof r === 'string' ? r : r.text);
  const judged = tasks.map((task, i) => ({ family: task.category ?? '', outcome: judge(task, text(replies[i]), text(baseline[i])) }));
  return [
    ...byFamily(judged).map(([family, group]) => winRow(family, group.map((g) => g.outcome))),
    winRow('all', judged.map((g) => g.outcome)),
  ];
}
