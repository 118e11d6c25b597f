// The LoRA configs of `npm run bench` (a config with a "lora" entry: L, at
// SmolLM2-135M's shape): training and generation speed and peak memory of
// ours, each measurement in a fresh Node process of its own, so that its peak
// RSS and wasm heap are its own (the wasm heap never shrinks, and a process's
// peak RSS covers its whole life).
//
// Training: the bench config's update (batch_size rows of seq_len random
// tokens, lm objective) with the adapters trainable and the base frozen,
// gradientCheckpointing on when the config says so (L: without it the step
// does not fit in wasm's 4 GB heap), AdamW, warm-up steps then timed steps.
// With one thread the update is taken as micro-batches of micro_batch rows
// (gradient accumulation); with n workers each worker gets micro_batch rows a
// call (stepPlan in ./config). Generation: greedy, KV cache, adapters attached
// (not merged), prompt_len random prompt tokens then new_tokens, after an
// untimed 8-token warm-up of the same batch.
//
// Run by scripts/bench.ts; by hand, one measurement (prints one JSON line):
//   npx tsx scripts/bench/lora.ts --config L --train 1 [--steps 3 --warmup 1]
//   npx tsx scripts/bench/lora.ts --config L --train 2
//   npx tsx scripts/bench/lora.ts --config L --generate
// (--configs FILE reads another configs file.)
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { addLora, createDecoder, disposeDecoder, generate, modelConfig, parameterCount, type Decoder } from '../../kernel-lib/model';
import { randomStream, selectBackend, type BackendChoice } from '../../kernel-lib/runtime';
import { lmObjective, startWorkers, train, type BatchSource, type LmBatch } from '../../kernel-lib/train';
import { benchConfigs, CONFIGS_FILE, stepPlan, type BenchConfig } from './config';

const MB = 1024 * 1024;

export interface LoraTrainResult {
  workers: number;
  /** Rows per gradient call and calls per update (see stepPlan). */
  rows: number;
  accumulation: number;
  tokensPerS: number;
  /** Seconds of each timed step. */
  stepSeconds: number[];
  lossFirst: number;
  lossLast: number;
  /** Peak RSS of the whole process: main thread and workers, each worker with its own wasm heap. */
  peakRssMB: number;
  /** The main thread's wasm heap at the end (its peak: it never shrinks). With workers, theirs are not included. */
  wasmHeapMB: number;
  trainable: number;
  parameters: number;
  gradientCheckpointing: boolean | number;
}

export interface LoraGenerateResult {
  /** New tokens per second by batch size. */
  tokensPerS: Record<string, number>;
  peakRssMB: number;
  wasmHeapMB: number;
}

const heapMB = (): number => {
  const wasm = (tf.backend() as Partial<BackendWasm>).wasm as unknown as { HEAPU8?: Uint8Array } | undefined;
  return wasm?.HEAPU8 ? wasm.HEAPU8.length / MB : NaN;
};
const peakRssMB = (): number => process.resourceUsage().maxRSS / 1024;

function loraModel(c: BenchConfig): Decoder {
  if (!c.lora) throw new Error('lora bench: the config has no "lora" entry');
  const model = createDecoder(modelConfig(c.model as never), 0);
  addLora(model, c.lora, 0);
  return model;
}

/**
 * An update's batch_size rows of random tokens (a pure function of the step),
 * handed out `rows` at a time: micro-batch m gets rows [m * rows, (m + 1) * rows).
 * So every worker count trains on the same updates.
 */
function randomRows(vocab: number, batchSize: number, rows: number, length: number): BatchSource<LmBatch> {
  return {
    batch(step, micro) {
      const uniform = randomStream(`bench-lora:${step}`);
      const draw = () => Math.floor(uniform() * vocab);
      const inputs = Int32Array.from({ length: batchSize * length }, draw);
      const targets = Int32Array.from({ length: batchSize * length }, draw);
      const part = (a: Int32Array) => a.slice(micro * rows * length, (micro + 1) * rows * length);
      return { rows, length, inputs: part(inputs), targets: part(targets) };
    },
  };
}

async function measureTrain(c: BenchConfig, workers: number, steps: number, warmup: number, backend: BackendChoice): Promise<LoraTrainResult> {
  const plan = stepPlan(c.train, workers);
  const model = loraModel(c);
  const trainable = [...model.lora!.tensors.values()].reduce((a, t) => a + t.size, 0);
  const gradientCheckpointing = c.train.gradient_checkpointing ?? false;
  const pool = workers > 1 ? await startWorkers(workers, { backend, objective: 'lm' }) : undefined;
  const total = warmup + steps;
  const r = await train(
    model,
    { steps: total, lr: c.train.lr, weightDecay: c.train.weight_decay, warmupSteps: 0, accumulation: plan.accumulation, gradientCheckpointing, progress: 'none' },
    {
      objective: lmObjective,
      data: randomRows(model.config.vocab_size, c.train.batch_size, plan.rows, c.train.seq_len),
      workers: pool,
      closeWorkers: true,
      callbacks: [{
        onStep: (s) => {
          const kind = s.step <= warmup ? 'warm-up' : 'timed';
          process.stderr.write(`    ${workers === 1 ? 'one thread' : `${workers} workers`}: step ${s.step}/${total} (${kind}) ${(s.tokens / s.tokens_per_s).toFixed(1)} s, loss ${s.loss.toFixed(4)}\n`);
        },
      }],
    },
  );
  const timed = r.history.slice(warmup);
  const stepSeconds = timed.map((h) => h.tokens / h.tokens_per_s);
  const result: LoraTrainResult = {
    workers,
    ...plan,
    tokensPerS: timed.reduce((a, h) => a + h.tokens, 0) / stepSeconds.reduce((a, s) => a + s, 0),
    stepSeconds,
    lossFirst: r.history[0].loss,
    lossLast: r.history[r.history.length - 1].loss,
    peakRssMB: peakRssMB(),
    wasmHeapMB: heapMB(),
    trainable,
    parameters: parameterCount(model.config),
    gradientCheckpointing,
  };
  disposeDecoder(model);
  return result;
}

async function measureGenerate(c: BenchConfig): Promise<LoraGenerateResult> {
  const model = loraModel(c);
  const vocab = model.config.vocab_size;
  const tokensPerS: Record<string, number> = {};
  for (const b of c.generate.batch_sizes) {
    const uniform = randomStream(`bench-lora:prompts:${b}`);
    const prompts = Array.from({ length: b }, () => Array.from({ length: c.generate.prompt_len }, () => Math.floor(uniform() * vocab)));
    await generate(model, prompts, { maxNewTokens: 8 }); // warm-up of this shape
    const t0 = performance.now();
    const r = await generate(model, prompts, { maxNewTokens: c.generate.new_tokens });
    const seconds = (performance.now() - t0) / 1000;
    tokensPerS[String(b)] = r.tokens.reduce((a, t) => a + t.length, 0) / seconds;
    process.stderr.write(`    generate, batch ${b}: ${seconds.toFixed(1)} s for ${c.generate.new_tokens} tokens a row\n`);
  }
  const result = { tokensPerS, peakRssMB: peakRssMB(), wasmHeapMB: heapMB() };
  disposeDecoder(model);
  return result;
}

/** Runs this file in a fresh process for one measurement and returns what it printed. */
function inChild<T>(args: string[]): T {
  const child = spawnSync(process.execPath, ['--import', 'tsx', __filename, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 26,
  });
  const line = child.stdout.split('\n').find((l) => l.startsWith('{'));
  if (child.status !== 0 || !line) throw new Error(`lora bench: ${args.join(' ')} ended with ${child.status ?? child.signal}${line ? '' : ' and printed no result'}`);
  return JSON.parse(line) as T;
}

export function loraTrainSpeed(name: string, workers: number, steps: number, warmup: number, backend: BackendChoice, configs = CONFIGS_FILE): LoraTrainResult {
  return inChild<LoraTrainResult>(['--configs', configs, '--config', name, '--train', String(workers), '--steps', String(steps), '--warmup', String(warmup), '--backend', backend]);
}

export function loraGenerateSpeed(name: string, backend: BackendChoice, configs = CONFIGS_FILE): LoraGenerateResult {
  return inChild<LoraGenerateResult>(['--configs', configs, '--config', name, '--generate', '--backend', backend]);
}

if (require.main === module) {
  const { values: args } = parseArgs({
    options: {
      configs: { type: 'string', default: CONFIGS_FILE },
      config: { type: 'string', default: 'L' },
      train: { type: 'string' },
      generate: { type: 'boolean', default: false },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
    },
  });
  (async () => {
    const c = benchConfigs(args.configs)[args.config!];
    if (!c?.lora) throw new Error(`lora bench: "${args.config}" is not a LoRA config in scripts/bench/configs.json`);
    const backend = (await selectBackend(args.backend as BackendChoice)).backend as BackendChoice;
    if (args.generate === (args.train !== undefined)) throw new Error('lora bench: give one of --train <workers> or --generate');
    const result = args.generate
      ? await measureGenerate(c)
      : await measureTrain(c, Number(args.train), Number(args.steps ?? c.train.steps ?? 3), Number(args.warmup ?? c.train.warmup ?? 1), backend);
    console.log(JSON.stringify(result));
  })().catch((e) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
  });
}
