// Encoding speed of the project's BPE tokenizer on the committed corpus, next
// to tokenizers.js (Hugging Face's JS tokenizer) encoding the same text with
// the same tokenizer.json, in the same process. Each run starts from a fresh
// tokenizer, so piece caches are filled inside the timing.
// Run alone: npx tsx scripts/bench/tokenizer.ts  (npm run bench runs it too)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { tokenizerFromJson, tokenizerToJson, trainBpe } from '../../kernel-lib/text';

export interface TokenizerBench {
  corpusBytes: number;
  tokens: number;
  vocabSize: number;
  trainMs: number;
  oursTokensPerS: number;
  referenceTokensPerS: number;
}

function best(runs: number, f: () => number): number {
  let ms = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

export function tokenizerBench(options: { vocabSize?: number; runs?: number } = {}): TokenizerBench {
  const corpus = fs.readFileSync(path.join(__dirname, '../../data/corpus/base.txt'), 'utf8');
  const t0 = performance.now();
  const trained = trainBpe(corpus, { vocabSize: options.vocabSize ?? 512 });
  const trainMs = performance.now() - t0;
  const json = tokenizerToJson(trained);
  const config = { bos_token: trained.spec.bosToken, eos_token: trained.spec.eosToken, pad_token: trained.spec.padToken };
  const tokens = trained.encode(corpus).length;
  const runs = options.runs ?? 3;
  const ours = best(runs, () => tokenizerFromJson(json, config).encode(corpus).length);
  let hfTokens = 0;
  const reference = best(runs, () => (hfTokens = new HfTokenizer(json as never, config as never).encode(corpus).ids.length));
  if (hfTokens !== tokens) throw new Error(`tokenizer bench: tokenizers.js gives ${hfTokens} tokens, ours ${tokens}`);
  return {
    corpusBytes: Buffer.byteLength(corpus),
    tokens,
    vocabSize: trained.vocabSize,
    trainMs,
    oursTokensPerS: (tokens / ours) * 1000,
    referenceTokensPerS: (tokens / reference) * 1000,
  };
}

if (require.main === module) {
  const r = tokenizerBench();
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`corpus ${fmt(r.corpusBytes)} bytes -> ${fmt(r.tokens)} tokens (vocab ${r.vocabSize}, trained in ${fmt(r.trainMs)} ms)`);
  console.log(`encode: ours ${fmt(r.oursTokensPerS)} tok/s, tokenizers.js ${fmt(r.referenceTokensPerS)} tok/s (${(r.oursTokensPerS / r.referenceTokensPerS).toFixed(2)}x)`);
}
