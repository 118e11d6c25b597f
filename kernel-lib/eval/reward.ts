// A reward model judged on held-out preference pairs: pairwise accuracy
// (chosen scored above rejected, as TRL's reward trainer counts it: a tie is
// a miss) overall and per preference rule, mean margin, agreement with the
// oracle judge, the reward distributions of chosen and rejected replies, and
// a length-bias check: does it simply prefer the longer reply?
// The reward model is any scorer of (prompt, reply).
import type { PreferencePair } from '../data';
import { PREFERENCE_RULES, replyText } from '../data';
import { tableBundle, type MimeBundle, type PlotlyFigure } from '../viz';
import { oracleScore } from './accuracy';
import type { ReplyScorer } from './compare';
import { EvalError } from './errors';

export interface ScoredPair {
  id: string;
  /** meta.rule of a world pair, else 'unlabelled'. */
  rule: string;
  family: string;
  chosen: number;
  rejected: number;
  /** chosen - rejected */
  margin: number;
  chosenChars: number;
  rejectedChars: number;
  /** Which reply the oracle judge prefers. */
  oracle: 'chosen' | 'rejected' | 'tie';
}

export interface RewardRow {
  /** A preference rule, or 'all'. */
  rule: string;
  n: number;
  /** Share of pairs with chosen scored strictly above rejected. */
  accuracy: number;
  meanMargin: number;
  meanChosen: number;
  meanRejected: number;
  /** Share of pairs the oracle does not tie on where the higher score goes to the reply the oracle prefers. */
  oracleAgreement: number;
}

export interface LengthBias {
  /** Pairs whose replies differ in length. */
  n: number;
  /** Among them, the share where the reward model scores the longer reply higher. */
  prefersLonger: number;
  /** The same share for the oracle judge: what an unbiased reward model would show on these pairs. */
  oraclePrefersLonger: number;
  /** Pairwise accuracy where the chosen reply is the longer one, and where it is the shorter one (NaN when none). */
  accuracyChosenLonger: number;
  accuracyChosenShorter: number;
  /** Pearson correlation of the margin with (chosen length - rejected length) in characters. */
  marginLengthCorrelation: number;
}

export interface RewardReport {
  /** One row per rule (in PREFERENCE_RULES order as found), then 'all'. */
  rows: RewardRow[];
  overall: RewardRow;
  pairs: ScoredPair[];
  lengthBias: LengthBias;
  /** Overlaid histograms of chosen and rejected rewards. */
  histogram: PlotlyFigure;
  table: MimeBundle;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

function correlation(xs: number[], ys: number[]): number {
  const [mx, my] = [mean(xs), mean(ys)];
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    sxy += (x - mx) * (ys[i] - my);
    sxx += (x - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  });
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

function rewardRow(rule: string, pairs: ScoredPair[]): RewardRow {
  const judged = pairs.filter((p) => p.oracle !== 'tie');
  return {
    rule,
    n: pairs.length,
    accuracy: mean(pairs.map((p) => (p.margin > 0 ? 1 : 0))),
    meanMargin: mean(pairs.map((p) => p.margin)),
    meanChosen: mean(pairs.map((p) => p.chosen)),
    meanRejected: mean(pairs.map((p) => p.rejected)),
    oracleAgreement: mean(judged.map((p) => ((p.oracle === 'chosen' ? p.margin > 0 : p.margin < 0) ? 1 : 0))),
  };
}

/** The length-bias figures of scored pairs. */
export function lengthBias(pairs: ScoredPair[]): LengthBias {
  const differ = pairs.filter((p) => p.chosenChars !== p.rejectedChars);
  const longerChosen = (p: ScoredPair) => p.chosenChars > p.rejectedChars;
  return {
    n: differ.length,
    prefersLonger: mean(differ.map((p) => ((longerChosen(p) ? p.margin > 0 : p.margin < 0) ? 1 : 0))),
    oraclePrefersLonger: mean(differ.map((p) => ((longerChosen(p) ? p.oracle === 'chosen' : p.oracle === 'rejected') ? 1 : 0))),
    accuracyChosenLonger: mean(differ.filter(longerChosen).map((p) => (p.margin > 0 ? 1 : 0))),
    accuracyChosenShorter: mean(differ.filter((p) => !longerChosen(p)).map((p) => (p.margin > 0 ? 1 : 0))),
    marginLengthCorrelation: correlation(pairs.map((p) => p.margin), pairs.map((p) => p.chosenChars - p.rejectedChars)),
  };
}

/** Scores every pair's chosen and rejected reply with `scorer` (e.g. the reward model) and reports as above. */
export async function rewardModelReport(pairs: PreferencePair[], scorer: ReplyScorer, options: { title?: string } = {}): Promise<RewardReport> {
  if (pairs.length === 0) throw new EvalError('rewardModelReport: no preference pairs');
  const scored: ScoredPair[] = [];
  for (const pair of pairs) {
    const [chosenText, rejectedText] = [replyText(pair.chosen), replyText(pair.rejected)];
    const task = { kind: 'conversation' as const, messages: [...pair.prompt, ...pair.chosen], source: pair.source, id: pair.id, category: pair.category, meta: pair.meta };
    const [chosen, rejected] = [await scorer(pair.prompt, chosenText, task), await scorer(pair.prompt, rejectedText, task)];
    for (const [which, v] of [['chosen', chosen], ['rejected', rejected]] as const) {
      if (!Number.isFinite(v)) throw new EvalError(`rewardModelReport: the scorer gave ${v} for the ${which} reply of pair ${pair.id}; expected a finite number`);
    }
    const [a, b] = [oracleScore(task, chosenText).score, oracleScore(task, rejectedText).score];
    scored.push({
      id: pair.id,
      rule: typeof pair.meta?.rule === 'string' ? pair.meta.rule : 'unlabelled',
      family: pair.category ?? '',
      chosen,
      rejected,
      margin: chosen - rejected,
      chosenChars: chosenText.length,
      rejectedChars: rejectedText.length,
      oracle: a > b ? 'chosen' : b > a ? 'rejected' : 'tie',
    });
  }
  const order = (rule: string) => {
    const i = (PREFERENCE_RULES as readonly string[]).indexOf(rule);
    return i < 0 ? PREFERENCE_RULES.length : i;
  };
  const rules = [...new Set(scored.map((p) => p.rule))].sort((x, y) => order(x) - order(y) || x.localeCompare(y));
  const rows = [...rules.map((r) => rewardRow(r, scored.filter((p) => p.rule === r))), rewardRow('all', scored)];
  const histogram: PlotlyFigure = {
    data: (['chosen', 'rejected'] as const).map((which) => ({ type: 'histogram', name: which, x: scored.map((p) => p[which]), opacity: 0.6 })),
    layout: { title: { text: options.title ?? 'reward of chosen and rejected replies (held-out pairs)' }, barmode: 'overlay', xaxis: { title: { text: 'reward' } }, yaxis: { title: { text: 'pairs' } }, height: 380 },
  };
  return { rows, overall: rows[rows.length - 1], pairs: scored, lengthBias: lengthBias(scored), histogram, table: tableBundle(rows, { caption: `${pairs.length} preference pairs` }) };
}
