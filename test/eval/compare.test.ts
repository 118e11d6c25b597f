// KL from a reference on a model's own replies (0 against itself, positive
// against another model, equal to a log-prob sum computed by hand), and
// compare: rows per model and family that agree with taskAccuracy and
// winRates on the same replies, the scorer hook, the table and chart, errors,
// and no tensors left behind.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { disposeDecoder, forward, type Decoder } from '../../kernel-lib/model';
import { compare, EvalError, generateReplies, replyDivergences, selectTasks, taskAccuracy, winRates, type CompareEntry } from '../../kernel-lib/eval';
import { chatml, testTokenizer, testWorld, tinyModel } from './helpers';

/** log p(ids[t+1] | ids[..t]) for t over the reply, by one full forward. */
function replyLogProbs(model: Decoder, prompt: number[], reply: number[]): number[] {
  const ids = [...prompt, ...reply];
  const lp = tf.tidy(() => tf.logSoftmax(forward(model, tf.tensor2d([ids.slice(0, -1)], undefined, 'int32')).logits).arraySync()[0]);
  return reply.map((token, j) => lp[prompt.length - 1 + j][token]);
}

describe('eval/compare', () => {
  const tokenizer = testTokenizer();
  const template = chatml();
  let a: Decoder;
  let b: Decoder;
  const tasks = selectTasks(testWorld(), { perFamily: 2 });
  before(async () => {
    await selectBackend('wasm');
    a = tinyModel(11);
    b = tinyModel(12);
  });
  after(() => {
    disposeDecoder(a);
    disposeDecoder(b);
  });

  it('KL: 0 for a model against itself, positive against another; exact KL and log-ratio equal sums by hand', async () => {
    const replies = await generateReplies(a, tokenizer, template, tasks.slice(0, 5), { maxNewTokens: 6 });
    const self = await replyDivergences(a, a, replies, { batchSize: 2 });
    assert.ok(self.every((d) => d.logRatio === 0 && d.kl === 0 && d.tokens === 6));
    const other = await replyDivergences(a, b, replies, { batchSize: 2 });
    for (const [i, d] of other.entries()) {
      const mine = replyLogProbs(a, replies[i].promptIds, replies[i].tokens);
      const theirs = replyLogProbs(b, replies[i].promptIds, replies[i].tokens);
      const want = mine.reduce((s, x, j) => s + x - theirs[j], 0);
      assert.ok(Math.abs(d.logRatio - want) < 1e-4, `reply ${i}: ${d.logRatio} vs ${want}`);
      assert.ok(d.kl > 0, `reply ${i}: exact KL ${d.kl}`);
    }
    // The exact KL of one reply by hand: sum over positions and the vocabulary of p_a (log p_a - log p_b).
    const { promptIds, tokens } = replies[0];
    const ids = [...promptIds, ...tokens].slice(0, -1);
    const [la, lb] = [a, b].map((m) => tf.tidy(() => tf.logSoftmax(forward(m, tf.tensor2d([ids], undefined, 'int32')).logits).arraySync()[0]));
    let kl = 0;
    for (let t = promptIds.length - 1; t < ids.length; t++) la[t].forEach((x, v) => (kl += Math.exp(x) * (x - lb[t][v])));
    assert.ok(Math.abs(other[0].kl - kl) < 1e-4, `exact KL ${other[0].kl} vs ${kl}`);
  });

  it('compare: rows per model and family that match taskAccuracy, winRates, KL and the scorer on the same replies', async () => {
    const entries: CompareEntry[] = [
      { name: 'first', model: a, tokenizer, template },
      { name: 'second', model: b, tokenizer, template },
    ];
    const scorer = (prompt: { content: string }[], reply: string) => reply.length + prompt.length;
    const result = await compare(entries, { tasks: testWorld(), perFamily: 2, maxNewTokens: 5, batchSize: 8, scorer });
    const families = [...new Set(tasks.map((t) => t.category))];
    assert.deepEqual(result.rows.map((r) => `${r.model}/${r.family}`), ['first', 'second'].flatMap((m) => [...families, 'all'].map((f) => `${m}/${f}`)));
    assert.deepEqual(result.tasks.map((t) => t.id), tasks.map((t) => t.id));
    assert.equal(result.baseline, 'first');
    assert.equal(result.reference, 'first');
    const alone = await generateReplies(b, tokenizer, template, tasks, { maxNewTokens: 5 });
    assert.deepEqual(result.replies.second, alone);
    const acc = taskAccuracy(tasks, alone);
    const wins = winRates(tasks, alone, result.replies.first);
    const divs = await replyDivergences(b, a, alone);
    for (const row of result.rows.filter((r) => r.model === 'second')) {
      const ref = acc.rows.find((r) => r.family === row.family)!;
      const w = wins.find((r) => r.family === row.family)!;
      assert.deepEqual(
        [row.n, row.accuracy, row.contentAccuracy, row.oracleScore, row.stopRate, row.meanTokens],
        [ref.n, ref.accuracy, ref.contentAccuracy, ref.oracleScore, ref.stopRate, ref.meanTokens],
      );
      assert.deepEqual([row.wins, row.ties, row.losses, row.winRate], [w.wins, w.ties, w.losses, w.winRate]);
      const mine = tasks.flatMap((t, i) => (row.family === 'all' || t.category === row.family ? [i] : []));
      const tokens = mine.reduce((s, i) => s + divs[i].tokens, 0);
      assert.ok(Math.abs(row.logRatio! - mine.reduce((s, i) => s + divs[i].logRatio, 0) / tokens) < 1e-5);
      assert.ok(Math.abs(row.kl! - mine.reduce((s, i) => s + divs[i].kl, 0) / tokens) < 1e-5);
      assert.ok(row.kl! > 0);
      const rewards = mine.map((i) => alone[i].text.length + tasks[i].messages.length - 1);
      assert.equal(row.reward, rewards.reduce((s, x) => s + x, 0) / rewards.length);
    }
    for (const row of result.rows.filter((r) => r.model === 'first')) {
      assert.equal(row.ties, row.n, 'the baseline ties with itself');
      assert.equal(row.winRate, 0.5);
      assert.equal(row.kl, 0);
      assert.equal(row.logRatio, 0);
    }
    assert.deepEqual(result.chart.data.map((t) => t.name), ['first', 'second']);
    assert.deepEqual(result.chart.data[1].y, result.rows.filter((r) => r.model === 'second').map((r) => 100 * r.accuracy));
    assert.match(String(result.table['text/html']), /win rate against first/);
  });

  it('compare: another baseline and reference, or none; clear errors', async () => {
    const entries: CompareEntry[] = [
      { name: 'first', model: a, tokenizer, template },
      { name: 'second', model: b, tokenizer, template },
    ];
    const few = tasks.slice(0, 3);
    // A judge of our own (the longer reply wins), so that wins and losses occur between two untrained models.
    const judge = (_t: unknown, x: string, y: string) => (x.length > y.length ? 'a' : x.length < y.length ? 'b' : 'tie') as 'a' | 'b' | 'tie';
    const r = await compare(entries, { tasks: tasks.slice(0, 10), baseline: 'second', reference: null, maxNewTokens: 3, judge });
    assert.equal(r.baseline, 'second');
    const w = winRates(r.tasks, r.replies.first, r.replies.second, judge);
    const firstRows = r.rows.filter((row) => row.model === 'first');
    assert.deepEqual(firstRows.map((row) => [row.family, row.wins, row.ties, row.losses, row.winRate]), w.map((x) => [x.family, x.wins, x.ties, x.losses, x.winRate]));
    assert.ok(firstRows.at(-1)!.wins + firstRows.at(-1)!.losses > 0, 'some replies differ in length');
    assert.ok(r.rows.every((row) => row.kl === null && row.logRatio === null && row.reward === null));
    assert.ok(r.rows.filter((row) => row.model === 'second').every((row) => row.winRate === 0.5));
    const outside = await compare([entries[0]], { tasks: few, reference: { name: 'other', model: b, tokenizer, template }, maxNewTokens: 3 });
    assert.equal(outside.reference, 'other');
    assert.ok(outside.rows.every((row) => row.kl! > 0));
    await assert.rejects(compare(entries, { tasks: few, baseline: 'third' }), (e: Error) => e instanceof EvalError && /baseline "third" is not among the models \(first, second\)/.test(e.message));
    await assert.rejects(compare([entries[0], entries[0]], { tasks: few }), (e: Error) => e instanceof EvalError && /two models are named "first"/.test(e.message));
    await assert.rejects(compare([], { tasks: few }), EvalError);
    const wide = tinyModel(3);
    const wideRef = { ...wide, config: { ...wide.config, vocab_size: 400 } };
    await assert.rejects(
      compare([entries[0]], { tasks: few, reference: { name: 'wide', model: wideRef, tokenizer, template }, maxNewTokens: 2 }),
      (e: Error) => e instanceof EvalError && /vocab_size 320 but the reference has 400/.test(e.message),
    );
    disposeDecoder(wide);
    await assert.rejects(
      compare([entries[0]], { tasks: few, scorer: () => NaN, maxNewTokens: 2 }),
      (e: Error) => e instanceof EvalError && /scorer gave NaN/.test(e.message),
    );
  });

  it('leaves no tensors behind', async () => {
    const entries: CompareEntry[] = [
      { name: 'first', model: a, tokenizer, template },
      { name: 'second', model: b, tokenizer, template },
    ];
    const run = () => compare(entries, { tasks: tasks.slice(0, 4), maxNewTokens: 3, klBatchSize: 3 });
    await run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      await run();
      assert.equal(tf.memory().numTensors, before);
    }
  });
});
