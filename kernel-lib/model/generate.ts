// Autoregressive generation with a KV cache: one forward over the prompts
// (left-padded to a common length, with positions counted from each row's
// first real token), then one forward per new token against the cache.
import * as tf from '@tensorflow/tfjs';
import { randomStream } from '../runtime/seed';
import { disposeCache, forward, type Decoder, type KVCache } from './decoder';
import { sampleToken, type SamplingOptions } from './sampling';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Generation of a row ends after it emits one of these (the stop token is kept in the output). */
  stopTokens?: number[];
  /** Seeds sampling; the same seed gives the same text. */
  seed?: number;
  /** Id used to left-pad shorter prompts (never attended to). */
  padTokenId?: number;
  /** Called for every new token as it is chosen; awaited, so a notebook can print as it goes. */
  onToken?: (event: { row: number; token: number; index: number }) => void | Promise<void>;
}

export interface GenerateResult {
  /** New tokens of each row (prompt excluded). */
  tokens: number[][];
  finishReason: ('stop' | 'length')[];
}

/** Continues each prompt (token ids) with up to maxNewTokens tokens. */
export async function generate(model: Decoder, prompts: number[][], options: GenerateOptions): Promise<GenerateResult> {
  const { maxNewTokens, stopTokens = [], padTokenId = 0 } = options;
  if (!prompts.length) return { tokens: [], finishReason: [] };
  if (!(Number.isInteger(maxNewTokens) && maxNewTokens >= 0)) throw new Error(`generate: maxNewTokens must be an integer >= 0, got ${maxNewTokens}`);
  const vocab = model.config.vocab_size;
  prompts.forEach((p, r) => {
    if (!p.length) throw new Error(`generate: prompt ${r} is empty`);
    p.forEach((id, j) => {
      if (!(Number.isInteger(id) && id >= 0 && id < vocab)) throw new Error(`generate: prompt ${r} token ${j} is ${id}, outside the vocabulary [0, ${vocab})`);
    });
  });
  if (!(Number.isInteger(padTokenId) && padTokenId >= 0 && padTokenId < vocab)) {
    throw new Error(`generate: padTokenId ${padTokenId} is outside the vocabulary [0, ${vocab})`);
  }
  stopTokens.forEach((id, i) => {
    if (!Number.isInteger(id)) throw new Error(`generate: stopTokens[${i}] is ${id}, not a token id`);
  });
  const B = prompts.length;
  const width = Math.max(...prompts.map((p) => p.length));
  if (width + maxNewTokens > model.config.max_position_embeddings) {
    throw new Error(`generate: a ${width}-token prompt plus ${maxNewTokens} new tokens exceeds max_position_embeddings (${model.config.max_position_embeddings})`);
  }
  const draw = randomStream(`generate:${options.seed ?? 0}`);
  const stops = new Set(stopTokens);

  const ids = new Int32Array(B * width).fill(padTokenId);
  const mask = new Int32Array(B * width);
  const positions = new Int32Array(B * width);
  const nextPos: number[] = [];
  prompts.forEach((p, r) => {
    const offset = width - p.length;
    p.forEach((id, j) => {
      ids[r * width + offset + j] = id;
      mask[r * width + offset + j] = 1;
      positions[r * width + offset + j] = j;
    });
    nextPos.push(p.length);
  });
  const maskRows: number[][] = prompts.map((_, r) => Array.from(mask.subarray(r * width, (r + 1) * width)));

  const tokens: number[][] = prompts.map(() => []);
  const finishReason: ('stop' | 'length')[] = prompts.map(() => 'length');
  const done = prompts.map(() => false);
  let cache: KVCache | undefined;
  let last: Float32Array;
  {
    const out = tf.tidy(() => {
      const r = forward(model, tf.tensor2d(ids, [B, width], 'int32'), {
        positions: tf.tensor2d(positions, [B, width], 'int32'),
        keyMask: tf.tensor2d(mask, [B, width], 'int32'),
        returnCache: true,
      });
      return { logits: tf.slice(r.logits, [0, width - 1, 0], [B, 1, vocab]), cache: r.cache! };
    });
    cache = out.cache;
    last = (await out.logits.data()) as Float32Array;
    out.logits.dispose();
  }
  try {
    for (let step = 0; step < maxNewTokens; step++) {
      const chosen: number[] = [];
      for (let r = 0; r < B; r++) {
        if (done[r]) {
          chosen.push(padTokenId);
          continue;
        }
        const token = sampleToken(last.subarray(r * vocab, (r + 1) * vocab), options, draw);
        chosen.push(token);
        tokens[r].push(token);
        if (options.onToken) await options.onToken({ row: r, token, index: step });
        if (stops.has(token)) {
          done[r] = true;
          finishReason[r] = 'stop';
        }
      }
      if (done.every(Boolean) || step === maxNewTokens - 1) break;
      maskRows.forEach((row) => row.push(1));
      const prev: KVCache = cache!;
      const out = tf.tidy(() => {
        const r = forward(model, tf.tensor2d(chosen, [B, 1], 'int32'), {
          positions: tf.tensor2d(nextPos, [B, 1], 'int32'),
          keyMask: tf.tensor2d(maskRows, undefined, 'int32'),
          cache: prev,
        });
        return { logits: r.logits, cache: r.cache! };
      });
      disposeCache(prev);
      cache = out.cache;
      for (let r = 0; r < B; r++) nextPos[r]++;
      last = (await out.logits.data()) as Float32Array;
      out.logits.dispose();
    }
  } finally {
    disposeCache(cache);
  }
  return { tokens, finishReason };
}
