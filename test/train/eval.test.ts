// Evaluation reports the objective's own metrics with TRL's eval_ prefix,
// combined over the eval batches as training combines micro-batches (means
// over all units, extremes over all parts, totals summed), and a perplexity
// only where the loss is a mean over tokens. Checked against values computed
// here straight from the model's logits and scores, over batches of unequal
// sizes (where a mean of batch means would differ).
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { addScoreHead, createDecoder, disposeDecoder, forward, sequenceScores, type Decoder } from '../../kernel-lib/model';
import {
  evaluate, lmObjective, preferenceBatch, rewardObjective, sequentialBatches, sftBatch, sftObjective, train,
  type EncodedPair, type EvalRecord, type PreferenceBatch, type SftBatch,
} from '../../kernel-lib/train';
import { tinyConfig } from '../model/helpers';
import { tokens } from './helpers';

/** A deterministic stream of ids below 60 (60 is the pad id here). */
function idStream(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2147483648) % 60;
}

/** Padded SFT batches of 3, 2 and 1 rows; the first third of each row is prompt (mask 0). */
function sftEvalData(): SftBatch[] {
  const next = idStream(11);
  const example = (n: number) => {
    const ids = Array.from({ length: n }, next);
    return { ids, mask: ids.map((_, i) => (i >= n / 3 ? 1 : 0)) };
  };
  return [[9, 14, 6], [20, 5], [12]].map((lengths, b) => sftBatch(lengths.map(example), { padId: 60, source: `eval batch ${b}` }));
}

/** Preference batches of 4, 4 and 2 pairs, rows of several lengths. */
function rewardEvalData(): PreferenceBatch[] {
  const next = idStream(5);
  const pair = (i: number): EncodedPair => ({
    id: `p${i}`,
    chosen: Array.from({ length: 3 + (i % 5) }, next),
    rejected: Array.from({ length: 4 + ((i * 3) % 7) }, next),
  });
  return [[0, 4], [4, 8], [8, 10]].map(([a, b]) => preferenceBatch(Array.from({ length: b - a }, (_, k) => pair(a + k)), { padId: 60 }));
}

/** Entropy sum, correct argmax count and trained-token count of SFT batches, from the logits. */
function sftReference(model: Decoder, batches: SftBatch[]): { entropy: number; correct: number; trained: number } {
  let entropy = 0;
  let correct = 0;
  let trained = 0;
  for (const b of batches) {
    const V = model.config.vocab_size;
    const logits = tf.tidy(() => tf.logSoftmax(forward(model, tf.tensor2d(b.inputs, [b.rows, b.length], 'int32')).logits).dataSync());
    for (let i = 0; i < b.rows * b.length; i++) {
      if (!b.mask![i]) continue;
      const row = logits.subarray(i * V, (i + 1) * V);
      let best = 0;
      for (let v = 0; v < V; v++) {
        entropy -= Math.exp(row[v]) * row[v];
        if (row[v] > row[best]) best = v;
      }
      if (best === b.targets[i]) correct++;
      trained++;
    }
  }
  return { entropy, correct, trained };
}

/** Chosen and rejected scores of every pair, in order. */
function pairScores(model: Decoder, batches: PreferenceBatch[]): { chosen: number[]; rejected: number[] } {
  const chosen: number[] = [];
  const rejected: number[] = [];
  for (const b of batches) {
    tf.tidy(() => {
      chosen.push(...sequenceScores(model, tf.tensor2d(b.chosen, [b.pairs, b.length], 'int32'), b.chosenLengths).dataSync());
      rejected.push(...sequenceScores(model, tf.tensor2d(b.rejected, [b.pairs, b.length], 'int32'), b.rejectedLengths).dataSync());
    });
  }
  return { chosen, rejected };
}

const close = (got: number | undefined, want: number, what: string, tol = 1e-4) =>
  assert.ok(got !== undefined && Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)), `${what}: got ${got}, expected ${want}`);

describe('train/evaluate: the objective\'s metrics', function () {
  this.timeout(120_000);
  before(async () => {
    await selectBackend('wasm');
  });

  it('sft: eval_entropy and eval_mean_token_accuracy over all trained tokens, eval_num_tokens summed, eval_perplexity = exp(eval_loss)', () => {
    const model = createDecoder(tinyConfig(), 3);
    const batches = sftEvalData();
    const r = evaluate(model, sftObjective, batches);
    const ref = sftReference(model, batches);
    close(r.metrics.eval_mean_token_accuracy, ref.correct / ref.trained, 'eval_mean_token_accuracy');
    close(r.metrics.eval_entropy, ref.entropy / ref.trained, 'eval_entropy');
    assert.equal(r.metrics.eval_num_tokens, batches.reduce((a, b) => a + b.numTokens, 0));
    assert.equal(r.metrics.eval_loss, r.loss);
    close(r.metrics.eval_perplexity, Math.exp(r.loss), 'eval_perplexity');
    assert.equal(r.perplexity, r.metrics.eval_perplexity);
    disposeDecoder(model);
  });

  it('reward: eval_accuracy, eval_margin, eval_mean_reward over all pairs, eval_min/max_reward over every reward, and no perplexity', () => {
    const model = createDecoder(tinyConfig(), 4);
    addScoreHead(model, { seed: 4, std: 1 });
    const batches = rewardEvalData();
    const r = evaluate(model, rewardObjective(), batches);
    const { chosen, rejected } = pairScores(model, batches);
    const n = chosen.length;
    const wins = chosen.filter((c, i) => c > rejected[i]).length;
    assert.ok(wins > 0 && wins < n, `a mix of right and wrong pairs (${wins} of ${n})`);
    close(r.metrics.eval_accuracy, wins / n, 'eval_accuracy');
    close(r.metrics.eval_margin, chosen.reduce((a, c, i) => a + c - rejected[i], 0) / n, 'eval_margin');
    close(r.metrics.eval_mean_reward, [...chosen, ...rejected].reduce((a, v) => a + v, 0) / (2 * n), 'eval_mean_reward');
    close(r.metrics.eval_min_reward, Math.min(...chosen, ...rejected), 'eval_min_reward');
    close(r.metrics.eval_max_reward, Math.max(...chosen, ...rejected), 'eval_max_reward');
    close(r.metrics.eval_loss, chosen.reduce((a, c, i) => a + Math.log1p(Math.exp(rejected[i] - c)), 0) / n, 'eval_loss');
    assert.ok(!('eval_perplexity' in r.metrics) && r.perplexity === undefined, 'a loss over pairs has no perplexity');
    disposeDecoder(model);
  });

  it('lm: eval_loss and eval_perplexity, nothing else', () => {
    const model = createDecoder(tinyConfig(), 5);
    const r = evaluate(model, lmObjective, sequentialBatches(tokens.subarray(0, 200), { batchSize: 3, seqLen: 24 }));
    assert.deepEqual(Object.keys(r.metrics).sort(), ['eval_loss', 'eval_perplexity']);
    close(r.metrics.eval_perplexity, Math.exp(r.loss), 'eval_perplexity');
    disposeDecoder(model);
  });

  it('a perplexity is the objective\'s own claim, not its name\'s: a renamed token objective keeps it, one that disclaims it has none', () => {
    const model = createDecoder(tinyConfig(), 5);
    const data = sequentialBatches(tokens.subarray(0, 200), { batchSize: 3, seqLen: 24 });
    const mine = evaluate(model, { ...lmObjective, name: 'my-lm' }, data);
    close(mine.metrics.eval_perplexity, Math.exp(mine.loss), 'eval_perplexity of a renamed lm objective');
    const none = evaluate(model, { ...lmObjective, perplexity: false }, data);
    assert.equal(none.metrics.eval_perplexity, undefined);
    disposeDecoder(model);
  });

  it('train() passes the eval_ metrics to onEval and its evals', async () => {
    // Tied embeddings: every weight of a full fine-tuning reward run gets a gradient.
    const model = createDecoder(tinyConfig({ tie_word_embeddings: true }), 6);
    addScoreHead(model, { seed: 6 });
    const evalData = rewardEvalData();
    const seen: EvalRecord[] = [];
    const pairs = rewardEvalData();
    const data = { batch: (step: number) => pairs[step % pairs.length] };
    const r = await train(model, { steps: 2, lr: 1e-3, evalEvery: 1, progress: 'none', seed: 0 }, {
      objective: rewardObjective(), data, evalData, callbacks: [{ onEval: (e) => void seen.push(e) }],
    });
    assert.deepEqual(r.evals.map((e) => e.step), [0, 1, 2]);
    assert.deepEqual(seen, r.evals);
    const last = r.evals.at(-1)!;
    assert.deepEqual(Object.keys(last).sort(), ['eval_accuracy', 'eval_loss', 'eval_margin', 'eval_max_reward', 'eval_mean_reward', 'eval_min_reward', 'eval_num_tokens', 'step']);
    const direct = evaluate(model, rewardObjective(), evalData).metrics;
    for (const [k, v] of Object.entries(direct)) assert.equal(last[k], v, k);
    disposeDecoder(model);
  });
});
