// Where one LoRA training pass of a bench config (L) spends its time on the
// wasm backend: one row of seq_len random tokens, computeGradients with the
// config's gradient checkpointing (forward, loss, backward with the layers
// recomputed; no optimizer), under tf.profile. Prints the kernels by total
// time, the matrix products grouped by shape with their GFLOP/s, the share
// of kernels that touch a vocabulary-sized tensor (the tied head, its
// softmax and the loss), and the wall time of the pass and of a forward pass
// alone (computeLoss: the loss without a gradient).
//
//   npx tsx scripts/bench/profile_lora.ts [--config L] [--warmup 1] [--top 15]
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { addLora, createDecoder, modelConfig, type Decoder } from '../../kernel-lib/model';
import { randomStream, selectBackend } from '../../kernel-lib/runtime';
import { lmObjective, type LmBatch } from '../../kernel-lib/train';
import { computeGradients, computeLoss } from '../../kernel-lib/train/step';
import { benchConfigs } from './config';

const { values: args } = parseArgs({
  options: {
    config: { type: 'string', default: 'L' },
    warmup: { type: 'string', default: '1' },
    top: { type: 'string', default: '15' },
  },
});

interface Group {
  ms: number;
  calls: number;
  flops: number;
}

const add = (m: Map<string, Group>, key: string, ms: number, flops = 0) => {
  const g = m.get(key) ?? { ms: 0, calls: 0, flops: 0 };
  g.ms += ms;
  g.calls += 1;
  g.flops += flops;
  m.set(key, g);
};

/**
 * 2 * (output size) * k of a BatchMatMul. The profile does not keep the
 * transpose attributes, but a is [..., m, k] or [..., k, m] either way, so
 * k = size(a) / (a's batch * m).
 */
function matmulFlops(a: number[], out: number[]): number {
  const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
  const m = out[out.length - 2];
  const k = size(a) / (size(a.slice(0, -2)) * m);
  return 2 * size(out) * k;
}

(async () => {
  await selectBackend('wasm');
  const c = benchConfigs()[args.config!];
  if (!c?.lora) throw new Error(`profile: ${args.config} is not a LoRA config`);
  const config = modelConfig(c.model as never);
  const model: Decoder = createDecoder(config, 0);
  addLora(model, c.lora, 0);
  const seq = c.train.seq_len;
  const uniform = randomStream('profile-lora');
  const draw = () => Math.floor(uniform() * config.vocab_size);
  const batch: LmBatch = { rows: 1, length: seq, inputs: Int32Array.from({ length: seq }, draw), targets: Int32Array.from({ length: seq }, draw) };
  const context = { gradientCheckpointing: c.train.gradient_checkpointing ?? false };
  for (let i = 0; i < Number(args.warmup); i++) computeGradients(model, lmObjective, batch, context);

  let t = performance.now();
  computeLoss(model, lmObjective, batch, context);
  const forwardMs = performance.now() - t;

  t = performance.now();
  const info = await tf.profile(() => {
    computeGradients(model, lmObjective, batch, context);
  });
  const wallMs = performance.now() - t;

  const byKernel = new Map<string, Group>();
  const products = new Map<string, Group>();
  let vocabMs = 0;
  let total = 0;
  const vocab = config.vocab_size;
  for (const k of info.kernels) {
    const ms = k.kernelTimeMs as number;
    total += ms;
    add(byKernel, k.name, ms);
    const shapes = [...k.inputShapes, ...k.outputShapes].filter(Boolean) as number[][];
    if (shapes.some((s) => s.includes(vocab))) vocabMs += ms;
    if (k.name === 'BatchMatMul') {
      const [a, b] = k.inputShapes as number[][];
      const out = k.outputShapes[0];
      add(products, `[${a}] x [${b}] -> [${out}]`, ms, matmulFlops(a, out));
    }
  }
  const pct = (ms: number) => `${((100 * ms) / total).toFixed(1)}%`;
  console.log(`[${args.config}] one row x ${seq} tokens, LoRA r=${c.lora.rank}, gradient checkpointing ${context.gradientCheckpointing}`);
  console.log(`pass (computeGradients) ${(wallMs / 1000).toFixed(2)} s wall under the profiler, kernels ${(total / 1000).toFixed(2)} s; forward + loss alone ${(forwardMs / 1000).toFixed(2)} s`);
  console.log(`kernels touching a ${vocab}-wide tensor (tied head, softmax, loss, their gradients): ${(vocabMs / 1000).toFixed(2)} s (${pct(vocabMs)})`);
  console.log('\n| kernel | calls | s | share |\n|---|---|---|---|');
  for (const [name, g] of [...byKernel].sort((x, y) => y[1].ms - x[1].ms).slice(0, Number(args.top))) {
    console.log(`| ${name} | ${g.calls} | ${(g.ms / 1000).toFixed(2)} | ${pct(g.ms)} |`);
  }
  console.log('\n| BatchMatMul shapes | calls | s | share | GFLOP/s |\n|---|---|---|---|---|');
  for (const [shape, g] of [...products].sort((x, y) => y[1].ms - x[1].ms).slice(0, Number(args.top))) {
    console.log(`| ${shape} | ${g.calls} | ${(g.ms / 1000).toFixed(2)} | ${pct(g.ms)} | ${(g.flops / (g.ms / 1000) / 1e9).toFixed(1)} |`);
  }
})().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
