// On-policy DPO from an SFT checkpoint, scored by the oracle on the held-out
// prompts: the recipe of notebook 06's on-policy run with its knobs exposed.
// The SFT model samples --k replies (temperature 1) to every training prompt
// of the world; where the oracle scores them differently, the best is chosen
// and the worst rejected. DPO (sigmoid, or sigmoid plus TRL's `sft` term on
// the chosen reply with --sft-weight) then trains on those pairs, and the
// policy is compared with SFT on every held-out prompt, greedy and at
// temperature 0.7: win rate, KL, content accuracy and the oracle's verdicts.
// The pairs are kept in the checkpoint folder (onpolicy-pairs-k<K>.json) so
// runs with other settings reuse them. With --rounds 2 or more the recipe is
// iterative DPO: each further round samples from the policy the last round
// left, pairs those replies the same way and trains on, the reference staying
// the SFT model. Two workers, seed 0.
//
//   npx tsx scripts/experiments/onpolicy_dpo.ts --sft out/full/checkpoints/04-instruction-tuning --steps 400 --sft-weight 1
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadWorld, type PreferencePair } from '../../kernel-lib/data';
import { compare, onPolicyPairs, oracleScore, selectTasks } from '../../kernel-lib/eval';
import { decoderFromWeights, type Decoder } from '../../kernel-lib/model';
import { initRuntime } from '../../kernel-lib/runtime';
import { loadChatCheckpoint } from './checkpoint_chat';
import { dpoObjective, encodeDpoPairs, preferenceBatches, referenceLogps, startWorkers, train } from '../../kernel-lib/train';

const ROOT = path.join(__dirname, '..', '..');
const { values } = parseArgs({
  options: {
    sft: { type: 'string' },
    world: { type: 'string', default: path.join(ROOT, 'data', 'world') },
    steps: { type: 'string', default: '400' },
    lr: { type: 'string', default: '5e-5' },
    beta: { type: 'string', default: '0.1' },
    k: { type: 'string', default: '4' },
    'sft-weight': { type: 'string', default: '0' },
    rounds: { type: 'string', default: '1' },
    'round-steps': { type: 'string' },
  },
});
if (!values.sft) {
  console.error('usage: onpolicy_dpo.ts --sft CHECKPOINT_DIR [--steps 400] [--lr 5e-5] [--beta 0.1] [--k 4] [--sft-weight 0] [--rounds 1] [--round-steps STEPS]');
  process.exit(2);
}
const [steps, lr, beta, k, sftWeight, rounds] = [values.steps, values.lr, values.beta, values.k, values['sft-weight'], values.rounds].map(Number);
const roundSteps = Number(values['round-steps'] ?? steps);

async function main(dir: string): Promise<void> {
  await initRuntime({ seed: 0 });
  const { model: sft, tokenizer, template } = loadChatCheckpoint(dir);
  const world = loadWorld(values.world!);
  const prompts = selectTasks(world, { split: 'train' });
  const encode = (records: PreferencePair[]) =>
    referenceLogps(sft, encodeDpoPairs(records, tokenizer, template, { maxLength: sft.config.max_position_embeddings, tooLong: 'drop' }).pairs, { padId: tokenizer.pad });
  let started = Date.now();
  const cache = path.join(dir, `onpolicy-pairs-k${k}.json`);
  let records: PreferencePair[];
  if (fs.existsSync(cache)) records = JSON.parse(fs.readFileSync(cache, 'utf8'));
  else {
    records = (await onPolicyPairs(sft, tokenizer, template, prompts, { samples: k, seed: 0 })).pairs;
    fs.writeFileSync(cache, JSON.stringify(records));
  }
  let pairs = encode(records);
  console.log(`${pairs.length} on-policy pairs (${k} samples a prompt) in ${((Date.now() - started) / 1000).toFixed(0)} s`);

  const policy: Decoder = decoderFromWeights(sft.config, new Map([...sft.weights].map(([name, w]) => [name, w.clone()])));
  const objective = dpoObjective(sftWeight > 0 ? { beta, lossType: ['sigmoid', 'sft'], lossWeights: [1, sftWeight] } : { beta });
  for (let round = 1; round <= rounds; round++) {
    if (round > 1) {
      started = Date.now();
      pairs = encode((await onPolicyPairs(policy, tokenizer, template, prompts, { samples: k, seed: 1000 * round })).pairs);
      console.log(`round ${round}: ${pairs.length} pairs sampled from the round ${round - 1} policy in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    const n = round === 1 ? steps : roundSteps;
    const pool = await startWorkers(2, { backend: 'wasm', objective: 'dpo' });
    const trainedAt = Date.now();
    const run = await train(policy, { steps: n, lr, warmupSteps: Math.floor(n / 10), weightDecay: 0, clipNorm: 1, seed: round - 1, progress: 'line' }, {
      objective, data: preferenceBatches(pairs, { batchSize: 16, padId: tokenizer.pad, seed: round - 1 }), workers: pool, closeWorkers: true,
    });
    const last = run.history[run.history.length - 1] as unknown as Record<string, number>;
    console.log(`round ${round}: DPO ${n} steps (beta ${beta}, lr ${lr}, sft weight ${sftWeight}) in ${((Date.now() - trainedAt) / 1000).toFixed(0)} s: rewards/accuracies ${last['rewards/accuracies'].toFixed(2)}, margins ${last['rewards/margins'].toFixed(2)}, chosen ${last['rewards/chosen'].toFixed(2)}`);
  }

  const entries = [{ name: 'SFT', model: sft, tokenizer, template }, { name: 'DPO', model: policy, tokenizer, template }];
  for (const temperature of [0, 0.7]) {
    const c = await compare(entries, { tasks: world, maxNewTokens: 48, fitContext: true, batchSize: 32, temperature, seed: 0, progress: false });
    const all = (m: string) => c.rows.find((r) => r.model === m && r.family === 'all')!;
    const [s, d] = [all('SFT'), all('DPO')];
    const verdicts = (m: string) => {
      const v: Record<string, number> = {};
      c.tasks.forEach((t, i) => { const x = oracleScore(t, c.replies[m][i].text).verdict; v[x] = (v[x] ?? 0) + 1; });
      return JSON.stringify(v);
    };
    console.log(`temperature ${temperature}: win rate ${d.winRate.toFixed(3)} (${d.wins} / ${d.ties} / ${d.losses}), KL ${d.kl?.toFixed(3)}, content ${s.contentAccuracy.toFixed(3)} -> ${d.contentAccuracy.toFixed(3)}, exact ${s.accuracy.toFixed(3)} -> ${d.accuracy.toFixed(3)}`);
    console.log(`  verdicts SFT ${verdicts('SFT')}\n  verdicts DPO ${verdicts('DPO')}`);
  }
}

main(values.sft).catch((e) => {
  console.error(e);
  process.exit(1);
});
