// SFT trainer throughput next to Hugging Face TRL's on the same machine: the
// world's conversations, notebook 03's quick-mode model (d128 x 4 layers,
// context 128), batches of 16 conversations padded to the longest (TRL's
// default; no packing), assistant-only loss, AdamW. Both sides count TRL's
// `num_tokens` (every token of each conversation, padding left out) per
// second of the timed steps, after the same warm-up steps. Ours is measured
// again on packed rows (8 rows of 128 tokens, about 16 conversations), the way
// notebook 04 trains; TRL packs only with its padding-free FlashAttention path.
//
// TRL runs as scripts/reference/trl_runs.py sft with its threads pinned (the
// environment before `import torch`, and torch.set_num_threads), from a
// checkpoint folder written here, so both start from the same weights.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadWorld } from '../../kernel-lib/data';
import { createDecoder, disposeDecoder, loadCheckpoint, modelConfig, saveCheckpoint } from '../../kernel-lib/model';
import { builtinTemplate, saveTokenizer, trainBpe } from '../../kernel-lib/text';
import { sftBatches, sftExamples, sftObjective, startWorkers, train, type SftBatch } from '../../kernel-lib/train';
import type { BackendChoice } from '../../kernel-lib/runtime';

const root = path.resolve(__dirname, '../..');
const TRL_SCRIPT = path.join(root, 'scripts', 'reference', 'trl_runs.py');

export interface SftTrlRow {
  threads: number;
  /** Ours, TRL's num_tokens per second, on the same padded batches. */
  ours: number;
  /** Ours on packed rows (8 rows of 128, about as many conversations a step), as notebook 04 trains. */
  oursPacked: number;
  /** TRL's, or undefined where it was not run. */
  trl?: number;
}

export interface SftTrlOptions {
  python: string | null;
  threadCounts: number[];
  steps: number;
  warmup: number;
  backend: BackendChoice;
}

export async function sftTrlBench(options: SftTrlOptions): Promise<SftTrlRow[]> {
  const { steps, warmup } = options;
  const world = loadWorld(path.join(root, 'data', 'world'));
  const template = builtinTemplate('chatml');
  const tokenizer = trainBpe(world.corpus, { vocabSize: 512, specialTokens: ['<|bos|>', '<|eos|>', '<|pad|>', '<|im_start|>', '<|im_end|>'], maxChars: 100_000 });
  const config = modelConfig({
    vocab_size: tokenizer.vocabSize, hidden_size: 128, num_hidden_layers: 4, num_attention_heads: 4, max_position_embeddings: 128,
    bos_token_id: tokenizer.bos, eos_token_id: tokenizer.eos, pad_token_id: tokenizer.pad,
  });
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sft-'));
  try {
    const start = createDecoder(config, 0);
    saveCheckpoint(folder, start);
    saveTokenizer(folder, tokenizer);
    disposeDecoder(start);
    const context = config.max_position_embeddings;
    // TRL truncates the few conversations longer than the context; we leave them out (under 0.3% of them).
    const examples = sftExamples(world.sftTrain, tokenizer, template, { batchSize: 16, assistantOnlyLoss: true }).filter((e) => e.ids.length <= context);
    const padded = sftBatches(examples, { batchSize: 16, padId: tokenizer.pad, seed: 0 });
    const packed = sftBatches(examples, { batchSize: 8, padId: tokenizer.pad, packing: true, maxLength: context, seed: 0 });
    const rows: SftTrlRow[] = [];
    for (const threads of options.threadCounts) {
      const pool = threads > 1 ? await startWorkers(threads, { backend: options.backend, objective: 'sft' }) : undefined;
      const speed = async (data: typeof padded): Promise<number> => {
        const model = loadCheckpoint(folder).model;
        await train(model, { steps: warmup, lr: 1e-3, warmupSteps: 0, progress: 'none' }, { objective: sftObjective, data, workers: pool });
        let tokens = 0;
        const counted = { batch: (s: number, m: number): SftBatch => { const b = data.batch(warmup + s, m); tokens += b.numTokens; return b; } };
        const t0 = process.hrtime.bigint();
        await train(model, { steps, lr: 1e-3, warmupSteps: 0, progress: 'none' }, { objective: sftObjective, data: counted, workers: pool });
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        disposeDecoder(model);
        return tokens / seconds;
      };
      const ours = await speed(padded);
      const oursPacked = await speed(packed);
      await pool?.close();
      rows.push({ threads, ours, oursPacked, trl: options.python ? trlSpeed(options.python, folder, threads, steps, warmup) : undefined });
    }
    return rows;
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

/** TRL's num_tokens per second over the steps after `warmup`, from its per-step logs. */
function trlSpeed(python: string, base: string, threads: number, steps: number, warmup: number): number {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-trl-'));
  const t = String(threads);
  try {
    const stdout = execFileSync(python, [
      TRL_SCRIPT, 'sft', '--base', base, '--out', out, '--world', path.join(root, 'data', 'world'),
      '--steps', String(warmup + steps), '--log-every', '1', '--threads', t,
    ], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26,
      env: { ...process.env, OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t, OMP_WAIT_POLICY: 'PASSIVE', TOKENIZERS_PARALLELISM: 'false' },
    });
    const logs = stdout.split('\n').filter((l) => l.startsWith('{"step"')).map((l) => JSON.parse(l) as { step: number; time: number; num_tokens?: number })
      .filter((l) => l.num_tokens !== undefined);
    const from = logs.find((l) => l.step === warmup);
    const to = logs[logs.length - 1];
    if (!from || !to || to.step !== warmup + steps) throw new Error(`bench: TRL's logs lack steps ${warmup} and ${warmup + steps}`);
    return (to.num_tokens! - from.num_tokens!) / (to.time - from.time);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}
