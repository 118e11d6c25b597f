// Hugging Face's tokenizer files, read and written: tokenizer.json (the
// tokenizer itself), tokenizer_config.json (special-token names, the chat
// template) and special_tokens_map.json. Only byte-level BPE is accepted; any
// other model, normalizer or pre-tokenizer is an error that names the field,
// never a tokenizer that silently encodes differently from the original.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../runtime/files';
import { BYTE_TO_CHAR } from './byte_level';
import { escapeRegex } from './pretokenize';
import { BpeTokenizer, type AddedToken, type BpeTokenizerSpec, type NormalizerStep, type PreTokenizerStep, type TemplatePart } from './bpe_tokenizer';

type Json = Record<string, unknown>;

function fail(source: string, field: string, message: string): never {
  throw new Error(`${source}: ${field}: ${message}`);
}

function obj(v: unknown, source: string, field: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(source, field, `expected an object, got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v as Json;
}

/** A special token in tokenizer_config.json: a string, {content: string}, or null. */
function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

function readNormalizer(v: unknown, source: string, field: string): NormalizerStep[] {
  if (v === null || v === undefined) return [];
  const n = obj(v, source, field);
  switch (n.type) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return [{ type: 'unicode', form: n.type }];
    case 'Lowercase':
      return [{ type: 'lowercase' }];
    case 'Sequence':
      return ((n.normalizers as unknown[]) ?? []).flatMap((m, i) => readNormalizer(m, source, `${field}.normalizers[${i}]`));
    default:
      return fail(source, `${field}.type`, `normalizer ${JSON.stringify(n.type)} is not supported (NFC, NFD, NFKC, NFKD, Lowercase and Sequence are)`);
  }
}

function readPreTokenizer(v: unknown, source: string, field: string): PreTokenizerStep[] {
  if (v === null || v === undefined) return [];
  const p = obj(v, source, field);
  switch (p.type) {
    case 'ByteLevel':
      return [{ type: 'byte_level', addPrefixSpace: p.add_prefix_space === true, useRegex: p.use_regex !== false }];
    case 'Digits':
      return [{ type: 'digits', individual: p.individual_digits === true }];
    case 'Split': {
      const pattern = obj(p.pattern, source, `${field}.pattern`);
      const regex = typeof pattern.Regex === 'string' ? pattern.Regex : typeof pattern.String === 'string' ? escapeRegex(pattern.String) : undefined;
      if (regex === undefined) fail(source, `${field}.pattern`, 'expected {"Regex": ...} or {"String": ...}');
      const behavior = String(p.behavior ?? 'Isolated');
      if (!['Isolated', 'Removed', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'].includes(behavior)) {
        fail(source, `${field}.behavior`, `unknown split behavior ${JSON.stringify(behavior)}`);
      }
      return [{ type: 'split', pattern: regex, behavior: behavior as 'Isolated', invert: p.invert === true }];
    }
    case 'Sequence':
      return ((p.pretokenizers as unknown[]) ?? []).flatMap((q, i) => readPreTokenizer(q, source, `${field}.pretokenizers[${i}]`));
    default:
      return fail(
        source,
        `${field}.type`,
        `pre-tokenizer ${JSON.stringify(p.type)} is not supported: only byte-level BPE tokenizers load (ByteLevel, Split, Digits and Sequence pre-tokenizers, as in GPT-2, Llama-3, SmolLM and Qwen2)`,
      );
  }
}

function readPostProcessor(v: unknown, source: string, field: string): TemplatePart[] | null {
  if (v === null || v === undefined) return null;
  const p = obj(v, source, field);
  switch (p.type) {
    case 'ByteLevel':
      return null;
    case 'TemplateProcessing': {
      const single = p.single as unknown[];
      if (!Array.isArray(single)) fail(source, `${field}.single`, 'expected a list');
      return single.map((part, i) => {
        const q = obj(part, source, `${field}.single[${i}]`);
        if (q.SpecialToken) return { special: String(obj(q.SpecialToken, source, `${field}.single[${i}].SpecialToken`).id) };
        if (q.Sequence) return { sequence: true as const };
        return fail(source, `${field}.single[${i}]`, 'expected {"SpecialToken": ...} or {"Sequence": ...}');
      });
    }
    case 'RobertaProcessing':
    case 'BertProcessing': {
      const cls = p.cls as [string, number];
      const sep = p.sep as [string, number];
      return [{ special: cls[0] }, { sequence: true }, { special: sep[0] }];
    }
    case 'Sequence': {
      const parts = ((p.processors as unknown[]) ?? []).map((q, i) => readPostProcessor(q, source, `${field}.processors[${i}]`)).filter((x) => x !== null);
      if (parts.length > 1) fail(source, field, 'more than one template post-processor in a Sequence');
      return parts[0] ?? null;
    }
    default:
      return fail(source, `${field}.type`, `post-processor ${JSON.stringify(p.type)} is not supported`);
  }
}

/** A tokenizer from the parsed contents of tokenizer.json and (optionally) tokenizer_config.json. */
export function tokenizerFromJson(tokenizerJson: unknown, tokenizerConfig: unknown = {}, source = 'tokenizer.json', configSource = 'tokenizer_config.json'): BpeTokenizer {
  const root = obj(tokenizerJson, source, '(top level)');
  const model = obj(root.model, source, 'model');
  if (model.type !== undefined && model.type !== 'BPE') {
    fail(source, 'model.type', `${JSON.stringify(model.type)} is not supported; only byte-level BPE ("BPE") tokenizers load`);
  }
  if (model.byte_fallback === true) {
    fail(source, 'model.byte_fallback', 'a SentencePiece-style BPE (byte_fallback, as in Llama-2, Mistral and Gemma) is not supported; only byte-level BPE is');
  }
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (typeof model[key] === 'string' && (model[key] as string).length > 0) fail(source, `model.${key}`, 'word-piece style affixes are not supported in byte-level BPE');
  }
  const vocabObj = obj(model.vocab, source, 'model.vocab');
  const vocab: (string | undefined)[] = [];
  for (const [token, id] of Object.entries(vocabObj)) {
    if (!Number.isInteger(id) || (id as number) < 0) fail(source, `model.vocab[${JSON.stringify(token)}]`, `expected a non-negative integer id, got ${JSON.stringify(id)}`);
    vocab[id as number] = token;
  }
  for (let b = 0; b < 256; b++) {
    if (!(BYTE_TO_CHAR[b] in vocabObj)) {
      fail(source, 'model.vocab', `has no token for byte 0x${b.toString(16).padStart(2, '0')} (${JSON.stringify(BYTE_TO_CHAR[b])}); this is not a byte-level BPE vocabulary`);
    }
  }
  const rawMerges = model.merges;
  if (!Array.isArray(rawMerges)) fail(source, 'model.merges', 'expected a list of merges');
  const merges = rawMerges.map((m, i): [string, string] => {
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length === 2) return [parts[0], parts[1]];
    }
    return fail(source, `model.merges[${i}]`, `expected "left right" or ["left", "right"], got ${JSON.stringify(m)}`);
  });
  const addedTokens: AddedToken[] = ((root.added_tokens as unknown[]) ?? []).map((t, i) => {
    const a = obj(t, source, `added_tokens[${i}]`);
    if (!Number.isInteger(a.id) || typeof a.content !== 'string') fail(source, `added_tokens[${i}]`, 'expected {"id": integer, "content": string, ...}');
    return { id: a.id as number, content: a.content as string, special: a.special === true, lstrip: a.lstrip === true, rstrip: a.rstrip === true };
  });
  const preTokenizer = readPreTokenizer(root.pre_tokenizer, source, 'pre_tokenizer');
  const decoder = root.decoder as Json | null | undefined;
  const byteLevel = preTokenizer.some((s) => s.type === 'byte_level') || JSON.stringify(decoder ?? null).includes('"ByteLevel"');
  if (!byteLevel) fail(source, 'pre_tokenizer', 'no ByteLevel pre-tokenizer or decoder: this is not a byte-level BPE tokenizer');

  const config = obj(tokenizerConfig ?? {}, configSource, '(top level)');
  const chat = config.chat_template;
  let chatTemplate: string | undefined;
  if (typeof chat === 'string') chatTemplate = chat;
  else if (Array.isArray(chat)) {
    const named = chat.find((c) => (c as Json)?.name === 'default') ?? chat[0];
    chatTemplate = typeof (named as Json)?.template === 'string' ? ((named as Json).template as string) : undefined;
  }
  const spec: BpeTokenizerSpec = {
    vocab,
    merges,
    addedTokens,
    normalizer: readNormalizer(root.normalizer, source, 'normalizer'),
    preTokenizer,
    postProcessor: readPostProcessor(root.post_processor, source, 'post_processor'),
    ignoreMerges: model.ignore_merges === true,
    bosToken: tokenName(config.bos_token),
    eosToken: tokenName(config.eos_token),
    padToken: tokenName(config.pad_token),
    unkToken: tokenName(config.unk_token),
    modelMaxLength: typeof config.model_max_length === 'number' && config.model_max_length < 1e12 ? config.model_max_length : undefined,
    chatTemplate,
  };
  return new BpeTokenizer(spec);
}

function preTokenizerJson(steps: PreTokenizerStep[]): Json | null {
  const one = (s: PreTokenizerStep): Json =>
    s.type === 'byte_level'
      ? { type: 'ByteLevel', add_prefix_space: s.addPrefixSpace, trim_offsets: true, use_regex: s.useRegex }
      : s.type === 'digits'
        ? { type: 'Digits', individual_digits: s.individual }
        : { type: 'Split', pattern: { Regex: s.pattern }, behavior: s.behavior, invert: s.invert };
  if (steps.length === 0) return null;
  return steps.length === 1 ? one(steps[0]) : { type: 'Sequence', pretokenizers: steps.map(one) };
}

/** tokenizer.json's contents for a tokenizer, in the layout transformers and tokenizers read. */
export function tokenizerToJson(tok: BpeTokenizer): Json {
  const s = tok.spec;
  const vocab: Record<string, number> = {};
  s.vocab.forEach((t, id) => {
    if (t !== undefined) vocab[t] = id;
  });
  const template = s.postProcessor;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: s.addedTokens.map((t) => ({
      id: t.id,
      content: t.content,
      single_word: false,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
      normalized: false,
      special: t.special,
    })),
    normalizer:
      s.normalizer.length === 0
        ? null
        : { type: 'Sequence', normalizers: s.normalizer.map((n) => (n.type === 'lowercase' ? { type: 'Lowercase' } : { type: n.form })) },
    pre_tokenizer: preTokenizerJson(s.preTokenizer),
    post_processor: template
      ? {
          type: 'TemplateProcessing',
          single: template.map((p) => ('special' in p ? { SpecialToken: { id: p.special, type_id: 0 } } : { Sequence: { id: 'A', type_id: 0 } })),
          // Two texts: the template for each, the second's tokens with type id 1.
          pair: [...template, ...template].map((p, i) =>
            'special' in p
              ? { SpecialToken: { id: p.special, type_id: i < template.length ? 0 : 1 } }
              : { Sequence: { id: i < template.length ? 'A' : 'B', type_id: i < template.length ? 0 : 1 } },
          ),
          special_tokens: Object.fromEntries(
            template.filter((p): p is { special: string } => 'special' in p).map((p) => [p.special, { id: p.special, ids: [tok.tokenToId(p.special)], tokens: [p.special] }]),
          ),
        }
      : { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: s.ignoreMerges,
      vocab,
      merges: s.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** tokenizer_config.json's contents: special-token names, the chat template, the tokenizer class transformers should build. */
export function tokenizerConfigJson(tok: BpeTokenizer, options: { chatTemplate?: string } = {}): Json {
  const s = tok.spec;
  const decoderEntries = Object.fromEntries(
    s.addedTokens.map((t) => [String(t.id), { content: t.content, lstrip: t.lstrip === true, normalized: false, rstrip: t.rstrip === true, single_word: false, special: t.special }]),
  );
  const config: Json = {
    added_tokens_decoder: decoderEntries,
    bos_token: s.bosToken ?? null,
    eos_token: s.eosToken ?? null,
    pad_token: s.padToken ?? null,
    unk_token: null,
    clean_up_tokenization_spaces: false,
    model_max_length: s.modelMaxLength ?? 1000000000000000019884624838656,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  const chatTemplate = options.chatTemplate ?? s.chatTemplate;
  if (chatTemplate !== undefined) config.chat_template = chatTemplate;
  return config;
}

/** Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into `dir` (each file atomically). */
export function saveTokenizer(dir: string, tok: BpeTokenizer, options: { chatTemplate?: string } = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  const s = tok.spec;
  writeFileAtomic(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerToJson(tok), null, 2));
  writeFileAtomic(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfigJson(tok, options), null, 2));
  const map: Json = {};
  if (s.bosToken) map.bos_token = s.bosToken;
  if (s.eosToken) map.eos_token = s.eosToken;
  if (s.padToken) map.pad_token = s.padToken;
  const extra = tok.specialTokens.filter((t) => t !== s.bosToken && t !== s.eosToken && t !== s.padToken);
  if (extra.length) map.additional_special_tokens = extra;
  writeFileAtomic(path.join(dir, 'special_tokens_map.json'), JSON.stringify(map, null, 2));
}

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Loads the tokenizer in a folder laid out as on the Hugging Face Hub:
 * tokenizer.json, plus tokenizer_config.json (and special_tokens_map.json)
 * for the names of BOS/EOS/PAD and the chat template, when present.
 */
export function loadTokenizer(dir: string): BpeTokenizer {
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(tokenizerFile)) throw new Error(`${tokenizerFile}: not found (a byte-level BPE tokenizer.json is expected in ${dir})`);
  const configFile = path.join(dir, 'tokenizer_config.json');
  const mapFile = path.join(dir, 'special_tokens_map.json');
  const config = (fs.existsSync(configFile) ? readJsonFile(configFile) : {}) as Json;
  const map = (fs.existsSync(mapFile) ? readJsonFile(mapFile) : {}) as Json;
  const merged: Json = { ...config };
  for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) if (merged[key] === undefined && map[key] !== undefined) merged[key] = map[key];
  return tokenizerFromJson(readJsonFile(tokenizerFile), merged, tokenizerFile, configFile);
}
