// Notebook 06 end to end through the real tslab kernel, shortened by its
// parameters and started from a small SFT model made here (a tiny decoder
// fine-tuned for 200 steps on the world's demonstrations, so that its sampled
// replies differ in the oracle's eyes often enough for on-policy pairs in
// both rounds: 31 and 39 of 1,000 prompts). The notebook must run its DPO trainings (a second on-policy round
// included, as full mode does), record its figures, log TRL's names, and
// leave a checkpoint that loads.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runWorkbook } from '../../scripts/workbook/run';
import { smallSftFolder } from './small_sft';
import { disposeDecoder, loadCheckpoint } from '../../kernel-lib/model';
import { selectBackend } from '../../kernel-lib/runtime';
import { builtinTemplate } from '../../kernel-lib/text';
import { assertExecutedSize } from './size';

const root = path.resolve(__dirname, '..', '..');
const steps = 6;

describe('notebooks/06-dpo', function () {
  this.timeout(900000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb06-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('trains off-policy and on-policy DPO (and on-policy with the sft term, over two rounds), compares them with SFT by the oracle, records the figures, and saves a folder that loads', async () => {
    await selectBackend('wasm');
    const start = await smallSftFolder(path.join(dir, 'sft'), 200);
    const artefacts = path.join(dir, 'artefacts');
    const m = await runWorkbook({
      notebooksDir: path.join(root, 'notebooks'),
      outDir: path.join(dir, 'executed'),
      select: ['06'],
      mode: 'quick',
      seed: 0,
      parameters: { steps: steps, rounds: 2, workers: 2, outDir: artefacts, sftDir: start },
      cellTimeoutSeconds: 600,
      // A few steps from a tiny model cannot reach the quick bands; the figures are still recorded.
      bandsFile: null,
      log: () => {},
    });
    const record = m.notebooks[0];
    assert.equal(record.status, 'ok', JSON.stringify(record.failure ?? record));
    assert.deepEqual(record.warnings.filter((w) => /parameter/.test(w)), [], 'every parameter is declared');

    const figures = record.figures ?? {};
    for (const run of ['offpolicy', 'onpolicy', 'onpolicy_sft', 'iterative']) {
      for (const name of ['win_rate_greedy', 'win_rate_sampled', 'content_accuracy']) {
        const f = figures[`dpo/${run}/${name}`];
        assert.ok(f && f.value !== null && f.value >= 0 && f.value <= 1, `dpo/${run}/${name}: ${JSON.stringify(f)}`);
      }
      const kl = figures[`dpo/${run}/kl`];
      assert.ok(kl && kl.value !== null && kl.value >= 0, `dpo/${run}/kl: ${JSON.stringify(kl)}`);
    }

    for (const run of ['off-policy', 'on-policy', 'on-policy-sft', 'on-policy-sft-round-2']) {
      const lines = fs.readFileSync(path.join(artefacts, 'metrics', `06-dpo-${run}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const train = lines.filter((l) => l.kind === 'train');
      // A further round trains half the steps, from the last round's policy.
      assert.equal(train.length, run === 'on-policy-sft-round-2' ? steps / 2 : steps);
      // The first step sees the policy equal to its reference: the sigmoid loss is ln 2, and the sft term adds the chosen replies' mean NLL.
      if (run === 'on-policy-sft-round-2') assert.ok(Number.isFinite(train[0].loss) && train[0].loss > 0, `${run}: first loss ${train[0].loss}`);
      else if (run === 'on-policy-sft') assert.ok(train[0].loss > Math.LN2 + 0.05, `${run}: first loss ${train[0].loss}`);
      else assert.ok(Math.abs(train[0].loss - Math.LN2) < 1e-3, `${run}: first loss ${train[0].loss}`);
      for (const name of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected', 'logits/chosen', 'logits/rejected', 'entropy', 'num_tokens']) {
        assert.ok(Number.isFinite(train.at(-1)[name]), `${run}: ${name} in ${JSON.stringify(train.at(-1))}`);
      }
    }

    const nb = JSON.parse(fs.readFileSync(record.output, 'utf8'));
    assertExecutedSize(record.output);
    const outputs = (id: string) => nb.cells.find((c: { id: string }) => c.id === id).outputs as { data?: Record<string, unknown> }[];
    for (const id of ['loss', 'offpolicy-train', 'curves', 'onpolicy-train', 'rounds', 'compare', 'variants', 'beta-sweep']) {
      assert.ok(outputs(id).some((o) => o.data?.['application/vnd.plotly.v1+json']), `figure in ${id}`);
    }
    assert.ok(outputs('rounds').some((o) => /On-policy rounds with the sft term \(2 of 2 in quick mode/.test(JSON.stringify(o.data ?? {}))), 'the rounds table');
    const checkpoint = path.join(artefacts, 'checkpoints', '06-dpo');
    const loaded = loadCheckpoint(checkpoint);
    assert.equal(loaded.model.config.hidden_size, 48);
    assert.equal(JSON.parse(fs.readFileSync(path.join(checkpoint, 'tokenizer_config.json'), 'utf8')).chat_template, builtinTemplate('chatml').jinja);
    disposeDecoder(loaded.model);
  });
});
