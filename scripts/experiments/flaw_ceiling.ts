// How much can preference tuning win by removing flaws alone? Generates an SFT
// checkpoint's held-out replies (greedy and at temperature 0.7), then scores,
// by the oracle's win rate against those replies, the same replies with the
// flaws removed and nothing else changed: fillers stripped; then also every
// reply to an unanswerable request replaced by the refusal; then also every
// right answer in another format rewritten in the asked one. The oracle's
// padding penalty applies only to right answers, so this ceiling is about
// half the share of "right and padded" replies above 0.5. The last line is
// the ceiling of a policy that answers everything right (the references).
//
//   npx tsx scripts/experiments/flaw_ceiling.ts --sft out/full/checkpoints/04-instruction-tuning
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadWorld } from '../../kernel-lib/data';
import { stripFillers } from '../../kernel-lib/data/world/judge';
import { generateReplies, oracleScore, selectTasks, winRates } from '../../kernel-lib/eval';
import { initRuntime } from '../../kernel-lib/runtime';
import { loadChatCheckpoint } from './checkpoint_chat';

const ROOT = path.join(__dirname, '..', '..');
const { values } = parseArgs({ options: { sft: { type: 'string' }, world: { type: 'string', default: path.join(ROOT, 'data', 'world') } } });
if (!values.sft) {
  console.error('usage: flaw_ceiling.ts --sft CHECKPOINT_DIR [--world DIR]');
  process.exit(2);
}

async function main(dir: string): Promise<void> {
  await initRuntime({ seed: 0 });
  const { model, tokenizer, template } = loadChatCheckpoint(dir);
  const tasks = selectTasks(loadWorld(values.world!), { split: 'test' });
  const reference = (i: number) => tasks[i].messages.at(-1)!.content;
  for (const temperature of [0, 0.7]) {
    const replies = (await generateReplies(model, tokenizer, template, tasks, { maxNewTokens: 48, fitContext: true, batchSize: 32, temperature, seed: 0 })).map((r) => r.text);
    const verdicts: Record<string, number> = {};
    replies.forEach((r, i) => { const v = oracleScore(tasks[i], r).verdict; verdicts[v] = (verdicts[v] ?? 0) + 1; });
    console.log(`temperature ${temperature}: ${tasks.length} held-out replies, oracle verdicts ${JSON.stringify(verdicts)}`);
    const stripped = replies.map((r) => stripFillers(r).core);
    const refused = stripped.map((r, i) => (tasks[i].category === 'refusal' ? reference(i) : r));
    const formatted = refused.map((r, i) => (oracleScore(tasks[i], r).verdict === 'otherFormat' ? reference(i) : r));
    const variants: [string, string[]][] = [
      ['fillers stripped', stripped], ['+ refusals where unanswerable', refused], ['+ the asked format', formatted], ['every reply right (the references)', tasks.map((_, i) => reference(i))],
    ];
    for (const [name, texts] of variants) {
      const all = winRates(tasks, texts, replies).find((w) => w.family === 'all')!;
      console.log(`  ${name.padEnd(36)} win rate ${all.winRate.toFixed(3)} (${all.wins} wins, ${all.ties} ties, ${all.losses} losses)`);
    }
  }
}

main(values.sft).catch((e) => {
  console.error(e);
  process.exit(1);
});
