// Shared by the recipe tests: a tiny random base model saved as a Hugging
// Face folder, and a run of an exported recipe's train.py with its JSON lines
// read back.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { createDecoder, disposeDecoder, saveCheckpoint } from '../../kernel-lib/model';
import { tinyConfig } from '../model/helpers';

/** One logged step of train.py: TRL's names. */
export interface TrlLog {
  step: number;
  loss: number;
  learning_rate: number;
  grad_norm: number;
  [k: string]: number;
}

/** Writes the tests' base model (seed 3, 256 positions) for a vocabulary of `vocabSize` into `dir`. */
export function saveTinyBase(dir: string, vocabSize: number): void {
  const model = createDecoder(tinyConfig({ vocab_size: vocabSize, max_position_embeddings: 256 }), 3);
  saveCheckpoint(dir, model);
  disposeDecoder(model);
}

/** Runs the exported train.py offline on two threads; returns its per-step JSON lines and its summary. */
export function runTrl(python: string, dir: string, args: string[]): { steps: TrlLog[]; summary: Record<string, unknown> } {
  const out = execFileSync(python, [path.join(dir, 'train.py'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 26,
    env: { ...process.env, HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1', OMP_NUM_THREADS: '2', TOKENIZERS_PARALLELISM: 'false', PYTHONWARNINGS: 'ignore', TQDM_DISABLE: '1' },
  });
  // transformers prints its own end-of-run dict (not JSON) on stdout too.
  const lines = out.split('\n').filter((l) => l.startsWith('{"')).map((l) => JSON.parse(l));
  return { steps: lines.filter((l) => 'loss' in l), summary: lines.find((l) => 'summary' in l) };
}
