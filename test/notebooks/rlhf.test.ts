// Notebook 07 end to end through the real tslab kernel, shortened by its
// parameters and started from a small SFT model made here (no reward model
// given, so the notebook trains its own from the SFT model). The notebook
// must run GRPO against the oracle and against the reward model, RLOO and
// PPO, log TRL's names, record its figures, and save a policy folder and a
// value-head folder that load.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runWorkbook } from '../../scripts/workbook/run';
import { smallSftFolder } from './small_sft';
import { disposeDecoder, hasScoreHead, loadCheckpoint, loadRewardModel } from '../../kernel-lib/model';
import { selectBackend } from '../../kernel-lib/runtime';
import { assertExecutedSize } from './size';

const root = path.resolve(__dirname, '..', '..');
const steps = 4;

describe('notebooks/07-rlhf', function () {
  this.timeout(900000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb07-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs GRPO, GRPO on the reward model, RLOO and PPO, compares them by the oracle, records the figures, and saves folders that load', async () => {
    await selectBackend('wasm');
    const start = await smallSftFolder(path.join(dir, 'sft'));
    const artefacts = path.join(dir, 'artefacts');
    const m = await runWorkbook({
      notebooksDir: path.join(root, 'notebooks'),
      outDir: path.join(dir, 'executed'),
      select: ['07'],
      mode: 'quick',
      seed: 0,
      parameters: { steps: steps, workers: 2, outDir: artefacts, sftDir: start, rewardDir: path.join(dir, 'no-reward-model'), evalPerFamily: 3 },
      cellTimeoutSeconds: 600,
      // A few steps from a tiny model cannot reach the quick bands; the figures are still recorded.
      bandsFile: null,
      log: () => {},
    });
    const record = m.notebooks[0];
    assert.equal(record.status, 'ok', JSON.stringify(record.failure ?? record));
    assert.deepEqual(record.warnings.filter((w) => /parameter/.test(w)), [], 'every parameter is declared');

    const figures = record.figures ?? {};
    for (const run of ['grpo', 'grpo_reward_model', 'rloo', 'ppo']) {
      for (const name of ['win_rate_greedy', 'win_rate_sampled', 'exact_match']) {
        const f = figures[`rl/${run}/${name}`];
        assert.ok(f && f.value !== null && f.value >= 0 && f.value <= 1, `rl/${run}/${name}: ${JSON.stringify(f)}`);
      }
      assert.ok((figures[`rl/${run}/kl`]?.value ?? -1) >= 0, `rl/${run}/kl: ${JSON.stringify(figures[`rl/${run}/kl`])}`);
    }
    const share = figures['rl/grpo/sampling_share']?.value ?? -1;
    assert.ok(share > 0 && share < 1, `sampling share ${share}`);

    const lines = (name: string) => fs.readFileSync(path.join(artefacts, 'metrics', `07-rlhf-${name}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.kind === 'train');
    const grpo = lines('grpo-oracle');
    assert.equal(grpo.length, steps);
    for (const name of ['reward', 'reward_std', 'frac_reward_zero_std', 'kl', 'entropy', 'policy_loss', 'clip_ratio/region_mean', 'clip_ratio/low_mean', 'clip_ratio/high_mean',
      'completions/mean_length', 'completions/clipped_ratio', 'completions/mean_terminated_length', 'num_tokens']) {
      assert.ok(Number.isFinite(grpo.at(-1)[name]), `GRPO: ${name} in ${JSON.stringify(grpo.at(-1))}`);
    }
    assert.ok(Math.abs(grpo[0].kl) < 1e-4, `the first step's policy is its reference: kl ${grpo[0].kl}`);
    const hacked = lines('grpo-reward-model').at(-1);
    assert.ok(Number.isFinite(hacked['rewards/reward_model/mean']) && Number.isFinite(hacked['rewards/oracle/mean']), JSON.stringify(hacked));
    const ppo = lines('ppo-oracle').at(-1);
    for (const name of ['objective/kl', 'objective/scores', 'objective/rlhf_reward', 'policy/clipfrac_avg', 'policy/approxkl_avg', 'loss/value_avg', 'val/clipfrac_avg']) {
      assert.ok(Number.isFinite(ppo[name]), `PPO: ${name} in ${JSON.stringify(ppo)}`);
    }

    const nb = JSON.parse(fs.readFileSync(record.output, 'utf8'));
    assertExecutedSize(record.output);
    const outputs = (id: string) => nb.cells.find((c: { id: string }) => c.id === id).outputs as { data?: Record<string, unknown> }[];
    for (const id of ['signal', 'grpo-train', 'grpo-curves', 'hacking', 'methods', 'compare']) {
      assert.ok(outputs(id).some((o) => o.data?.['application/vnd.plotly.v1+json']), `figure in ${id}`);
    }
    const policy = loadCheckpoint(path.join(artefacts, 'checkpoints', '07-rlhf'));
    assert.equal(policy.model.config.hidden_size, 48);
    assert.equal(hasScoreHead(policy.model), false);
    const value = loadRewardModel(path.join(artefacts, 'checkpoints', '07-rlhf-ppo-value'));
    assert.equal(value.newHead, false, 'the value head is saved with the folder');
    assert.equal(JSON.parse(fs.readFileSync(path.join(artefacts, 'checkpoints', '07-rlhf-ppo-value', 'config.json'), 'utf8')).architectures[0], 'LlamaForSequenceClassification');
    disposeDecoder(policy.model);
    disposeDecoder(value.model);
  });
});
