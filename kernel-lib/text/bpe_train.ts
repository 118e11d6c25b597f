// Training a byte-level BPE vocabulary on a corpus. Ids 0-255 are the bytes
// (id = byte value), then one id per learned merge, then the special tokens,
// which are cut out of the corpus before counting so that ordinary text can
// never merge into them. Ties between equally frequent pairs go to the pair
// of smaller ids, so the same corpus, options and seed give the same
// vocabulary on every machine.
import { randomStream } from '../runtime/seed';
import { BYTE_TO_CHAR } from './byte_level';
import { BpeTokenizer, type BpeTokenizerSpec, type PreTokenizerStep } from './bpe_tokenizer';
import { utf8 } from './bpe_merges';
import { PairHeap } from './pair_heap';
import { GPT2_PATTERN, LLAMA3_PATTERN } from './pretokenize';

export const DEFAULT_SPECIAL_TOKENS = ['<|bos|>', '<|eos|>', '<|pad|>'];

export interface TrainBpeOptions {
  /** Total vocabulary: 256 bytes + merges + special tokens. */
  vocabSize: number;
  /** Reserved tokens, never split and never learned from text (default <|bos|>, <|eos|>, <|pad|>); add a chat template's markers here. */
  specialTokens?: string[];
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  /** Pre-tokenizer regex: 'gpt2' (default), 'llama3', or a pattern of your own. */
  pattern?: 'gpt2' | 'llama3' | string;
  /** Split every digit into its own piece (as SmolLM and Llama do): numbers then tokenize digit by digit, which arithmetic needs. Default true. */
  individualDigits?: boolean;
  /** Pairs seen fewer times than this are never merged (default 2). */
  minFrequency?: number;
  /** Learn from a seeded sample of the corpus' lines of about this many characters (default: all of it). */
  maxChars?: number;
  seed?: number | string;
  onProgress?: (merges: number, target: number) => void;
}

function preTokenizerFor(options: TrainBpeOptions): PreTokenizerStep[] {
  const steps: PreTokenizerStep[] = [];
  if (options.individualDigits ?? true) steps.push({ type: 'digits', individual: true });
  const pattern = options.pattern ?? 'gpt2';
  if (pattern === 'gpt2') steps.push({ type: 'byte_level', addPrefixSpace: false, useRegex: true });
  else {
    steps.push({ type: 'split', pattern: pattern === 'llama3' ? LLAMA3_PATTERN : pattern, behavior: 'Isolated', invert: false });
    steps.push({ type: 'byte_level', addPrefixSpace: false, useRegex: false });
  }
  return steps;
}

function sampleLines(texts: string[], maxChars: number, seed: number | string): string[] {
  const lines = texts.flatMap((t) => t.split('\n'));
  const uniform = randomStream(`bpe-sample:${seed}`);
  // A seeded shuffle, then lines in that order until the budget is spent.
  for (let i = lines.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [lines[i], lines[j]] = [lines[j], lines[i]];
  }
  const out: string[] = [];
  let used = 0;
  for (const line of lines) {
    if (used >= maxChars) break;
    out.push(line);
    used += line.length + 1;
  }
  return out;
}

/** Learns a byte-level BPE tokenizer from `corpus` (one string or many documents). */
export function trainBpe(corpus: string | string[], options: TrainBpeOptions): BpeTokenizer {
  const specials = options.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  if (new Set(specials).size !== specials.length) throw new Error(`trainBpe: specialTokens has duplicates: ${JSON.stringify(specials)}`);
  if (specials.some((s) => s.length === 0)) throw new Error('trainBpe: a special token is the empty string');
  const target = options.vocabSize - 256 - specials.length;
  if (!Number.isInteger(options.vocabSize) || target < 0) {
    throw new Error(`trainBpe: vocabSize ${options.vocabSize} is too small: it must hold 256 bytes and ${specials.length} special tokens`);
  }
  const pick = (given: string | undefined, fallback: string | undefined, name: string) => {
    const t = given ?? fallback;
    if (t !== undefined && !specials.includes(t)) throw new Error(`trainBpe: ${name} ${JSON.stringify(t)} is not one of specialTokens`);
    return t;
  };
  const bosToken = pick(options.bosToken, specials.includes('<|bos|>') ? '<|bos|>' : undefined, 'bosToken');
  const eosToken = pick(options.eosToken, specials.includes('<|eos|>') ? '<|eos|>' : undefined, 'eosToken');
  const padToken = pick(options.padToken, specials.includes('<|pad|>') ? '<|pad|>' : undefined, 'padToken');

  const byteTokens = BYTE_TO_CHAR.slice();
  const specEmpty = (vocab: string[], merges: [string, string][]): BpeTokenizerSpec => ({
    vocab,
    merges,
    addedTokens: specials.map((content, i) => ({ id: vocab.length + i, content, special: true })),
    normalizer: [],
    preTokenizer: preTokenizerFor(options),
    postProcessor: null,
    ignoreMerges: false,
    bosToken,
    eosToken,
    padToken,
  });

  // Pieces of the corpus, counted.
  const splitter = new BpeTokenizer(specEmpty(byteTokens, []));
  let texts = typeof corpus === 'string' ? [corpus] : corpus;
  if (options.maxChars !== undefined) texts = sampleLines(texts, options.maxChars, options.seed ?? 0);
  const pieceCounts = new Map<string, number>();
  for (const text of texts) for (const p of splitter.pieces(text)) pieceCounts.set(p, (pieceCounts.get(p) ?? 0) + 1);

  const words: number[][] = [];
  const freq: number[] = [];
  for (const [piece, count] of pieceCounts) {
    words.push(Array.from(utf8(piece)));
    freq.push(count);
  }

  const W = options.vocabSize;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: number) => {
    const s = words[w];
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i] * W + s[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * freq[w]);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  words.forEach((_, w) => addPairs(w, +1));
  // Highest count first (counts pushed negated), then the smaller pair key.
  const heap = new PairHeap();
  for (const [key, count] of pairCount) heap.push(-count, key);

  const tokens = byteTokens.slice();
  const merges: [string, string][] = [];
  const minFrequency = options.minFrequency ?? 2;
  while (merges.length < target && heap.size > 0) {
    const [negCount, key] = heap.pop();
    const count = -negCount;
    if (pairCount.get(key) !== count) continue; // stale
    if (count < minFrequency) break;
    const a = Math.floor(key / W);
    const b = key % W;
    const merged = tokens.length;
    tokens.push(tokens[a] + tokens[b]);
    merges.push([tokens[a], tokens[b]]);
    const touched = new Set<number>();
    for (const w of pairWords.get(key) ?? []) {
      const s = words[w];
      let has = false;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) has = true;
      if (!has) continue;
      // Every pair whose count changes gets a fresh heap entry (its old one goes stale).
      for (let i = 0; i + 1 < s.length; i++) touched.add(s[i] * W + s[i + 1]);
      addPairs(w, -1);
      const next: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          next.push(merged);
          i++;
        } else next.push(s[i]);
      }
      words[w] = next;
      addPairs(w, +1);
      for (let i = 0; i + 1 < next.length; i++) touched.add(next[i] * W + next[i + 1]);
    }
    pairCount.delete(key);
    pairWords.delete(key);
    for (const k of touched) {
      const c = pairCount.get(k);
      if (c === undefined || k === key) continue;
      if (c > 0) heap.push(-c, k);
      else {
        pairCount.delete(k);
        pairWords.delete(k);
      }
    }
    options.onProgress?.(merges.length, target);
  }
  return new BpeTokenizer(specEmpty(tokens, merges));
}
