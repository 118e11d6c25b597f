// The reward-model report on the world's held-out preference pairs, with
// scorers whose answers are known: the oracle judge itself (right on every
// pair), reply length (a pure length bias) and a constant (all ties).
import * as assert from 'node:assert/strict';
import { oracleJudge, PREFERENCE_RULES, replyText, type PreferencePair } from '../../kernel-lib/data';
import { EvalError, rewardModelReport } from '../../kernel-lib/eval';
import { testWorld } from './helpers';

const chars = (p: PreferencePair) => [replyText(p.chosen).length, replyText(p.rejected).length];

describe('eval/reward', () => {
  const pairs = testWorld().preferencesTest.slice(0, 120);

  it('the oracle as scorer: every pair right, every rule, full agreement; rows in rule order', async () => {
    const report = await rewardModelReport(pairs, (prompt, reply) => oracleJudge.score(prompt, reply));
    const present = PREFERENCE_RULES.filter((r) => pairs.some((p) => p.meta!.rule === r));
    assert.deepEqual(report.rows.map((r) => r.rule), [...present, 'all']);
    for (const row of report.rows) {
      assert.equal(row.n, row.rule === 'all' ? pairs.length : pairs.filter((p) => p.meta!.rule === row.rule).length);
      assert.equal(row.accuracy, 1, row.rule);
      assert.equal(row.oracleAgreement, 1, row.rule);
      assert.ok(row.meanMargin > 0);
    }
  });

  it('reply length as scorer: right exactly where the chosen reply is longer; the length-bias check says so', async () => {
    const report = await rewardModelReport(pairs, (_prompt, reply) => reply.length);
    for (const row of report.rows) {
      const mine = row.rule === 'all' ? pairs : pairs.filter((p) => p.meta!.rule === row.rule);
      const longer = mine.filter((p) => chars(p)[0] > chars(p)[1]).length;
      assert.equal(row.accuracy, longer / mine.length, row.rule);
      assert.equal(row.oracleAgreement, row.accuracy, 'world pairs: the oracle always prefers chosen');
      assert.ok(Math.abs(row.meanMargin - mine.reduce((s, p) => s + chars(p)[0] - chars(p)[1], 0) / mine.length) < 1e-9);
    }
    assert.equal(report.rows.find((r) => r.rule === 'concise_over_padded')!.accuracy, 0);
    const differ = pairs.filter((p) => chars(p)[0] !== chars(p)[1]);
    const bias = report.lengthBias;
    assert.equal(bias.n, differ.length);
    assert.equal(bias.prefersLonger, 1);
    assert.equal(bias.oraclePrefersLonger, differ.filter((p) => chars(p)[0] > chars(p)[1]).length / differ.length);
    assert.equal(bias.accuracyChosenLonger, 1);
    assert.equal(bias.accuracyChosenShorter, 0);
    assert.ok(Math.abs(bias.marginLengthCorrelation - 1) < 1e-12);
    assert.deepEqual(report.histogram.data.map((t) => t.name), ['chosen', 'rejected']);
    assert.deepEqual(report.histogram.data[0].x, pairs.map((p) => chars(p)[0]));
  });

  it('a constant scorer gets nothing right (a tie is a miss); a non-number is an error naming the pair', async () => {
    const report = await rewardModelReport(pairs, () => 0.5);
    assert.ok(report.rows.every((r) => r.accuracy === 0 && r.oracleAgreement === 0 && r.meanMargin === 0));
    await assert.rejects(
      rewardModelReport(pairs, (_p, reply, task) => (task.id === pairs[3].id && reply === replyText(pairs[3].rejected) ? NaN : 1)),
      (e: Error) => e instanceof EvalError && e.message.includes(`rejected reply of pair ${pairs[3].id}`),
    );
    await assert.rejects(rewardModelReport([], () => 0), EvalError);
  });
});
