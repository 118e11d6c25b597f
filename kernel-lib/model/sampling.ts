// Choosing the next token from a row of logits, on the JS side: one row of
// vocab floats per sequence is small, and doing it here keeps sampling exact
// and seeded the same on every backend.

export interface SamplingOptions {
  /** 0 (the default) picks the most likely token (greedy). */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = all). */
  topP?: number;
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Picks a token id from `logits` with `rng` (uniform in [0, 1)). */
export function sampleToken(logits: ArrayLike<number>, options: SamplingOptions, rng: () => number): number {
  const temperature = options.temperature ?? 0;
  if (!(temperature >= 0)) throw new Error(`generate: temperature must be >= 0, got ${temperature}`);
  if (temperature === 0) return argmax(logits);
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new Error(`generate: topP must be in (0, 1], got ${topP}`);
  let ids = Array.from({ length: logits.length }, (_, i) => i);
  ids.sort((a, b) => logits[b] - logits[a]);
  if (topK > 0) ids = ids.slice(0, topK);
  const max = logits[ids[0]];
  let probs = ids.map((i) => Math.exp((logits[i] - max) / temperature));
  let total = probs.reduce((a, b) => a + b, 0);
  if (topP < 1) {
    let cumulative = 0;
    let keep = 0;
    while (keep < probs.length && cumulative < topP * total) cumulative += probs[keep++];
    ids = ids.slice(0, Math.max(1, keep));
    probs = probs.slice(0, ids.length);
    total = probs.reduce((a, b) => a + b, 0);
  }
  let u = rng() * total;
  for (let j = 0; j < ids.length; j++) {
    u -= probs[j];
    if (u <= 0) return ids[j];
  }
  return ids[ids.length - 1];
}
