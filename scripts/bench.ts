// npm run bench: training and generation speed of the decoder on this
// machine, next to the same model, batch and optimizer in PyTorch (when
// /usr/bin/python3 or $WORKBOOK_PYTHON can import torch); first, the BPE
// tokenizer's encoding speed next to tokenizers.js (scripts/bench/tokenizer.ts).
//
//   npm run bench -- [--configs S,M] [--steps 10] [--warmup 3] [--workers 1,2] [--no-torch] [--no-sft] [--out out/bench]
//
// Ours: the `wasm` backend (or WORKBOOK_BACKEND), one thread, then data
// parallel over worker threads. PyTorch: scripts/reference/llama_reference.py
// with its threads pinned by environment before import (OMP/OpenBLAS/MKL
// thread counts and OMP_WAIT_POLICY=PASSIVE), at 1 thread and at the number
// of workers. Ratios compare runs made in this one script, on this machine.
// Last, the SFT trainer next to Hugging Face TRL's SFTTrainer (scripts/bench/
// sft_trl.ts), where a Python with TRL is found (the project's .venv).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { randomStream, selectBackend, type BackendChoice } from '../kernel-lib/runtime';
import { createDecoder, disposeDecoder, generate, modelConfig, parameterCount } from '../kernel-lib/model';
import { lmObjective, startWorkers, train, type BatchSource, type LmBatch } from '../kernel-lib/train';
import { findTorchPython, findTrlPython, runReference } from './reference/python';
import { sftTrlBench, type SftTrlRow } from './bench/sft_trl';
import { tokenizerBench } from './bench/tokenizer';

interface BenchConfig {
  model: Record<string, number | boolean>;
  train: { batch_size: number; seq_len: number; lr: number; weight_decay: number };
  generate: { prompt_len: number; new_tokens: number; batch_sizes: number[] };
}

const { values: args } = parseArgs({
  options: {
    configs: { type: 'string', default: 'S,M' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    workers: { type: 'string', default: '2' },
    'no-torch': { type: 'boolean', default: false },
    'no-sft': { type: 'boolean', default: false },
    out: { type: 'string', default: 'out/bench' },
  },
});
const configs = JSON.parse(fs.readFileSync(path.join(__dirname, 'bench', 'configs.json'), 'utf8')) as Record<string, BenchConfig>;
const steps = Number(args.steps);
const warmup = Number(args.warmup);
const workerCounts = args.workers!.split(',').map(Number);
const maxWorkers = Math.max(...workerCounts);

/** Uniformly random token windows, as the PyTorch reference uses. */
function randomTokens(vocab: number, c: BenchConfig): BatchSource<LmBatch> {
  const { batch_size: rows, seq_len: length } = c.train;
  return {
    batch(step) {
      const uniform = randomStream(`bench:${step}`);
      const draw = () => Math.floor(uniform() * vocab);
      return { rows, length, inputs: Int32Array.from({ length: rows * length }, draw), targets: Int32Array.from({ length: rows * length }, draw) };
    },
  };
}

async function trainSpeed(c: BenchConfig, workers: number, backend: BackendChoice): Promise<number> {
  const config = modelConfig(c.model as never);
  const model = createDecoder(config, 0);
  const pool = workers > 1 ? await startWorkers(workers, { backend, objective: 'lm' }) : undefined;
  const r = await train(model, { steps: warmup + steps, lr: c.train.lr, weightDecay: c.train.weight_decay, warmupSteps: 0, progress: 'none' }, {
    objective: lmObjective,
    data: randomTokens(config.vocab_size, c),
    workers: pool,
  });
  await pool?.close();
  disposeDecoder(model);
  const timed = r.history.slice(warmup);
  const seconds = timed.reduce((a, h) => a + h.tokens / h.tokens_per_s, 0);
  return timed.reduce((a, h) => a + h.tokens, 0) / seconds;
}

async function generateSpeed(c: BenchConfig, batch: number): Promise<number> {
  const config = modelConfig(c.model as never);
  const model = createDecoder(config, 0);
  const uniform = randomStream('bench:prompts');
  const prompts = Array.from({ length: batch }, () => Array.from({ length: c.generate.prompt_len }, () => Math.floor(uniform() * config.vocab_size)));
  await generate(model, prompts, { maxNewTokens: 8 }); // warm-up
  const t0 = performance.now();
  const r = await generate(model, prompts, { maxNewTokens: c.generate.new_tokens });
  const seconds = (performance.now() - t0) / 1000;
  disposeDecoder(model);
  return r.tokens.reduce((a, t) => a + t.length, 0) / seconds;
}

interface TorchResult {
  train_tokens_per_s: number;
  gen: Record<string, number>;
  torch: string;
  peak_rss_mb: number;
}

function torchBench(python: string, name: string, threads: number): TorchResult {
  return runReference(python, ['bench', '--config', name, '--threads', String(threads), '--steps', String(steps), '--warmup', String(warmup)]) as TorchResult;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}x` : '-');

(async () => {
  const report = await selectBackend((process.env.WORKBOOK_BACKEND as BackendChoice | undefined) ?? 'wasm');
  const backend = report.backend as BackendChoice;
  const python = args['no-torch'] ? null : findTorchPython();
  console.log(`backend ${backend} · ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}) · node ${process.versions.node} · tfjs ${tf.version.tfjs}`);
  console.log(python ? `PyTorch reference: ${python}` : 'PyTorch reference: not run (no python3 with torch found, or --no-torch)');
  const tok = tokenizerBench();
  console.log(
    `\n[tokenizer] BPE (vocab ${tok.vocabSize}) encoding data/corpus/base.txt: ours ${fmt(tok.oursTokensPerS)} tok/s, ` +
      `tokenizers.js ${fmt(tok.referenceTokensPerS)} tok/s (${ratio(tok.oursTokensPerS, tok.referenceTokensPerS)})`,
  );
  const rows: Record<string, unknown>[] = [];
  for (const name of args.configs!.split(',')) {
    const c = configs[name];
    if (!c) throw new Error(`bench: unknown config "${name}"; known: ${Object.keys(configs).join(', ')}`);
    const params = parameterCount(modelConfig(c.model as never));
    console.log(`\n[${name}] ${fmt(params)} parameters, batch ${c.train.batch_size} x ${c.train.seq_len}`);
    const torch1 = python ? torchBench(python, name, 1) : undefined;
    const torchN = python && maxWorkers > 1 ? torchBench(python, name, maxWorkers) : undefined;
    const ours1 = await trainSpeed(c, 1, backend);
    console.log(`  train, 1 thread: ours ${fmt(ours1)} tok/s, PyTorch ${torch1 ? fmt(torch1.train_tokens_per_s) : '-'} tok/s`);
    rows.push({ config: name, measure: 'train tok/s', threads: 1, ours: ours1, pytorch: torch1?.train_tokens_per_s });
    for (const w of workerCounts.filter((n) => n > 1)) {
      const oursW = await trainSpeed(c, w, backend);
      const ref = w === maxWorkers ? torchN : undefined;
      console.log(`  train, ${w} workers: ours ${fmt(oursW)} tok/s (${(oursW / ours1).toFixed(2)}x of 1 thread), PyTorch ${ref ? fmt(ref.train_tokens_per_s) : '-'}`);
      rows.push({ config: name, measure: 'train tok/s', threads: w, ours: oursW, pytorch: ref?.train_tokens_per_s, speedup: oursW / ours1 });
    }
    for (const b of c.generate.batch_sizes) {
      const g = await generateSpeed(c, b);
      const ref = torch1?.gen[String(b)];
      console.log(`  generate, batch ${b}, 1 thread: ours ${fmt(g)} tok/s, PyTorch ${ref ? fmt(ref) : '-'}`);
      rows.push({ config: name, measure: `generate b=${b} tok/s`, threads: 1, ours: g, pytorch: ref });
    }
  }
  let sft: SftTrlRow[] = [];
  if (!args['no-sft']) {
    const trlPython = args['no-torch'] ? null : findTrlPython();
    console.log(`\n[sft] the SFT trainer on the world's conversations (notebook 03's quick model, 16 conversations a batch, padded)` +
      (trlPython ? `; TRL: ${trlPython}` : '; TRL: not run (no Python with trl found: create .venv, see scripts/reference/README.md)'));
    sft = await sftTrlBench({ python: trlPython, threadCounts: [...new Set([1, ...workerCounts])], steps: Math.max(steps, 20), warmup: warmup, backend });
    for (const r of sft) console.log(`  ${r.threads} thread(s): ours ${fmt(r.ours)} tok/s (packed: ${fmt(r.oursPacked)}), TRL ${r.trl ? fmt(r.trl) : '-'} tok/s (${ratio(r.ours, r.trl)})`);
  }
  const usage = process.resourceUsage();
  const memory = { peak_rss_mb: Math.round(usage.maxRSS / 1024), tensors_alive: tf.memory().numTensors, wasm_bytes: tf.memory().numBytes };
  const header = '| config | measure | threads | ours | PyTorch | ours / PyTorch | speed-up vs 1 worker |';
  const table = [header, '|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    table.push(`| ${r.config} | ${r.measure} | ${r.threads} | ${fmt(r.ours as number)} | ${r.pytorch ? fmt(r.pytorch as number) : '-'} | ${ratio(r.ours as number, r.pytorch as number | undefined)} | ${r.speedup ? `${(r.speedup as number).toFixed(2)}x` : ''} |`);
  }
  console.log('\n' + table.join('\n'));
  console.log(`\n| tokenizer | ours tok/s | tokenizers.js tok/s | ours / tokenizers.js |\n|---|---|---|---|\n| BPE, vocab ${tok.vocabSize} | ${fmt(tok.oursTokensPerS)} | ${fmt(tok.referenceTokensPerS)} | ${ratio(tok.oursTokensPerS, tok.referenceTokensPerS)} |`);
  if (sft.length > 0) {
    console.log(`\n| SFT trainer (TRL's num_tokens/s) | threads | ours | TRL | ours / TRL | ours, packed | packed / TRL |\n|---|---|---|---|---|---|---|\n` +
      sft.map((r) => `| d128 x 4, 16 conversations a step | ${r.threads} | ${fmt(r.ours)} | ${r.trl ? fmt(r.trl) : '-'} | ${ratio(r.ours, r.trl)} | ${fmt(r.oursPacked)} | ${ratio(r.oursPacked, r.trl)} |`).join('\n'));
  }
  console.log(`\npeak RSS ${memory.peak_rss_mb} MB (this process and its workers) · tensors alive after the run: ${memory.tensors_alive}`);
  fs.mkdirSync(args.out!, { recursive: true });
  const file = path.join(args.out!, 'results.json');
  fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), backend, cpus: os.cpus().length, steps, warmup, rows, sft, tokenizer: tok, memory }, null, 2) + '\n');
  console.log(`results in ${file}`);
})().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
