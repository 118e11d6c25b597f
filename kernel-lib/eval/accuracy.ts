// Exact-match accuracy on the world's tasks, per family and overall, with the
// world's own checkers; next to it the same match on the reply's content with
// filler sentences stripped (so a model that learned the padding of its
// demonstrations is not scored as if it knew nothing), the oracle judge's
// mean score, how often replies stop with the end-of-turn token, and length.
import type { Conversation } from '../data';
import { checkReply, oracleJudge, oracleScore, replyFlaws, taskParams, stripFillers, WORLD_FAMILIES, type Params, type ReplyFlaws, type Verdict } from '../data/world';

export { oracleScore };
import type { Decoder } from '../model';
import type { ChatTemplate } from '../text';
import { EvalError } from './errors';
import { generateReplies, type ChatTokenizer, type GeneratedReply, type GenerateRepliesOptions } from './replies';

/** A reply as a string (hand-written) or as generated (with its length and how it ended). */
export type ReplyLike = string | (Pick<GeneratedReply, 'text'> & Partial<Pick<GeneratedReply, 'tokenCount' | 'stoppedAtEndOfTurn'>>);

export interface ScoredReply {
  id: string;
  family: string;
  text: string;
  /** The family's checker accepts the reply as it is. */
  exact: boolean;
  /** It accepts the reply with filler sentences stripped (true whenever exact is). */
  content: boolean;
  /** The reply carries filler sentences. */
  padded: boolean;
  /** What imitation of flawed demonstrations shows (the world's replyFlaws): a made-up answer to an unanswerable request, a list in another format than asked, a refusal of an answerable request. */
  flaws: ReplyFlaws;
  /** The oracle judge's score (1 exact, 0.7 padded, ... 0 wrong) and verdict. */
  oracle: number;
  verdict: Verdict;
  /** The checker's reason when not exact. */
  reason?: string;
  tokenCount?: number;
  stoppedAtEndOfTurn?: boolean;
}

export interface AccuracyRow {
  /** A task family, or 'all' for every task pooled. */
  family: string;
  n: number;
  /** Share of replies the family's checker accepts. */
  accuracy: number;
  /** Share accepted once filler sentences are stripped. */
  contentAccuracy: number;
  /** Mean oracle judge score. */
  oracleScore: number;
  /** Share of replies with filler sentences. */
  padded: number;
  /** Share of the unanswerable (refusal-family) requests answered with something made up; null without such tasks. */
  madeUp: number | null;
  /** Share of the formatting requests answered in another format; null without such tasks. */
  wrongFormat: number | null;
  /** Share of answerable requests refused; null without such tasks. */
  refused: number | null;
  /** Share of replies that ended with the end-of-turn token (null for hand-written replies). */
  stopRate: number | null;
  /** Mean generated tokens, stop token included (null for hand-written replies). */
  meanTokens: number | null;
  meanChars: number;
}

export interface AccuracyReport {
  /** One row per family (world order), then 'all'. */
  rows: AccuracyRow[];
  overall: AccuracyRow;
  byFamily: Record<string, AccuracyRow>;
  scored: ScoredReply[];
}

function replyText(reply: ReplyLike): string {
  return typeof reply === 'string' ? reply : reply.text;
}

/** Scores one reply to one world task. */
export function scoreReply(task: Conversation, reply: ReplyLike): ScoredReply {
  const text = replyText(reply);
  if (typeof task.category !== 'string') throw new EvalError(`taskAccuracy: task ${task.id} has no category (expected a world task family)`);
  const direct = checkReply(task, text);
  const { core, padded } = stripFillers(text);
  const content = direct.correct || (core !== '' && checkReply(task, core).correct);
  const judged = oracleScore(task, text);
  const params = taskParams(task);
  const flaws = params ? replyFlaws({ family: task.category, params }, text) : oracleJudge.flaws(task, text);
  return {
    id: task.id,
    family: task.category,
    text,
    exact: direct.correct,
    content,
    padded,
    flaws,
    oracle: judged.score,
    verdict: judged.verdict,
    reason: direct.reason,
    tokenCount: typeof reply === 'string' ? undefined : reply.tokenCount,
    stoppedAtEndOfTurn: typeof reply === 'string' ? undefined : reply.stoppedAtEndOfTurn,
  };
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Family names in the world's order, then any others alphabetically. */
export function familyOrder(families: Iterable<string>): string[] {
  const seen = new Set(families);
  const known = WORLD_FAMILIES.filter((f) => seen.has(f));
  return [...known, ...[...seen].filter((f) => !(WORLD_FAMILIES as readonly string[]).includes(f)).sort()];
}

/** Share of `scored` where `f` holds; null when there is nothing to share out. */
function shareAmong(scored: ScoredReply[], f: (s: ScoredReply) => boolean): number | null {
  return scored.length ? mean(scored.map((s) => (f(s) ? 1 : 0))) : null;
}

/** The summary row of some scored replies. */
export function accuracyRow(family: string, scored: ScoredReply[]): AccuracyRow {
  const share = (f: (s: ScoredReply) => boolean) => mean(scored.map((s) => (f(s) ? 1 : 0)));
  const withStop = scored.filter((s) => s.stoppedAtEndOfTurn !== undefined);
  const withTokens = scored.filter((s) => s.tokenCount !== undefined);
  return {
    family,
    n: scored.length,
    accuracy: share((s) => s.exact),
    contentAccuracy: share((s) => s.content),
    oracleScore: mean(scored.map((s) => s.oracle)),
    padded: share((s) => s.padded),
    madeUp: shareAmong(scored.filter((s) => s.family === 'refusal'), (s) => s.flaws.madeUp),
    wrongFormat: shareAmong(scored.filter((s) => s.family === 'formatting'), (s) => s.flaws.wrongFormat),
    refused: shareAmong(scored.filter((s) => s.family !== 'refusal'), (s) => s.flaws.refused),
    stopRate: withStop.length ? mean(withStop.map((s) => (s.stoppedAtEndOfTurn ? 1 : 0))) : null,
    meanTokens: withTokens.length ? mean(withTokens.map((s) => s.tokenCount!)) : null,
    meanChars: mean(scored.map((s) => s.text.length)),
  };
}

/** Groups items by family, in familyOrder. */
export function byFamily<T extends { family: string }>(items: T[]): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    if (!groups.has(item.family)) groups.set(item.family, []);
    groups.get(item.family)!.push(item);
  }
  return familyOrder(groups.keys()).map((f) => [f, groups.get(f)!]);
}

/** Accuracy per family and overall ('all' pools every task, so large families weigh more) of `replies[i]` to `tasks[i]`. */
export function taskAccuracy(tasks: Conversation[], replies: ReplyLike[]): AccuracyReport {
  if (tasks.length !== replies.length) throw new EvalError(`taskAccuracy: ${tasks.length} tasks but ${replies.length} replies; expected one reply per task, in order`);
  if (tasks.length === 0) throw new EvalError('taskAccuracy: no tasks');
  const scored = tasks.map((t, i) => scoreReply(t, replies[i]));
  const rows = byFamily(scored).map(([family, group]) => accuracyRow(family, group));
  const overall = accuracyRow('all', scored);
  return { rows: [...rows, overall], overall, byFamily: Object.fromEntries(rows.map((r) => [r.family, r])), scored };
}

/** A world (loaded with loadWorld or made by generateWorld) or a list of task records. */
export type TaskSource = { sftTrain: Conversation[]; sftTest: Conversation[] } | Conversation[];

export interface TaskSelection {
  /** Which split of a world (default 'test', the held-out one). Ignored for a list of tasks. */
  split?: 'train' | 'test';
  /** Only these families. */
  families?: string[];
  /** At most this many tasks of each family, the first ones in file order (quick runs). */
  perFamily?: number;
}

/** The tasks to evaluate: a world's held-out split by default, or a given list, narrowed by family and count. */
export function selectTasks(source: TaskSource, selection: TaskSelection = {}): Conversation[] {
  const all = Array.isArray(source) ? source : (selection.split ?? 'test') === 'test' ? source.sftTest : source.sftTrain;
  const known = new Set(all.map((t) => t.category));
  for (const f of selection.families ?? []) {
    if (!known.has(f)) throw new EvalError(`selectTasks: no task of family ${JSON.stringify(f)}; families present: ${familyOrder([...known].filter((x): x is string => !!x)).join(', ')}`);
  }
  const wanted = selection.families ? new Set(selection.families) : null;
  const counts = new Map<string, number>();
  const out = all.filter((t) => {
    const f = t.category ?? '';
    if (wanted && !wanted.has(f)) return false;
    const n = counts.get(f) ?? 0;
    if (selection.perFamily !== undefined && n >= selection.perFamily) return false;
    counts.set(f, n + 1);
    return true;
  });
  if (out.length === 0) throw new EvalError('selectTasks: the selection holds no task');
  return out;
}

export interface EvaluateOptions extends GenerateRepliesOptions, TaskSelection {}

export interface Evaluation extends AccuracyReport {
  tasks: Conversation[];
  replies: GeneratedReply[];
}

/** Generates the model's replies to the selected tasks (held-out split by default) and scores them. */
export async function evaluateTasks(
  model: Decoder,
  tokenizer: ChatTokenizer,
  template: ChatTemplate,
  source: TaskSource,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const tasks = selectTasks(source, options);
  const replies = await generateReplies(model, tokenizer, template, tasks, options);
  return { ...taskAccuracy(tasks, replies), tasks, replies };
}
