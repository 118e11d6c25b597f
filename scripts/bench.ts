// npm run bench: training and generation speed of the decoder on this
// machine, next to the same model, batch and optimizer in PyTorch (when
// /usr/bin/python3 or $WORKBOOK_PYTHON can import torch); first, the BPE
// tokenizer's encoding speed next to tokenizers.js (scripts/bench/tokenizer.ts).
//
//   npm run bench -- [--configs S,M] [--steps 10] [--warmup 3] [--workers 1,2] [--no-torch] [--no-sft] [--out out/bench]
//   npm run bench -- --configs L --no-sft     # SmolLM2-135M's shape with LoRA (minutes; see below)
//   npm run bench -- --configs L --no-sft --checkpointing off   # ours without gradient checkpointing (or: 15, the first 15 layers)
//
// Ours: the `wasm` backend (or WORKBOOK_BACKEND), one thread, then data
// parallel over worker threads. PyTorch: scripts/reference/llama_reference.py
// with its threads pinned by environment before import (OMP/OpenBLAS/MKL
// thread counts and OMP_WAIT_POLICY=PASSIVE), at 1 thread and at the number
// of workers. Ratios compare runs made in this one script, on this machine.
// Last, the SFT trainer next to Hugging Face TRL's SFTTrainer (scripts/bench/
// sft_trl.ts), where a Python with TRL is found (the project's .venv).
//
// A config with a "lora" entry (L: SmolLM2-135M's shape, LoRA rank 16 on
// every projection, 2 rows x 512 tokens an update, gradient checkpointing)
// runs only when named: each of our measurements in a fresh process
// (scripts/bench/lora.ts) so that its peak RSS and wasm heap are its own,
// PyTorch with the same adapters with and without its own checkpointing, and
// its own default of 3 timed steps after 1 warm-up (--steps/--warmup override).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { randomStream, selectBackend, type BackendChoice } from '../kernel-lib/runtime';
import { createDecoder, disposeDecoder, generate, modelConfig, parameterCount } from '../kernel-lib/model';
import { lmObjective, startWorkers, train, type BatchSource, type LmBatch } from '../kernel-lib/train';
import { findTorchPython, findTrlPython, runReference } from './reference/python';
import { benchConfigs, type BenchConfig } from './bench/config';
import { loraGenerateSpeed, loraTrainSpeed, type LoraGenerateResult, type LoraTrainResult } from './bench/lora';
import { sftTrlBench, type SftTrlRow } from './bench/sft_trl';
import { tokenizerBench } from './bench/tokenizer';

const { values: args } = parseArgs({
  options: {
    configs: { type: 'string', default: 'S,M' },
    // Defaults: 10 and 3, or the config's own (L: 3 and 1).
    steps: { type: 'string' },
    warmup: { type: 'string' },
    workers: { type: 'string', default: '2' },
    'no-torch': { type: 'boolean', default: false },
    'no-sft': { type: 'boolean', default: false },
    out: { type: 'string', default: 'out/bench' },
    // LoRA configs: our gradient checkpointing on, off, or for the first N layers, whatever the config says.
    checkpointing: { type: 'string' },
  },
});
/** --checkpointing on, off, or a number of layers; undefined: the config's own. */
const checkpointingOverride = ((): boolean | number | undefined => {
  const v = args.checkpointing;
  if (v === undefined) return undefined;
  if (v === 'on' || v === 'off') return v === 'on';
  if (/^\d+$/.test(v)) return Number(v);
  throw new Error(`bench: --checkpointing takes on, off or a number of layers, not "${v}"`);
})();
const configs = benchConfigs();
const stepsOf = (c?: BenchConfig) => Number(args.steps ?? c?.train.steps ?? 10);
const warmupOf = (c?: BenchConfig) => Number(args.warmup ?? c?.train.warmup ?? 3);
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
  const [steps, warmup] = [stepsOf(c), warmupOf(c)];
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
  train_peak_rss_mb: number;
  gradient_checkpointing: boolean;
}

function torchBench(python: string, name: string, threads: number, extra: { checkpointing?: boolean; generate?: boolean } = {}): TorchResult {
  const c = configs[name];
  return runReference(python, [
    'bench', '--config', name, '--threads', String(threads), '--steps', String(stepsOf(c)), '--warmup', String(warmupOf(c)),
    ...(extra.checkpointing ? ['--gradient-checkpointing'] : []),
    ...(extra.generate === false ? ['--skip-generate'] : []),
  ]) as TorchResult;
}

/** One thread count of a LoRA config: ours, and PyTorch with and without its own gradient checkpointing. */
interface LoraRow {
  threads: number;
  ours: LoraTrainResult;
  torchCheckpointed?: TorchResult;
  torchPlain?: TorchResult;
}

interface LoraReport {
  config: string;
  steps: number;
  warmup: number;
  train: LoraRow[];
  generate: LoraGenerateResult;
  torchGenerate?: Record<string, number>;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmt1 = (n: number) => (n < 100 ? n.toFixed(1) : fmt(n));
const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}x` : '-');

/** A LoRA config (L): each of our measurements in a process of its own; PyTorch with and without checkpointing. */
function loraBench(name: string, config: BenchConfig, python: string | null, backend: BackendChoice, rows: Record<string, unknown>[]): LoraReport {
  // --checkpointing: our runs read the config from a copy with the setting changed.
  const c: BenchConfig = checkpointingOverride !== undefined ? { ...config, train: { ...config.train, gradient_checkpointing: checkpointingOverride } } : config;
  const configsFile = args.checkpointing ? path.join(args.out!, `configs-checkpointing-${args.checkpointing}.json`) : undefined;
  if (configsFile) {
    fs.mkdirSync(args.out!, { recursive: true });
    fs.writeFileSync(configsFile, JSON.stringify({ ...configs, [name]: c }, null, 2));
  }
  const counts = [1, ...workerCounts.filter((n) => n > 1)];
  const [steps, warmup] = [stepsOf(c), warmupOf(c)];
  const micro = c.train.micro_batch ?? c.train.batch_size;
  console.log(`  LoRA r=${c.lora!.rank} (alpha ${c.lora!.alpha}) on ${c.lora!.targets.join(', ')}; ${c.train.batch_size} rows x ${c.train.seq_len} tokens an update, ` +
    `${micro} row(s) a forward pass; gradient checkpointing ${c.train.gradient_checkpointing === true ? 'on' : !c.train.gradient_checkpointing ? 'off' : `on the first ${c.train.gradient_checkpointing} layers`} (ours); ${steps} timed steps after ${warmup} warm-up`);
  const train: LoraRow[] = [];
  let torchGenerate: Record<string, number> | undefined;
  for (const threads of counts) {
    const row: LoraRow = { threads, ours: undefined as unknown as LoraTrainResult };
    if (python && (threads === 1 || threads === maxWorkers)) {
      row.torchCheckpointed = torchBench(python, name, threads, { checkpointing: true, generate: threads === 1 });
      row.torchPlain = torchBench(python, name, threads, { checkpointing: false, generate: false });
      if (threads === 1) torchGenerate = row.torchCheckpointed.gen;
      console.log(`  PyTorch ${row.torchPlain.torch}, ${threads} thread(s): ${fmt1(row.torchCheckpointed.train_tokens_per_s)} tok/s checkpointed ` +
        `(peak RSS ${fmt(row.torchCheckpointed.train_peak_rss_mb)} MB), ${fmt1(row.torchPlain.train_tokens_per_s)} tok/s without (peak RSS ${fmt(row.torchPlain.train_peak_rss_mb)} MB)`);
    }
    row.ours = loraTrainSpeed(name, threads, steps, warmup, backend, configsFile);
    const o = row.ours;
    const label = threads === 1 ? '1 thread' : `${threads} workers`;
    console.log(`  train, ${label}: ours ${fmt1(o.tokensPerS)} tok/s (steps ${o.stepSeconds.map((x) => x.toFixed(1)).join(', ')} s), ` +
      `peak RSS ${fmt(o.peakRssMB)} MB, main thread's wasm heap ${fmt(o.wasmHeapMB)} MB; ` +
      `ours / PyTorch ${ratio(o.tokensPerS, row.torchPlain?.train_tokens_per_s)} (${ratio(o.tokensPerS, row.torchCheckpointed?.train_tokens_per_s)} of PyTorch checkpointed)`);
    rows.push({ config: name, measure: 'train tok/s (LoRA)', threads, ours: o.tokensPerS, pytorch: row.torchPlain?.train_tokens_per_s, speedup: threads > 1 ? o.tokensPerS / train[0].ours.tokensPerS : undefined });
    train.push(row);
  }
  const generate = loraGenerateSpeed(name, backend);
  for (const b of c.generate.batch_sizes) {
    const g = generate.tokensPerS[String(b)];
    const ref = torchGenerate?.[String(b)];
    console.log(`  generate, batch ${b}, 1 thread: ours ${fmt1(g)} tok/s, PyTorch ${ref ? fmt1(ref) : '-'} (${ratio(g, ref)})`);
    rows.push({ config: name, measure: `generate b=${b} tok/s (LoRA)`, threads: 1, ours: g, pytorch: ref });
  }
  return { config: name, steps, warmup, train, generate, torchGenerate };
}

/** The LoRA config's table: speed and peak memory, ours and PyTorch's. */
function loraTable(r: LoraReport): string {
  const lines = [
    `| ${r.config}: LoRA training | threads | ours tok/s | PyTorch tok/s (no checkpointing / checkpointed) | ours / PyTorch (no ckpt / ckpt) | ours peak RSS MB (main thread's wasm heap) | PyTorch peak RSS MB (no ckpt / ckpt) |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const t of r.train) {
    const [p, q] = [t.torchPlain, t.torchCheckpointed];
    lines.push(`| ${t.threads === 1 ? 'one thread' : `${t.threads} workers`} | ${t.threads} | ${fmt1(t.ours.tokensPerS)} | ${p ? fmt1(p.train_tokens_per_s) : '-'} / ${q ? fmt1(q.train_tokens_per_s) : '-'} | ` +
      `${ratio(t.ours.tokensPerS, p?.train_tokens_per_s)} / ${ratio(t.ours.tokensPerS, q?.train_tokens_per_s)} | ${fmt(t.ours.peakRssMB)} (${fmt(t.ours.wasmHeapMB)}) | ` +
      `${p ? fmt(p.train_peak_rss_mb) : '-'} / ${q ? fmt(q.train_peak_rss_mb) : '-'} |`);
  }
  return lines.join('\n');
}

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
  const lora: LoraReport[] = [];
  for (const name of args.configs!.split(',')) {
    const c = configs[name];
    if (!c) throw new Error(`bench: unknown config "${name}"; known: ${Object.keys(configs).join(', ')}`);
    const params = parameterCount(modelConfig(c.model as never));
    console.log(`\n[${name}] ${fmt(params)} parameters, batch ${c.train.batch_size} x ${c.train.seq_len}`);
    if (c.lora) {
      lora.push(loraBench(name, c, python, backend, rows));
      continue;
    }
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
    sft = await sftTrlBench({ python: trlPython, threadCounts: [...new Set([1, ...workerCounts])], steps: Math.max(stepsOf(), 20), warmup: warmupOf(), backend });
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
  for (const r of lora) console.log('\n' + loraTable(r));
  console.log(`\n| tokenizer | ours tok/s | tokenizers.js tok/s | ours / tokenizers.js |\n|---|---|---|---|\n| BPE, vocab ${tok.vocabSize} | ${fmt(tok.oursTokensPerS)} | ${fmt(tok.referenceTokensPerS)} | ${ratio(tok.oursTokensPerS, tok.referenceTokensPerS)} |`);
  if (sft.length > 0) {
    console.log(`\n| SFT trainer (TRL's num_tokens/s) | threads | ours | TRL | ours / TRL | ours, packed | packed / TRL |\n|---|---|---|---|---|---|---|\n` +
      sft.map((r) => `| d128 x 4, 16 conversations a step | ${r.threads} | ${fmt(r.ours)} | ${r.trl ? fmt(r.trl) : '-'} | ${ratio(r.ours, r.trl)} | ${fmt(r.oursPacked)} | ${ratio(r.oursPacked, r.trl)} |`).join('\n'));
  }
  console.log(`\npeak RSS ${memory.peak_rss_mb} MB (this process and its workers) · tensors alive after the run: ${memory.tensors_alive}`);
  fs.mkdirSync(args.out!, { recursive: true });
  const file = path.join(args.out!, 'results.json');
  fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), backend, cpus: os.cpus().length, steps: stepsOf(), warmup: warmupOf(), rows, lora, sft, tokenizer: tok, memory }, null, 2) + '\n');
  console.log(`results in ${file}`);
})().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
