// What data-parallel workers compute for the reward objective: the parts of a
// split batch, each scored by the objective a worker rebuilds by name, add up
// to the whole batch's loss, gradients and metrics (LoRA dropout included),
// with the run's centring coefficient carried by the parts.
import * as assert from 'node:assert/strict';
import { selectBackend } from '../../kernel-lib/runtime';
import { addRewardLora, addScoreHead, createDecoder, disposeDecoder } from '../../kernel-lib/model';
import {
  computeGradients, defaultRewardObjective, encodePreferences, objectiveByName, preferenceBatch, rewardObjective,
} from '../../kernel-lib/train';
import { assertClose } from '../model/helpers';
import { rewardFixture } from './reward_helpers';

describe('train/reward: split over workers', function () {
  this.timeout(120_000);
  before(async () => {
    await selectBackend('wasm');
  });

  it('parts scored by the objective found by name add up to the whole batch, with dropout and centring', () => {
    const f = rewardFixture();
    const pairs = encodePreferences(f.pairs.slice(0, 10), f.tokenizer, f.template).pairs.map((p, i) => ({ ...p, margin: i % 3 }));
    const batch = preferenceBatch(pairs, { padId: f.tokenizer.pad });
    const model = createDecoder(f.config, 3);
    addScoreHead(model, { seed: 3, std: 0.5 });
    addRewardLora(model, { rank: 4, alpha: 8, dropout: 0.2, targets: ['q_proj', 'up_proj'] }, 3);
    const objective = rewardObjective({ centerRewardsCoefficient: 0.05 });
    const context = { dropoutSeed: 1234 };
    const whole = computeGradients(model, objective, batch, context);

    const parts = objective.split(batch, 3);
    assert.deepEqual(parts.map((p) => p.pairs), [3, 3, 4]);
    assert.ok(parts.every((p) => p.centerRewardsCoefficient === 0.05), 'the run\'s coefficient travels with the parts');
    // A worker knows only the objective's name: it finds the default objective of that name.
    const byName = objectiveByName(objective.name);
    assert.equal(byName, defaultRewardObjective);
    let firstRow = 0;
    const results = parts.map((part) => {
      const r = computeGradients(model, byName, part, { ...context, firstRow });
      firstRow += part.pairs;
      return r;
    });
    assertClose([results.reduce((a, r) => a + r.lossSum, 0)], [whole.lossSum], 1e-4, 'summed loss');
    assert.equal(results.reduce((a, r) => a + r.count, 0), whole.count);
    whole.grads.forEach((g, i) => {
      const sum = new Float32Array(g.length);
      for (const r of results) r.grads[i].forEach((v, k) => (sum[k] += v));
      assertClose(sum, g, 1e-4, `gradient ${i}`);
    });
    for (const k of ['accuracy', 'margin', 'mean_reward', 'num_tokens']) {
      assertClose([results.reduce((a, r) => a + r.metrics[k], 0)], [whole.metrics[k]], 1e-4, k);
    }
    assertClose([Math.min(...results.map((r) => r.metrics.min_reward))], [whole.metrics.min_reward], 1e-5, 'min_reward');
    assertClose([Math.max(...results.map((r) => r.metrics.max_reward))], [whole.metrics.max_reward], 1e-5, 'max_reward');

    // Without the coefficient on the parts the default objective would not centre: the carried value matters.
    const plain = computeGradients(model, byName, { ...parts[0], centerRewardsCoefficient: undefined }, { ...context, firstRow: 0 });
    assert.ok(plain.lossSum < results[0].lossSum, `${plain.lossSum} vs ${results[0].lossSum}`);
    disposeDecoder(model);
  });
});
