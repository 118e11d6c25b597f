// Accuracy per family on the world's held-out tasks with hand-made replies
// (the reference, the reference padded with fillers, a wrong answer), win
// counts against a baseline, side-by-side rows, and task selection.
import * as assert from 'node:assert/strict';
import { oracleJudge, REFUSAL, type Conversation } from '../../kernel-lib/data';
import { EvalError, oraclePairJudge, selectTasks, sideBySide, taskAccuracy, winRates, type ReplyLike } from '../../kernel-lib/eval';
import { testWorld } from './helpers';

const answer = (t: Conversation) => t.meta!.answer as string;
const padded = (t: Conversation) => `Sure! ${answer(t)} I hope this helps.`;
const wrong = (t: Conversation) => (t.category === 'refusal' ? 'Bob lives in a den.' : REFUSAL);

describe('eval/accuracy', () => {
  // Per family, the first 5 held-out tasks: replies correct, correct, padded, wrong, wrong.
  const tasks = selectTasks(testWorld(), { perFamily: 5 });
  const kinds = ['correct', 'correct', 'padded', 'wrong', 'wrong'] as const;
  /** How many tasks of the same family come before task i. */
  const position = (i: number) => tasks.slice(0, i).filter((t) => t.category === tasks[i].category).length;
  const replies: ReplyLike[] = tasks.map((t, i) => {
    const kind = kinds[position(i)];
    const text = kind === 'correct' ? answer(t) : kind === 'padded' ? padded(t) : wrong(t);
    // Generated-style replies: the first of each family ran out of tokens, the rest stopped.
    return { text, tokenCount: text.length, stoppedAtEndOfTurn: position(i) > 0 };
  });

  it('selects the held-out split by default, a few per family, in file order', () => {
    assert.equal(tasks.length, 50);
    assert.ok(tasks.every((t) => t.meta!.split === 'test'));
    const train = selectTasks(testWorld(), { split: 'train', perFamily: 1, families: ['sorting', 'counting'] });
    assert.deepEqual(train.map((t) => [t.category, t.meta!.split]), [['counting', 'train'], ['sorting', 'train']]);
    assert.equal(train[0].id, testWorld().sftTrain.find((t) => t.category === 'counting')!.id);
    assert.throws(() => selectTasks(testWorld(), { families: ['poetry'] }), (e: Error) => e instanceof EvalError && /"poetry"/.test(e.message) && /arithmetic/.test(e.message));
  });

  it('scores exact match, content match with fillers stripped, oracle score, stop rate and length per family', () => {
    const report = taskAccuracy(tasks, replies);
    assert.deepEqual(report.rows.map((r) => r.family), [...new Set(tasks.map((t) => t.category))].concat('all'));
    for (const row of report.rows.slice(0, -1)) {
      const mine = tasks.flatMap((t, i) => (t.category === row.family ? [i] : []));
      const texts = mine.map((i) => (replies[i] as { text: string }).text);
      assert.equal(row.n, 5);
      assert.equal(row.accuracy, 2 / 5, row.family);
      assert.equal(row.contentAccuracy, 3 / 5, row.family);
      assert.equal(row.padded, 1 / 5, row.family);
      assert.ok(Math.abs(row.oracleScore - (1 + 1 + 0.7 + 0 + 0) / 5) < 1e-12, row.family);
      assert.equal(row.stopRate, 4 / 5);
      assert.equal(row.meanTokens, texts.reduce((a, t) => a + t.length, 0) / 5);
      assert.equal(row.meanChars, row.meanTokens);
    }
    // The wrong reply to a refusal task is made up; to any other task, a needless refusal.
    const refusal = report.byFamily.refusal;
    assert.deepEqual([refusal.madeUp, refusal.refused, refusal.wrongFormat], [2 / 5, null, null]);
    assert.deepEqual([report.byFamily.formatting.wrongFormat, report.byFamily.formatting.refused, report.byFamily.formatting.madeUp], [0, 2 / 5, null]);
    assert.deepEqual([report.overall.madeUp, report.overall.refused, report.overall.wrongFormat], [2 / 5, 18 / 45, 0]);
    assert.equal(report.overall.family, 'all');
    assert.equal(report.overall.n, 50);
    assert.equal(report.overall.accuracy, 20 / 50);
    assert.equal(report.overall.contentAccuracy, 30 / 50);
    assert.equal(report.byFamily.sorting, report.rows.find((r) => r.family === 'sorting'));
    const s = report.scored.find((x) => x.family === 'arithmetic' && !x.exact && x.content)!;
    assert.equal(s.verdict, 'padded');
  });

  it('hand-written string replies have no stop rate or token count', () => {
    const report = taskAccuracy(tasks.slice(0, 2), [answer(tasks[0]), 'nonsense']);
    assert.equal(report.overall.accuracy, 0.5);
    assert.equal(report.overall.stopRate, null);
    assert.equal(report.overall.meanTokens, null);
    assert.throws(() => taskAccuracy(tasks, replies.slice(1)), (e: Error) => e instanceof EvalError && /50 tasks but 49 replies/.test(e.message));
  });

  it('counts wins, ties and losses against a baseline, ties as half', () => {
    // Baseline: every task answered by the padded reply. Correct beats it, padded ties it, wrong loses.
    const baseline = tasks.map(padded);
    const rows = winRates(tasks, replies, baseline);
    for (const row of rows.slice(0, -1)) assert.deepEqual(row, { family: row.family, n: 5, wins: 2, ties: 1, losses: 2, winRate: (2 + 0.5) / 5 });
    assert.deepEqual(rows[rows.length - 1], { family: 'all', n: 50, wins: 20, ties: 10, losses: 20, winRate: 0.5 });
    const self = winRates(tasks, replies, replies);
    assert.ok(self.every((r) => r.ties === r.n && r.winRate === 0.5));
  });

  it('the default pair judge agrees with oracleJudge.compare on the world tasks', () => {
    for (const [i, t] of tasks.entries()) {
      const a = (replies[i] as { text: string }).text;
      for (const b of [answer(t), padded(t), wrong(t)]) assert.equal(oraclePairJudge(t, a, b), oracleJudge.compare(t, a, b), `${t.id}: ${a} vs ${b}`);
    }
  });

  it('puts two runs side by side with marks, and can keep only what changed', () => {
    const before = tasks.map(wrong);
    const rows = sideBySide(tasks, [{ name: 'base', replies: before }, { name: 'sft', replies }]);
    assert.equal(rows.length, 50);
    const first = rows[0];
    assert.deepEqual(Object.keys(first), ['id', 'family', 'prompt', 'reference', 'base', 'base ✓', 'sft', 'sft ✓']);
    assert.equal(first.prompt, tasks[0].messages.filter((m) => m.role === 'user').at(-1)!.content);
    assert.equal(first.reference, answer(tasks[0]));
    assert.equal(first['base ✓'], '✗');
    assert.equal(first['sft ✓'], '✓');
    assert.equal(rows[2]['sft ✓'], '✗ padded');
    const changed = sideBySide(tasks, [{ name: 'base', replies: before }, { name: 'sft', replies }], { onlyChanged: true });
    assert.equal(changed.length, 30);
    assert.equal(sideBySide(tasks, [{ name: 'sft', replies }], { limit: 3 }).length, 3);
    assert.throws(() => sideBySide(tasks, [{ name: 'x', replies }, { name: 'x', replies }]), EvalError);
  });
});
