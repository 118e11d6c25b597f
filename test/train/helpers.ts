// Data and settings shared by the training tests: a small repetitive stream
// a tiny model (tinyConfig, vocab 61) learns quickly.
import * as fs from 'node:fs';
import { randomWindows } from '../../kernel-lib/train';

const text = 'the cat sat on the mat. the dog sat on the log. '.repeat(40);
export const tokens = Int32Array.from(Buffer.from(text), (b) => b % 61);
export const data = randomWindows(tokens, { batchSize: 4, seqLen: 24, seed: 1 });
export const base = { lr: 1e-2, warmupSteps: 2, progress: 'none' as const, seed: 1 };

/** The error a promise rejects with, or null if it resolves. */
export function rejection(p: Promise<unknown>): Promise<Error | null> {
  return p.then(
    () => null,
    (e: Error) => e,
  );
}

export function trainerState(dir: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(`${dir}/trainer_state.json`, 'utf8'));
}
