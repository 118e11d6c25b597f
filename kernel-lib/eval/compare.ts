// Several checkpoints (base, SFT, later DPO and RL) on the same held-out
// tasks, per family and overall: accuracy, the oracle's win rate against a
// baseline model, KL from a reference model, an optional reward-model score,
// and reply length. Plain rows, plus a table and a bar chart for the notebook.
import type { Conversation, Message } from '../data';
import type { Decoder } from '../model';
import type { ChatTemplate } from '../text';
import { barChart, displayBundle, showPlot, tableBundle, type MimeBundle, type PlotlyFigure } from '../viz';
import { accuracyRow, byFamily, scoreReply, selectTasks, type TaskSelection, type TaskSource } from './accuracy';
import { EvalError } from './errors';
import { replyDivergences, type ReplyDivergence } from './kl';
import { oraclePairJudge, winRow, type PairJudge } from './wins';
import { encodePrompts, generateReplies, progressLines, promptMessages, type ChatTokenizer, type GeneratedReply, type GenerateRepliesOptions } from './replies';

export interface CompareEntry {
  name: string;
  model: Decoder;
  tokenizer: ChatTokenizer;
  template: ChatTemplate;
}

/** Scores a reply to a prompt (e.g. a reward model); averaged per family. */
export type ReplyScorer = (prompt: Message[], reply: string, task: Conversation) => number | Promise<number>;

export interface CompareOptions extends Omit<GenerateRepliesOptions, 'label' | 'onProgress'>, TaskSelection {
  /** A world (its held-out split by default) or the tasks themselves. */
  tasks: TaskSource;
  /** Name of the model the others are judged against (default: the first). */
  baseline?: string;
  /** The KL reference: an entry's name or another model (default: the baseline); null for no KL. */
  reference?: string | CompareEntry | null;
  /** A reward model's score, or any scorer of (prompt, reply). */
  scorer?: ReplyScorer;
  /** Decides wins (default: the oracle judge on the record's task). */
  judge?: PairJudge;
  /** Rows per teacher-forced batch for KL (default 8). */
  klBatchSize?: number;
  /** Print a progress line per tenth of each model's generation (default false). */
  progress?: boolean;
}

export interface CompareRow {
  model: string;
  /** A task family, or 'all'. */
  family: string;
  n: number;
  accuracy: number;
  contentAccuracy: number;
  oracleScore: number;
  stopRate: number | null;
  meanTokens: number | null;
  /** (wins + ties / 2) / n against the baseline's reply to the same task. */
  winRate: number;
  wins: number;
  ties: number;
  losses: number;
  /** Exact KL(model || reference) of the next-token distributions, per reply position (see kl.ts); null without a reference. */
  kl: number | null;
  /** Mean per reply token of log p_model - log p_ref, the k1 estimate (see kl.ts: it can be negative on greedy replies); null without a reference. */
  logRatio: number | null;
  /** Mean scorer value; null without a scorer. */
  reward: number | null;
}

export type CompareMetric = 'accuracy' | 'contentAccuracy' | 'oracleScore' | 'stopRate' | 'meanTokens' | 'winRate' | 'kl' | 'logRatio' | 'reward';

export interface CompareResult {
  rows: CompareRow[];
  tasks: Conversation[];
  /** Each model's replies, in the tasks' order. */
  replies: Record<string, GeneratedReply[]>;
  baseline: string;
  reference: string | null;
  /** The rows as a table (HTML and text). */
  table: MimeBundle;
  /** Held-out accuracy per family, a bar per model. */
  chart: PlotlyFigure;
  /** Shows the table and the accuracy and win-rate charts. */
  show(): void;
}

interface Scored {
  family: string;
  task: Conversation;
  reply: GeneratedReply;
  outcome: 'a' | 'b' | 'tie';
  divergence?: ReplyDivergence;
  reward?: number;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

function summaryRow(model: string, family: string, items: Scored[], hasKl: boolean, hasReward: boolean): CompareRow {
  const acc = accuracyRow(family, items.map((s) => scoreReply(s.task, s.reply)));
  const wins = winRow(family, items.map((s) => s.outcome));
  const tokens = items.reduce((a, s) => a + (s.divergence?.tokens ?? 0), 0);
  const perToken = (f: (d: ReplyDivergence) => number) => (hasKl && tokens > 0 ? items.reduce((a, s) => a + f(s.divergence!), 0) / tokens : null);
  return {
    model,
    family,
    n: items.length,
    accuracy: acc.accuracy,
    contentAccuracy: acc.contentAccuracy,
    oracleScore: acc.oracleScore,
    stopRate: acc.stopRate,
    meanTokens: acc.meanTokens,
    winRate: wins.winRate,
    wins: wins.wins,
    ties: wins.ties,
    losses: wins.losses,
    kl: perToken((d) => d.kl),
    logRatio: perToken((d) => d.logRatio),
    reward: hasReward ? mean(items.map((s) => s.reward!)) : null,
  };
}

/** A grouped bar chart of one metric: families (and 'all') along x, a bar per model. */
export function compareChart(rows: CompareRow[], metric: CompareMetric = 'accuracy', title?: string): PlotlyFigure {
  const models = [...new Set(rows.map((r) => r.model))];
  const families = [...new Set(rows.map((r) => r.family))];
  const percent = metric === 'accuracy' || metric === 'contentAccuracy' || metric === 'stopRate' || metric === 'winRate';
  const value = (m: string, f: string): number | null => {
    const v = rows.find((r) => r.model === m && r.family === f)?.[metric];
    return v === null || v === undefined || Number.isNaN(v) ? null : percent ? 100 * v : v;
  };
  return barChart(families, models.map((m) => ({ name: m, values: families.map((f) => value(m, f)) })), {
    title: title ?? `${metric}${percent ? ' (%)' : ''} by task family`,
    categoryTitle: 'task family',
    valueTitle: percent ? `${metric} (%)` : metric,
    range: percent ? [0, 100] : undefined,
    height: 420,
  });
}

function checkEntries(entries: CompareEntry[], options: CompareOptions): { baseline: CompareEntry; reference: CompareEntry | null } {
  if (entries.length === 0) throw new EvalError('compare: no models to compare');
  const names = entries.map((e) => e.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new EvalError(`compare: two models are named ${JSON.stringify(dup)}; names key the rows`);
  const find = (name: string, what: string) => {
    const e = entries.find((x) => x.name === name);
    if (!e) throw new EvalError(`compare: ${what} ${JSON.stringify(name)} is not among the models (${names.join(', ')})`);
    return e;
  };
  const baseline = options.baseline === undefined ? entries[0] : find(options.baseline, 'baseline');
  const ref = options.reference;
  const reference = ref === null ? null : ref === undefined ? baseline : typeof ref === 'string' ? find(ref, 'reference') : ref;
  return { baseline, reference };
}

/** Compares models on the same tasks; see CompareRow for what each figure means. */
export async function compare(entries: CompareEntry[], options: CompareOptions): Promise<CompareResult> {
  const { baseline, reference } = checkEntries(entries, options);
  const tasks = selectTasks(options.tasks, options);
  const judge = options.judge ?? oraclePairJudge;
  const replies: Record<string, GeneratedReply[]> = {};
  for (const e of entries) {
    replies[e.name] = await generateReplies(e.model, e.tokenizer, e.template, tasks, {
      ...options,
      label: e.name,
      onProgress: options.progress ? progressLines(`compare: ${e.name}`) : undefined,
    });
  }
  // The reference's own rendering of each prompt: KL compares the two models on the same ids.
  const referenceIds = !reference
    ? null
    : entries.includes(reference)
      ? replies[reference.name].map((r) => r.promptIds)
      : encodePrompts(reference.model, reference.tokenizer, reference.template, tasks, { ...options, maxNewTokens: 1, label: reference.name });
  const rows: CompareRow[] = [];
  for (const e of entries) {
    const own = replies[e.name];
    let divergences: ReplyDivergence[] | undefined;
    if (reference && referenceIds) {
      own.forEach((r, i) => {
        const refIds = referenceIds![i];
        if (refIds.length !== r.promptIds.length || refIds.some((id, k) => id !== r.promptIds[k])) {
          throw new EvalError(
            `compare: ${e.name} and the KL reference ${reference.name} encode task ${tasks[i].id} differently (${r.promptIds.length} vs ${refIds.length} ids); KL needs the same tokenizer and template`,
          );
        }
      });
      divergences = await replyDivergences(e.model, reference.model, own, { batchSize: options.klBatchSize, label: `${e.name} vs ${reference.name}` });
    }
    const scored: Scored[] = [];
    for (const [i, task] of tasks.entries()) {
      // promptMessages returns a slice of the record's own messages, so they are Message[].
      const reward = options.scorer ? await options.scorer(promptMessages(task, `compare: task ${task.id}`) as Message[], own[i].text, task) : undefined;
      if (reward !== undefined && !Number.isFinite(reward)) throw new EvalError(`compare: the scorer gave ${reward} for ${e.name}'s reply to task ${task.id}; expected a finite number`);
      scored.push({
        family: task.category ?? '',
        task,
        reply: own[i],
        outcome: judge(task, own[i].text, replies[baseline.name][i].text),
        divergence: divergences?.[i],
        reward,
      });
    }
    const hasKl = divergences !== undefined;
    for (const [family, group] of byFamily(scored)) rows.push(summaryRow(e.name, family, group, hasKl, !!options.scorer));
    rows.push(summaryRow(e.name, 'all', scored, hasKl, !!options.scorer));
  }
  const table = tableBundle(rows, { caption: `${tasks.length} tasks · win rate against ${baseline.name}${reference ? ` · KL from ${reference.name}` : ''}`, maxRows: rows.length });
  const chart = compareChart(rows, 'accuracy', 'held-out exact match (%) by task family');
  return {
    rows,
    tasks,
    replies,
    baseline: baseline.name,
    reference: reference?.name ?? null,
    table,
    chart,
    show() {
      displayBundle(table);
      showPlot(chart);
      showPlot(compareChart(rows, 'winRate', `oracle win rate (%) against ${baseline.name}`));
    },
  };
}
