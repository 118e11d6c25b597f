// Online RL from an SFT checkpoint, scored by the oracle on every held-out
// prompt: notebook 07's recipe (8 prompts x 8 samples a step, TRL's `dapo`
// loss, KL to the SFT reference) with its knobs as --name=value flags:
// --steps, --lr, --beta, --adv grpo|rloo|ppo, --prompts, --group, --reward
// oracle|rm (rm: notebook 05's reward model at --rm, the oracle watched),
// --families (comma-separated; default all), --accumulation (micro-batches of
// --prompts each summed into one update; default 1), --rows-per-pass
// (TrainConfig.rowsPerPass: most rows a worker's pass takes; default no
// limit). Prints the training curve every
// 5 steps, then win rate, KL, content and exact match against SFT, greedy and
// at temperature 0.7. Two workers, seed 0.
//
//   npx tsx scripts/experiments/online_rl.ts --sft=out/full/checkpoints/04-instruction-tuning --steps=60 --lr=3e-4 --beta=0.04
import * as fs from 'node:fs';
import { builtinTemplate, selectBackend, loadCheckpoint, loadTokenizer, decoderFromWeights, addScoreHead, loadRewardModel, loadWorld,
  rlObjective, rolloutBatches, train, startWorkers, oracleReward, scoreReplies, compare, selectTasks, type Decoder, type RewardFunction } from '../../kernel-lib';
const arg = (k: string, d: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d;
(async () => {
  await selectBackend('wasm');
  const dir = arg('sft', 'out/full/checkpoints/04-instruction-tuning');
  const sft = loadCheckpoint(dir).model;
  const tokenizer = loadTokenizer(dir);
  const template = builtinTemplate('chatml');
  const world = loadWorld('data/world');
  const copyOf = (m: Decoder): Decoder => decoderFromWeights(m.config, new Map([...m.weights].map(([k, w]) => [k, w.clone()])));
  const steps = Number(arg('steps', '40')), lr = Number(arg('lr', '1e-4')), beta = Number(arg('beta', '0.04'));
  const adv = arg('adv', 'grpo') as 'grpo' | 'rloo' | 'ppo';
  const P = Number(arg('prompts', '8')), G = Number(arg('group', '8')), accumulation = Number(arg('accumulation', '1'));
  const rowsPerPass = arg('rows-per-pass', '') ? Number(arg('rows-per-pass', '')) : undefined;
  const rewardKind = arg('reward', 'oracle');
  const families = arg('families', '');
  let prompts = selectTasks(world, { split: 'train' });
  if (families) prompts = prompts.filter((t) => families.split(',').includes(t.category!));
  const policy = copyOf(sft);
  if (adv === 'ppo') addScoreHead(policy, { seed: 0 });
  const rewards: RewardFunction[] = [];
  if (rewardKind === 'rm') {
    const rm = loadRewardModel(arg('rm', 'out/checkpoints/05-reward-model')).model;
    rewards.push({ name: 'reward_model', score: (samples) => samples.map((s) => scoreReplies(rm, tokenizer, template, s.prompt, [s.reply.text])[0]) });
    rewards.push({ ...oracleReward(), weight: 0 });
  } else rewards.push(oracleReward());
  const pool = await startWorkers(2, { backend: 'wasm', objective: 'rl' });
  const t0 = Date.now();
  const run = await train(policy, { steps, lr, warmupSteps: 0, weightDecay: 0, clipNorm: 1, accumulation, rowsPerPass, progress: 'none' }, {
    objective: rlObjective({ beta: adv === 'grpo' ? beta : 0, lossType: 'dapo' }),
    data: rolloutBatches({ policy, reference: sft, tokenizer, template, prompts, rewards, promptsPerStep: P, groupSize: G, maxNewTokens: 48, advantage: adv, seed: 0, rlooBeta: beta, ppo: { klCoef: beta } }),
    workers: pool, closeWorkers: true,
    callbacks: [{ onStep: (r: any) => { if (r.step % 5 === 0 || r.step === 1) console.log(`step ${r.step} reward ${r.reward?.toFixed(3)} oracle ${r['rewards/oracle/mean']?.toFixed(3)} zstd ${r.frac_reward_zero_std?.toFixed(2)} kl ${(r.kl ?? r['objective/kl'])?.toFixed(4)} len ${r['completions/mean_length']?.toFixed(1)} samp ${r['timing/sampling_s']?.toFixed(1)}s ${r['completions/tokens_per_s']?.toFixed(0)}tok/s elapsed ${r.elapsed_s.toFixed(0)}`); } }],
  });
  console.log(`train ${(Date.now() - t0) / 1000}s`);
  const entries = [{ name: 'SFT', model: sft, tokenizer, template }, { name: 'RL', model: policy, tokenizer, template }];
  for (const temperature of [0, 0.7]) {
    const c = await compare(entries, { tasks: world, maxNewTokens: 48, fitContext: true, batchSize: 32, temperature, seed: 0, progress: false });
    const all = (m: string) => c.rows.find((r) => r.model === m && r.family === 'all')!;
    const r = all('RL'), s = all('SFT');
    console.log(`T${temperature}: win ${r.winRate.toFixed(3)} (${r.wins}/${r.ties}/${r.losses}) kl ${r.kl?.toFixed(3)} content ${s.contentAccuracy.toFixed(3)}->${r.contentAccuracy.toFixed(3)} exact ${s.accuracy.toFixed(3)}->${r.accuracy.toFixed(3)} oracle ${s.oracleScore.toFixed(3)}->${r.oracleScore.toFixed(3)} len ${s.meanTokens?.toFixed(1)}->${r.meanTokens?.toFixed(1)}`);
    if (temperature === 0) for (const f of c.rows.filter((x) => x.model === 'RL')) console.log(`  ${f.family}: win ${f.winRate.toFixed(2)} exact ${f.accuracy.toFixed(2)} oracle ${f.oracleScore.toFixed(2)}`);
  }
})();
