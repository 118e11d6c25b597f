// The Bradley-Terry loss and the reward metrics against values computed by
// hand, and the loop's combination of min/max/total metrics over
// micro-batches and split parts.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder } from '../../kernel-lib/model';
import { bradleyTerryLoss, rewardMetrics, train, type Objective } from '../../kernel-lib/train';
import { tinyConfig } from '../model/helpers';

const softplus = (x: number) => Math.log1p(Math.exp(x));
const close = (a: number, b: number, what: string, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

describe('train/reward: Bradley-Terry loss and metrics', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  const rc = [2, -1, 0.5];
  const rr = [1, 1, 0.5];

  it('is the mean of -log σ(r_c - r_r) over pairs', () => {
    const loss = tf.tidy(() => bradleyTerryLoss(tf.tensor1d(rc), tf.tensor1d(rr)).dataSync()[0]);
    // -log σ(x) = log(1 + e^-x): x = 1, -2, 0.
    const expected = (softplus(-1) + softplus(2) + Math.log(2)) / 3;
    close(loss, expected, 'loss');
    close(expected, (0.3132617 + 2.1269280 + 0.6931472) / 3, 'hand values');
  });

  it('subtracts a per-pair margin inside the sigmoid', () => {
    const margin = [0.5, 0, 2];
    const loss = tf.tidy(() => bradleyTerryLoss(tf.tensor1d(rc), tf.tensor1d(rr), { margin: tf.tensor1d(margin) }).dataSync()[0]);
    // x = 1 - 0.5, -2 - 0, 0 - 2
    close(loss, (softplus(-0.5) + softplus(2) + softplus(2)) / 3, 'loss with margin');
  });

  it('adds coef * mean((r_c + r_r)^2) for centring', () => {
    const plain = (softplus(-1) + softplus(2) + Math.log(2)) / 3;
    const loss = tf.tidy(() => bradleyTerryLoss(tf.tensor1d(rc), tf.tensor1d(rr), { centerRewardsCoefficient: 0.01 }).dataSync()[0]);
    // (r_c + r_r)^2 = 9, 0, 1
    close(loss, plain + 0.01 * (10 / 3), 'centred loss');
  });

  it('stays finite for a huge wrong-way gap, where log(sigmoid) would be -inf', () => {
    const loss = tf.tidy(() => bradleyTerryLoss(tf.tensor1d([-200]), tf.tensor1d([200])).dataSync()[0]);
    close(loss, 400, 'loss', 1e-3);
  });

  it('its gradient raises the chosen reward and lowers the rejected one (and pulls both toward 0 with centring)', () => {
    const [gc, gr] = tf.tidy(() => {
      const g = tf.grads((c: tf.Tensor, r: tf.Tensor) => bradleyTerryLoss(c as tf.Tensor1D, r as tf.Tensor1D))([tf.tensor1d(rc), tf.tensor1d(rr)]);
      return g.map((t) => Array.from(t.dataSync()));
    });
    // d/dc of mean softplus(-(c - r)) = -σ(-(c - r)) / n
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    rc.forEach((_, i) => {
      assert.ok(gc[i] < 0 && gr[i] > 0, `pair ${i}: gradients ${gc[i]}, ${gr[i]}`);
      close(gc[i], -sig(-(rc[i] - rr[i])) / 3, `d loss / d r_c[${i}]`);
      close(gr[i], -gc[i], `d loss / d r_r[${i}]`);
    });
    // Both rewards large and equal: only centring moves them, downward.
    const [c2, r2] = tf.tidy(() => {
      const g = tf.grads((c: tf.Tensor, r: tf.Tensor) => bradleyTerryLoss(c as tf.Tensor1D, r as tf.Tensor1D, { centerRewardsCoefficient: 0.1 }))([tf.tensor1d([3]), tf.tensor1d([3])]);
      return g.map((t) => t.dataSync()[0]);
    });
    close(c2, -0.5 + 0.1 * 2 * 6, 'centred d/dc');
    close(r2, 0.5 + 0.1 * 2 * 6, 'centred d/dr');
  });

  it('metrics: accuracy counts strict wins, margin ignores the margin option, min/mean/max over every reward', () => {
    const m = tf.tidy(() => {
      const out = rewardMetrics(tf.tensor1d(rc), tf.tensor1d(rr));
      return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.dataSync()[0]]));
    });
    // Sums over pairs; the loop divides accuracy, margin and mean_reward by the pairs.
    assert.equal(m.accuracy, 1); // only 2 > 1; 0.5 = 0.5 is not a win
    close(m.margin, 1 - 2 + 0, 'margin sum');
    close(m.mean_reward, (2 - 1 + 0.5 + 1 + 1 + 0.5) / 2, 'mean_reward sum');
    assert.equal(m.min_reward, -1);
    assert.equal(m.max_reward, 2);
  });
});

describe('train/trainer: metrics that are not means', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  // A batch is a list of numbers; the loss is a small weight decay and
  // the metrics are known functions of the numbers.
  type Nums = number[];
  const objective: Objective<Nums> = {
    name: 'test-metrics',
    metricReduce: { lo: 'min', hi: 'max', seen: 'total' },
    split: (b, parts) => Array.from({ length: parts }, (_, p) => b.slice(Math.floor((p * b.length) / parts), Math.floor(((p + 1) * b.length) / parts))).filter((x) => x.length),
    rows: (b) => b.length,
    loss(model, batch) {
      // Every trainable tensor must reach the loss for the gradient to exist.
      const squares = [...model.weights.values()].map((w) => tf.sum(tf.square(w)));
      return {
        lossSum: tf.mul(tf.addN(squares), 1e-6),
        count: batch.length,
        metrics: { avg: tf.scalar(batch.reduce((a, b) => a + b, 0)), lo: tf.scalar(Math.min(...batch)), hi: tf.scalar(Math.max(...batch)), seen: tf.scalar(batch.length) },
      };
    },
  };

  it('min and max are extremes over micro-batches, mean divides by the count, total runs over steps', async () => {
    const model = createDecoder(tinyConfig(), 1);
    const batches: Record<string, Nums> = { '0:0': [5, -3], '0:1': [7, 1, 2], '1:0': [0], '1:1': [4, 4] };
    const r = await train(model, { steps: 2, lr: 1e-3, accumulation: 2, progress: 'none' }, {
      objective,
      data: { batch: (step, micro) => batches[`${step}:${micro}`] },
    });
    const [a, b] = r.history;
    assert.equal(a.lo, -3);
    assert.equal(a.hi, 7);
    close(a.avg, 12 / 5, 'mean');
    assert.equal(a.seen, 5);
    assert.equal(b.lo, 0);
    assert.equal(b.hi, 4);
    close(b.avg, 8 / 3, 'mean');
    assert.equal(b.seen, 8, 'total is the running sum');
    disposeDecoder(model);
  });
});
