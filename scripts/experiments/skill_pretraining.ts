// Does a base model that has read skill paragraphs learn the algorithmic
// families in SFT? Pre-trains notebook 03's model (d 128, 4 layers, 4 heads,
// context 128, BPE 512) on a world's corpus, probes whether it copies a list
// from its prompt, then runs notebook 04's SFT (packed rows of 128, batch 16,
// lr 1e-3) on a world's demonstrations and prints held-out exact match and
// content accuracy per family (--at: also at those steps along the way). The
// held-out tasks are the committed world's in every world of seed 7. Two
// workers; one run each, seed 0. Full mode's world (FULL_WORLD_OPTIONS):
//
//   npx tsx scripts/make-world.ts --skills 6000 --tasks 1000 --out out/world-full
//   npx tsx scripts/experiments/skill_pretraining.ts pretrain --world out/world-full --steps 3000 --out out/experiments/base-full
//   npx tsx scripts/experiments/skill_pretraining.ts sft --world out/world-full --base out/experiments/base-full --steps 1000 --at 600,800
//   npx tsx scripts/experiments/skill_pretraining.ts probe --base out/checkpoints/03-base-model
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadWorld, type Conversation } from '../../kernel-lib/data';
import { evaluateTasks } from '../../kernel-lib/eval';
import { createDecoder, generate, loadCheckpoint, modelConfig, saveCheckpoint, type Decoder } from '../../kernel-lib/model';
import { initRuntime } from '../../kernel-lib/runtime';
import { builtinTemplate, loadTokenizer, saveTokenizer, trainBpe, type BpeTokenizer } from '../../kernel-lib/text';
import { lmObjective, randomWindows, sequentialBatches, sftBatches, sftExamples, sftObjective, startWorkers, train } from '../../kernel-lib/train';

const ROOT = path.join(__dirname, '..', '..');
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    world: { type: 'string', default: path.join(ROOT, 'data', 'world') },
    steps: { type: 'string', default: '1000' },
    lr: { type: 'string' },
    out: { type: 'string' },
    base: { type: 'string' },
    workers: { type: 'string', default: '2' },
    at: { type: 'string', default: '' },
  },
});
const workers = Number(values.workers);
// The held-out split is the same in every world of the seed (its own stream); --world also picks the SFT demonstrations.
const tasks = loadWorld(values.world!);

/** The formatting family's held-out word lists, asked as a skill paragraph states them: does the base model copy the words? */
async function copyProbe(model: Decoder, tok: BpeTokenizer): Promise<void> {
  const words = (t: Conversation) => ((t.meta!.params as { items?: unknown }).items) as string[] | undefined;
  const probes = tasks.sftTest.filter((t) => t.category === 'formatting' && Array.isArray(words(t)) && !/^\d/.test(String(words(t)![0])));
  let copied = 0;
  const shown: string[] = [];
  for (const t of probes) {
    const prompt = `The words ${words(t)!.join(', ')} as a bulleted list:\n`;
    const ids = tok.encode(prompt, { addSpecialTokens: false });
    const text = tok.decode((await generate(model, [ids], { maxNewTokens: 24, temperature: 0 })).tokens[0]);
    if (words(t)!.every((w) => text.includes(`- ${w}`))) copied++;
    if (shown.length < 3) shown.push(`${JSON.stringify(prompt)} -> ${JSON.stringify(text.slice(0, 50))}`);
  }
  console.log(`copy probe: ${copied} of ${probes.length} held-out word lists continued as the bulleted list of the same words\n  ${shown.join('\n  ')}`);
}

async function pretrain(): Promise<void> {
  await initRuntime({ seed: 0 });
  const text = fs.readFileSync(path.join(values.world!, 'corpus.txt'), 'utf8');
  const cut = Math.floor(text.length * 0.95);
  const tok = trainBpe(text.slice(0, cut), { vocabSize: 512, specialTokens: ['<|bos|>', '<|eos|>', '<|pad|>', '<|im_start|>', '<|im_end|>'] });
  const trainIds = Int32Array.from(tok.encode(text.slice(0, cut)));
  const evalIds = Int32Array.from(tok.encode(text.slice(cut)));
  console.log(`${values.world}: ${text.split('\n\n').length} paragraphs, ${trainIds.length} training tokens`);
  const config = modelConfig({ vocab_size: tok.vocabSize, hidden_size: 128, num_hidden_layers: 4, num_attention_heads: 4, max_position_embeddings: 128, bos_token_id: tok.bos, eos_token_id: tok.eos, pad_token_id: tok.pad });
  const model = createDecoder(config, 0);
  const steps = Number(values.steps);
  const pool = workers > 1 ? await startWorkers(workers, { backend: 'wasm', objective: 'lm' }) : undefined;
  const t0 = Date.now();
  const run = await train(model, { steps, lr: Number(values.lr ?? 3e-3), warmupSteps: Math.floor(steps / 20), weightDecay: 0.1, clipNorm: 1, evalEvery: Math.max(1, Math.floor(steps / 5)), seed: 0, progress: 'line' }, {
    objective: lmObjective, data: randomWindows(trainIds, { batchSize: 16, seqLen: 128, seed: 0 }), evalData: sequentialBatches(evalIds, { batchSize: 16, seqLen: 128, maxBatches: 4 }), workers: pool,
  });
  await pool?.close();
  console.log(`pre-trained ${steps} steps in ${((Date.now() - t0) / 1000).toFixed(0)} s; loss ${run.history.at(-1)!.loss.toFixed(3)}, held-out ${run.evals.at(-1)!.eval_loss.toFixed(3)}`);
  saveCheckpoint(values.out!, model);
  saveTokenizer(values.out!, tok);
  await copyProbe(model, tok);
}

const CHATML = builtinTemplate('chatml');

/** Exact match and content accuracy, overall and per family, on the held-out tasks. */
async function heldOut(model: Decoder, tok: BpeTokenizer, label: string): Promise<void> {
  const e = await evaluateTasks(model, tok, CHATML, tasks, { maxNewTokens: 48, fitContext: true, batchSize: 32 });
  console.log(`${label}: exact ${(100 * e.overall.accuracy).toFixed(1)}%, content ${(100 * e.overall.contentAccuracy).toFixed(1)}%, padded ${(100 * e.overall.padded).toFixed(0)}%`);
  for (const r of e.rows) console.log(`  ${r.family.padEnd(14)} n ${String(r.n).padStart(3)}  exact ${(100 * r.accuracy).toFixed(1).padStart(5)}%  content ${(100 * r.contentAccuracy).toFixed(1).padStart(5)}%`);
}

async function sft(): Promise<void> {
  await initRuntime({ seed: 0 });
  const model = loadCheckpoint(values.base!).model;
  const tok = loadTokenizer(values.base!);
  const examples = sftExamples(tasks.sftTrain, tok, CHATML, { batchSize: 16 }).filter((e) => e.ids.length <= 129);
  const data = sftBatches(examples, { batchSize: 16, padId: tok.pad, packing: true, maxLength: 128, seed: 0 });
  const steps = Number(values.steps);
  const at = new Set(values.at!.split(',').filter(Boolean).map(Number));
  const pool = workers > 1 ? await startWorkers(workers, { backend: 'wasm', objective: 'sft' }) : undefined;
  const t0 = Date.now();
  let evaluating = 0; // milliseconds spent evaluating along the way, left out of the training time
  const along = { onStep: async (r: { step: number }) => {
    if (!at.has(r.step)) return;
    const t = Date.now();
    await heldOut(model, tok, `step ${r.step}`);
    evaluating += Date.now() - t;
  } };
  await train(model, { steps, lr: Number(values.lr ?? 1e-3), weightDecay: 0, clipNorm: 1, warmupSteps: Math.floor(steps / 20), seed: 0, progress: 'line' }, { objective: sftObjective, data, workers: pool, callbacks: [along] });
  await pool?.close();
  console.log(`SFT ${steps} steps in ${((Date.now() - t0 - evaluating) / 1000).toFixed(0)} s of training`);
  await heldOut(model, tok, `step ${steps}`);
  saveCheckpoint(path.join(values.base!, `sft-${steps}`), model);
  saveTokenizer(path.join(values.base!, `sft-${steps}`), tok);
}

async function probe(): Promise<void> {
  await initRuntime({ seed: 0 });
  await copyProbe(loadCheckpoint(values.base!).model, loadTokenizer(values.base!));
}

const commands: Record<string, () => Promise<void>> = { pretrain, sft, probe };
const command = commands[positionals[0]];
if (!command || (positionals[0] === 'pretrain' && !values.out) || (positionals[0] !== 'pretrain' && !values.base)) {
  console.error('usage: skill_pretraining.ts pretrain --out DIR [--world DIR] [--steps N] | sft --base DIR [--world DIR] [--steps N] [--at N,N] | probe --base DIR');
  process.exit(2);
}
command().catch((e) => {
  console.error(e);
  process.exit(1);
});
