// Memory and time of one LoRA training step (forward + backward,
// computeGradients, no optimizer) with and without gradient checkpointing,
// on the wasm backend, at SmolLM2-135M's shape with random weights: hidden
// 576, 30 layers, 9 heads (3 key/value heads), MLP 1536, vocabulary 49152,
// tied embeddings; LoRA rank 16 on every attention and MLP projection; one
// row of 512 random tokens, lm objective (the forward and loss of SFT with
// every token trained).
//
//   npx tsx scripts/bench/checkpointing.ts [--seq 512] [--layers 30] [--rank 16] [--steps 3]
//
// Memory: each mode runs one step in a fresh process of its own (a step that
// runs out of wasm memory leaves the module unusable, and the heap never
// shrinks), which reports the wasm heap after the step (the real bound:
// wasm's heap stops at 4 GB), its peak RSS, and tfjs's peak tensor bytes
// during the step above the bytes alive before it (weights, adapters); tfjs
// counts a view (a reshape, an identity) as bytes of its own, so that figure
// overstates. The same for one evaluation of the batch (computeLoss: no
// gradient, one tidy around the loss, as evaluate() runs it), where the
// option frees each layer's intermediates when the layer is done. Time:
// this process then runs the training steps of the modes that fit, alternated
// (after one warm-up step each), and reports the median step per mode and
// the median ratio of back-to-back pairs (the machine's load drifts).
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { addLora, createDecoder, modelConfig, parameterCount, type Decoder } from '../../kernel-lib/model';
import { randomStream, selectBackend } from '../../kernel-lib/runtime';
import { computeGradients, computeLoss } from '../../kernel-lib/train/step';
import { lmObjective, type LmBatch } from '../../kernel-lib/train/lm';

const { values: args } = parseArgs({
  options: {
    seq: { type: 'string', default: '512' },
    layers: { type: 'string', default: '30' },
    rank: { type: 'string', default: '16' },
    steps: { type: 'string', default: '3' },
    // Internal: measure one mode's memory (`step:plain`, `eval:checkpointed`...) in this process and print it as JSON.
    memory: { type: 'string' },
  },
});
const seq = Number(args.seq);
const MB = 1024 * 1024;
const MODES = { checkpointed: true, plain: false } as const;
type Mode = keyof typeof MODES;
const KINDS = ['step', 'eval'] as const;
type Kind = (typeof KINDS)[number];

interface MemoryReport {
  heapMB: number;
  rssMB: number;
  peakMB?: number;
  weightsMB?: number;
  loss?: number;
  error?: string;
}

// The emscripten module's heap view (its type is not shipped with tfjs).
const heapMB = (): number => ((tf.backend() as BackendWasm).wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.length / MB;
const rssMB = (): number => process.resourceUsage().maxRSS / 1024;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function build(): { model: Decoder; batch: LmBatch; summary: string } {
  const config = modelConfig({
    vocab_size: 49152,
    hidden_size: 576,
    intermediate_size: 1536,
    num_hidden_layers: Number(args.layers),
    num_attention_heads: 9,
    num_key_value_heads: 3,
    max_position_embeddings: Math.max(2048, seq),
    rms_norm_eps: 1e-5,
    rope_theta: 100000,
    tie_word_embeddings: true,
  });
  const t = performance.now();
  const model = createDecoder(config, 0);
  const targets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
  addLora(model, { rank: Number(args.rank), alpha: 2 * Number(args.rank), dropout: 0, targets }, 0);
  // B starts at zero; random values make the step's arithmetic that of a trained adapter.
  for (const [name, b] of model.lora!.tensors) {
    if (!name.endsWith('lora_B')) continue;
    model.lora!.tensors.set(name, tf.randomNormal(b.shape, 0, 0.01, 'float32', 1));
    b.dispose();
  }
  const adapters = [...model.lora!.tensors.values()].reduce((a, x) => a + x.size, 0);
  const uniform = randomStream('checkpointing-bench');
  const draw = () => Math.floor(uniform() * config.vocab_size);
  const batch: LmBatch = { rows: 1, length: seq, inputs: Int32Array.from({ length: seq }, draw), targets: Int32Array.from({ length: seq }, draw) };
  const summary =
    `${(parameterCount(config) / 1e6).toFixed(1)}M weights, ${config.num_hidden_layers} layers, LoRA r=${args.rank} on ${targets.join(', ')} ` +
    `(${(adapters / 1e6).toFixed(2)}M trainable), built in ${((performance.now() - t) / 1000).toFixed(1)} s; batch 1 x ${seq} tokens`;
  return { model, batch, summary };
}

/** One profiled training step (or evaluation) of `mode` in this (fresh) process. */
async function measureMemory(kind: Kind, mode: Mode): Promise<MemoryReport> {
  const { model, batch } = build();
  const before = tf.memory().numBytes;
  const gradientCheckpointing = MODES[mode];
  try {
    let loss = NaN;
    const info = await tf.profile(() => {
      loss = kind === 'step'
        ? computeGradients(model, lmObjective, batch, { gradientCheckpointing }).lossSum
        : computeLoss(model, lmObjective, batch, { gradientCheckpointing }).lossSum;
    });
    return { heapMB: heapMB(), rssMB: rssMB(), peakMB: (info.peakBytes - before) / MB, weightsMB: before / MB, loss };
  } catch (e) {
    return { heapMB: heapMB(), rssMB: rssMB(), error: (e as Error).message.split('\n')[0] };
  }
}

/** measureMemory(kind, mode) in a child process. */
function memoryOf(kind: Kind, mode: Mode): MemoryReport {
  const child = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--seq', String(seq), '--layers', String(args.layers), '--rank', String(args.rank), '--memory', `${kind}:${mode}`], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const line = child.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) return { heapMB: NaN, rssMB: NaN, error: `the child process ended with ${child.status ?? child.signal}: ${child.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 300)}` };
  return JSON.parse(line) as MemoryReport;
}

(async () => {
  await selectBackend('wasm');
  if (args.memory) {
    const [kind, mode] = args.memory.split(':') as [Kind, Mode];
    if (!KINDS.includes(kind) || !(mode in MODES)) throw new Error(`checkpointing bench: --memory must be <${KINDS.join('|')}>:<${Object.keys(MODES).join('|')}>, got ${args.memory}`);
    console.log(JSON.stringify(await measureMemory(kind, mode)));
    return;
  }
  const memory = {} as Record<Kind, Record<Mode, MemoryReport>>;
  for (const kind of KINDS) {
    memory[kind] = {} as Record<Mode, MemoryReport>;
    for (const mode of Object.keys(MODES) as Mode[]) {
      const m = (memory[kind][mode] = memoryOf(kind, mode));
      console.log(m.error
        ? `${kind}, ${mode}: does not fit: ${m.error} (wasm heap ${m.heapMB.toFixed(0)} MB, peak RSS ${m.rssMB.toFixed(0)} MB)`
        : `${kind}, ${mode}: wasm heap ${m.heapMB.toFixed(0)} MB, peak RSS ${m.rssMB.toFixed(0)} MB, peak tensors ${m.peakMB!.toFixed(0)} MB above ${m.weightsMB!.toFixed(0)} MB of weights, loss ${m.loss}`);
    }
  }

  const fitting = (Object.keys(MODES) as Mode[]).filter((m) => !memory.step[m].error);
  const { model, batch, summary } = build();
  console.log(`timing: ${summary}`);
  const ms = Object.fromEntries(fitting.map((m) => [m, [] as number[]])) as Record<Mode, number[]>;
  for (let i = -1; i < Number(args.steps); i++) {
    for (const mode of fitting) {
      const t = performance.now();
      computeGradients(model, lmObjective, batch, { gradientCheckpointing: MODES[mode] });
      const took = performance.now() - t;
      if (i >= 0) ms[mode].push(took);
      console.log(`${mode}: ${i < 0 ? 'warm-up ' : ''}step ${(took / 1000).toFixed(2)} s`);
    }
  }
  console.log('\n| what | mode | wasm heap MB | peak RSS MB | peak tensor MB (tfjs count) | s / step (median) |\n|---|---|---|---|---|---|');
  for (const kind of KINDS) {
    for (const mode of Object.keys(MODES) as Mode[]) {
      const m = memory[kind][mode];
      const time = kind === 'step' && ms[mode]?.length ? (median(ms[mode]) / 1000).toFixed(2) : '';
      console.log(m.error
        ? `| ${kind} | ${mode} | does not fit (${m.heapMB.toFixed(0)} MB reached) | ${m.rssMB.toFixed(0)} | | |`
        : `| ${kind} | ${mode} | ${m.heapMB.toFixed(0)} | ${m.rssMB.toFixed(0)} | ${m.peakMB!.toFixed(0)} | ${time} |`);
    }
  }
  if (fitting.length === 2) {
    const [gc, plain] = [memory.step.checkpointed, memory.step.plain];
    console.log(`\ncheckpointed / plain: wasm heap ${(gc.heapMB / plain.heapMB).toFixed(2)}x, peak tensors ${(gc.peakMB! / plain.peakMB!).toFixed(2)}x, ` +
      `time ${median(ms.checkpointed.map((t, i) => t / ms.plain[i])).toFixed(2)}x (median of the back-to-back pairs); loss ${gc.loss} vs ${plain.loss}`);
  }
  console.log(`tensors alive after timing: ${tf.memory().numTensors}`);
})().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
