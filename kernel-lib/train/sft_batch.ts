// Instruction-tuning examples (token ids plus an assistant mask) packed into
// the `lm` objective's batch: inputs are ids[0..n-1], targets ids[1..n], and a
// target is trained on only when its token is an assistant token. Rows are
// padded on the right (causal attention never looks right, so padding cannot
// change a real token's logits) and the padding's mask is 0, set by length,
// never by comparing ids with PAD: that comparison would also drop an
// end-of-turn token that shares PAD's id.
import type { LmBatch } from './lm';

export interface SftBatchExample {
  ids: ArrayLike<number>;
  mask: ArrayLike<number>;
}

export interface SftBatchOptions {
  padId: number;
  /** Row length (tokens fed in); default: the longest example minus one. */
  length?: number;
  /** Cut examples longer than length + 1 tokens from the end instead of failing. */
  truncate?: boolean;
  /** Names the examples in errors, e.g. 'train.jsonl'; row i is reported as `${source} row i`. */
  source?: string;
}

export function sftBatch(examples: SftBatchExample[], options: SftBatchOptions): LmBatch {
  if (examples.length === 0) throw new Error('sftBatch: no examples');
  const name = (i: number) => `${options.source ?? 'sftBatch'} row ${i}`;
  examples.forEach((e, i) => {
    if (e.ids.length !== e.mask.length) throw new Error(`${name(i)}: ${e.ids.length} ids but ${e.mask.length} mask entries`);
    if (e.ids.length < 2) throw new Error(`${name(i)}: ${e.ids.length} token(s); an example needs at least 2 to predict anything`);
  });
  const length = options.length ?? Math.max(...examples.map((e) => e.ids.length - 1));
  const rows = examples.length;
  const inputs = new Int32Array(rows * length).fill(options.padId);
  const targets = new Int32Array(rows * length).fill(options.padId);
  const mask = new Float32Array(rows * length);
  examples.forEach((e, r) => {
    let n = e.ids.length - 1;
    if (n > length) {
      if (!options.truncate) throw new Error(`${name(r)}: ${e.ids.length} tokens do not fit rows of ${length} + 1; pass truncate: true to cut them`);
      n = length;
    }
    let trained = 0;
    for (let t = 0; t < n; t++) {
      inputs[r * length + t] = e.ids[t];
      targets[r * length + t] = e.ids[t + 1];
      mask[r * length + t] = e.mask[t + 1];
      trained += e.mask[t + 1];
    }
    if (trained === 0) {
      throw new Error(
        `${name(r)}: no assistant token among its targets${n < e.ids.length - 1 ? ' after truncation' : ''}: the row would train on nothing (check the template's assistant spans, or the truncation length)`,
      );
    }
  });
  return { rows, length, inputs, targets, mask, source: options.source };
}
