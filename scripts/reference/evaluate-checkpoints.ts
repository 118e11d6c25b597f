// Scores Hugging Face folders with the workbook's own evaluator, whoever
// trained them: held-out task accuracy (greedy, the world's checkers and
// judge) for causal LMs, held-out pairwise accuracy per rule for reward
// models. It is how TRL's reference runs (trl_runs.py) and notebooks 04/05's
// checkpoints are compared in the README's results table.
//
//   npx tsx scripts/reference/evaluate-checkpoints.ts --sft DIR [--sft DIR2 ...] [--reward DIR ...] [--world data/world] [--json FILE]
import * as fs from 'node:fs';
import {
  builtinTemplate, evaluateTasks, initRuntime, loadCheckpoint, loadRewardModel, loadTokenizer, loadWorld, rewardModelReport,
  encodePreferences, scoreReplies, templateFromTokenizerConfig, type ChatTemplate,
} from '../../kernel-lib';

function parseArgs(argv: string[]): { sft: string[]; reward: string[]; world: string; json?: string } {
  const out = { sft: [] as string[], reward: [] as string[], world: 'data/world', json: undefined as string | undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag}: a value was expected after it`);
    if (flag === '--sft') out.sft.push(value);
    else if (flag === '--reward') out.reward.push(value);
    else if (flag === '--world') out.world = value;
    else if (flag === '--json') out.json = value;
    else throw new Error(`unknown option ${flag} (expected --sft, --reward, --world or --json)`);
    i++;
  }
  if (out.sft.length + out.reward.length === 0) throw new Error('nothing to evaluate: give --sft DIR or --reward DIR');
  return out;
}

function templateOf(dir: string): ChatTemplate {
  const config = JSON.parse(fs.readFileSync(`${dir}/tokenizer_config.json`, 'utf8'));
  return config.chat_template ? templateFromTokenizerConfig(config, { name: `${dir}/tokenizer_config.json` }) : builtinTemplate('chatml');
}

const pct = (x: number | null): string => (x === null ? '' : `${(100 * x).toFixed(1)}%`);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await initRuntime({ seed: 0 });
  const world = loadWorld(args.world);
  const results: Record<string, unknown>[] = [];
  for (const dir of args.sft) {
    const { model } = loadCheckpoint(dir);
    const evaluation = await evaluateTasks(model, loadTokenizer(dir), templateOf(dir), world, { maxNewTokens: 48, fitContext: true, batchSize: 32 });
    console.log(`\n${dir}: held-out tasks (${evaluation.overall.n})`);
    console.table(evaluation.rows.map((r) => ({
      family: r.family, 'exact match': pct(r.accuracy), content: pct(r.contentAccuracy), oracle: r.oracleScore.toFixed(2),
      padded: pct(r.padded), 'made up': pct(r.madeUp), 'wrong format': pct(r.wrongFormat), stop: pct(r.stopRate),
    })));
    results.push({ kind: 'sft', dir, rows: evaluation.rows });
  }
  for (const dir of args.reward) {
    const { model } = loadRewardModel(dir);
    const [tokenizer, template] = [loadTokenizer(dir), templateOf(dir)];
    const context = model.config.max_position_embeddings;
    // Pairs whose longer side does not fit the context are left out, as in notebook 05.
    const dropped = new Set(encodePreferences(world.preferencesTest, tokenizer, template, { maxLength: context, tooLong: 'drop' }).dropped.map((d) => d.id));
    const pairs = world.preferencesTest.filter((p) => !dropped.has(p.id));
    const report = await rewardModelReport(pairs, (prompt, reply) => scoreReplies(model, tokenizer, template, prompt, [reply])[0]);
    console.log(`\n${dir}: held-out pairs (${pairs.length} of ${world.preferencesTest.length} fit ${context} tokens)`);
    console.table(report.rows.map((r) => ({ rule: r.rule, pairs: r.n, accuracy: r.accuracy.toFixed(3), 'oracle agreement': r.oracleAgreement.toFixed(3) })));
    results.push({ kind: 'reward', dir, rows: report.rows, prefersLonger: report.lengthBias.prefersLonger });
  }
  if (args.json) fs.writeFileSync(args.json, JSON.stringify(results, null, 2));
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
