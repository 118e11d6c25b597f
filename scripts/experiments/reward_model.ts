// Notebook 05's reward model from an SFT checkpoint with its knobs as
// --name=value flags: --sft, --steps, --lr, --center (centring coefficient),
// --batch, --warmup (share of steps), --seed. Prints held-out pairwise
// accuracy overall and per preference rule (rewardModelReport, the notebook's
// evaluator), and every held-out pair of --show=RULE it ranks the wrong way.
// Two workers.
//
//   npx tsx scripts/experiments/reward_model.ts --sft=out/checkpoints/04-instruction-tuning --steps=200 --lr=3e-4
import { builtinTemplate, selectBackend, loadTokenizer, loadRewardModel, loadWorld, encodePreferences, preferenceBatches,
  rewardObjective, scoreReplies, rewardModelReport, replyText, startWorkers, train, seedEverything } from '../../kernel-lib';
const arg = (k: string, d: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d;
(async () => {
  await selectBackend('wasm');
  const dir = arg('sft', 'out/checkpoints/04-instruction-tuning');
  const steps = Number(arg('steps', '200')), lr = Number(arg('lr', '3e-4')), center = Number(arg('center', '0.01'));
  const batchSize = Number(arg('batch', '16')), warmup = Number(arg('warmup', '0.1')), seed = Number(arg('seed', '0'));
  seedEverything(seed);
  const tokenizer = loadTokenizer(dir);
  const template = builtinTemplate('chatml');
  const world = loadWorld('data/world');
  const { model } = loadRewardModel(dir, { seed });
  const encodeOptions = { maxLength: model.config.max_position_embeddings, tooLong: 'drop' as const };
  const trainSet = encodePreferences(world.preferencesTrain, tokenizer, template, encodeOptions);
  const dropped = new Set(encodePreferences(world.preferencesTest, tokenizer, template, encodeOptions).dropped.map((d) => d.id));
  const heldOut = world.preferencesTest.filter((p) => !dropped.has(p.id));
  const pool = await startWorkers(2, { backend: 'wasm', objective: 'reward' });
  const t0 = Date.now();
  await train(model, { steps, lr, warmupSteps: Math.floor(steps * warmup), weightDecay: 0, clipNorm: 1, seed, progress: 'none' }, {
    objective: rewardObjective({ centerRewardsCoefficient: center }),
    data: preferenceBatches(trainSet.pairs, { batchSize, padId: tokenizer.pad, seed }),
    workers: pool, closeWorkers: true,
  });
  console.log(`steps ${steps} lr ${lr} center ${center} batch ${batchSize} seed ${seed}: trained in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const report = await rewardModelReport(heldOut, (prompt, reply) => scoreReplies(model, tokenizer, template, prompt, [reply])[0]);
  for (const r of report.rows) console.log(`  ${r.rule}: ${r.accuracy.toFixed(3)} (${Math.round(r.accuracy * r.n)}/${r.n}) margin ${r.meanMargin.toFixed(2)}`);
  const show = arg('show', '');
  if (show) {
    for (const p of report.pairs.filter((x) => x.rule === show && x.margin <= 0)) {
      const pair = heldOut.find((q) => q.id === p.id)!;
      console.log(`  miss ${p.id} margin ${p.margin.toFixed(2)}: ${JSON.stringify(pair.prompt.at(-1)!.content)} chosen ${JSON.stringify(replyText(pair.chosen))} rejected ${JSON.stringify(replyText(pair.rejected))}`);
    }
  }
})();
