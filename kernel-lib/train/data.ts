// Batches for the `lm` objective drawn from one long token stream. A batch is
// a pure function of (seed, step, micro-batch), so a resumed run sees exactly
// the batches an uninterrupted one would have, with no iterator to save.
import { randomStream } from '../runtime/seed';
import type { LmBatch } from './lm';

/** Where the loop gets the batch for an update step and micro-batch. */
export interface BatchSource<B> {
  batch(step: number, micro: number): B;
}

/** A source whose batches take work that is awaited: online RL samples them from the policy. */
export interface AsyncBatchSource<B> {
  batch(step: number, micro: number): Promise<B>;
}

export interface WindowOptions {
  batchSize: number;
  seqLen: number;
  seed?: number;
}

function checkStream(tokens: Int32Array, seqLen: number, what: string): void {
  if (tokens.length < seqLen + 1) {
    throw new Error(`${what}: ${tokens.length} tokens cannot fill one window of ${seqLen} + 1 tokens; use a shorter seqLen or more text`);
  }
}

function window(tokens: Int32Array, starts: number[], seqLen: number): LmBatch {
  const rows = starts.length;
  const inputs = new Int32Array(rows * seqLen);
  const targets = new Int32Array(rows * seqLen);
  starts.forEach((s, r) => {
    inputs.set(tokens.subarray(s, s + seqLen), r * seqLen);
    targets.set(tokens.subarray(s + 1, s + seqLen + 1), r * seqLen);
  });
  return { rows, length: seqLen, inputs, targets };
}

/** Random windows of seqLen + 1 tokens (inputs and shifted targets). */
export function randomWindows(tokens: Int32Array, o: WindowOptions): BatchSource<LmBatch> {
  checkStream(tokens, o.seqLen, 'randomWindows');
  const span = tokens.length - o.seqLen;
  return {
    batch(step, micro) {
      const draw = randomStream(`windows:${o.seed ?? 0}:${step}:${micro}`);
      const starts = Array.from({ length: o.batchSize }, () => Math.floor(draw() * span));
      return window(tokens, starts, o.seqLen);
    },
  };
}

/** Consecutive, non-overlapping windows covering the stream once (for evaluation). */
export function sequentialBatches(tokens: Int32Array, o: { batchSize: number; seqLen: number; maxBatches?: number }): LmBatch[] {
  checkStream(tokens, o.seqLen, 'sequentialBatches');
  const starts: number[] = [];
  for (let s = 0; s + o.seqLen + 1 <= tokens.length; s += o.seqLen) starts.push(s);
  const batches: LmBatch[] = [];
  for (let i = 0; i < starts.length; i += o.batchSize) batches.push(window(tokens, starts.slice(i, i + o.batchSize), o.seqLen));
  return o.maxBatches ? batches.slice(0, o.maxBatches) : batches;
}
