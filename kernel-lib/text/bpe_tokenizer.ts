// A byte-level BPE tokenizer: the one this project trains, and the one it
// loads from a Hugging Face tokenizer.json (GPT-2, Llama-3, SmolLM, Qwen2).
// Text goes through four stages, as in the published format:
//   1. added (special) tokens are cut out first, so they are never split and
//      ordinary text can never merge into them;
//   2. an optional normalizer (Unicode NFC and friends);
//   3. pre-tokenization into pieces (regex splits, digits, byte-level);
//   4. BPE merges inside each piece.
// Every token keeps the [start, end) span of the text it came from (UTF-16
// code units), which is what assistant masks are built from.
import { BYTE_TO_CHAR, bytesToTokenString, tokenStringToBytes } from './byte_level';
import { applyMerges, MergeTable, utf8 } from './bpe_merges';
import { compileTokenizerRegex, escapeRegex, GPT2_PATTERN, splitDigits, splitPiece, type Piece, type SplitBehavior } from './pretokenize';

export interface AddedToken {
  id: number;
  content: string;
  /** Special tokens are dropped by decode({ skipSpecial: true }). */
  special: boolean;
  /** Swallow whitespace on the left / right of the token when matching. */
  lstrip?: boolean;
  rstrip?: boolean;
}

export type PreTokenizerStep =
  | { type: 'split'; pattern: string; behavior: SplitBehavior; invert: boolean }
  | { type: 'digits'; individual: boolean }
  | { type: 'byte_level'; addPrefixSpace: boolean; useRegex: boolean };

export type NormalizerStep = { type: 'unicode'; form: 'NFC' | 'NFD' | 'NFKC' | 'NFKD' } | { type: 'lowercase' };

/** What the post-processor puts around one encoded text (tokenizers' TemplateProcessing, single sequence). */
export type TemplatePart = { special: string } | { sequence: true };

export interface BpeTokenizerSpec {
  /** Token string (byte-level spelling) of each id; holes are ids only added tokens use. */
  vocab: (string | undefined)[];
  /** Merges by rank, as pairs of token strings. */
  merges: [string, string][];
  addedTokens: AddedToken[];
  normalizer: NormalizerStep[];
  preTokenizer: PreTokenizerStep[];
  /** null: encode adds nothing around the text. */
  postProcessor: TemplatePart[] | null;
  /** A piece that is itself in the vocabulary is one token, merges or not (Llama-3). */
  ignoreMerges: boolean;
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  unkToken?: string;
  modelMaxLength?: number;
  /** The Jinja chat template from tokenizer_config.json, if any. */
  chatTemplate?: string;
}

export interface EncodeOptions {
  /** Run the post-processor (e.g. Llama-3's BOS). Default true, as in transformers. */
  addSpecialTokens?: boolean;
  /** Treat special-token text in the input as special tokens (default true, as in transformers). False encodes it as ordinary text. */
  parseSpecial?: boolean;
  /** Put the BOS / EOS id first / last (on top of the post-processor). */
  bos?: boolean;
  eos?: boolean;
}

/** Ids with their source spans. offsets[i] is [start, end) in the input text; tokens the post-processor or `bos`/`eos` added have [start, start). */
export interface Encoding {
  ids: number[];
  offsets: [number, number][];
  special: boolean[];
}

export interface BatchEncodeOptions extends EncodeOptions {
  /** 'longest': pad to the longest row; 'max_length': pad every row to maxLength; false: no padding. Default 'longest'. */
  padding?: 'longest' | 'max_length' | false;
  maxLength?: number;
  /** Cut rows longer than maxLength (from the end, or the start with truncationSide 'left'). Without it a longer row is an error. */
  truncation?: boolean;
  paddingSide?: 'right' | 'left';
  truncationSide?: 'right' | 'left';
}

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
  /** How many tokens each row lost to truncation. */
  truncated: number[];
}

const PIECE_CACHE_LIMIT = 200_000;
// Whole-buffer decodes keep no state between calls, so one decoder serves them all.
const UTF8_DECODER = new TextDecoder();

export class BpeTokenizer {
  readonly vocabSize: number;
  readonly spec: BpeTokenizerSpec;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  private readonly tokenToIdMap = new Map<string, number>();
  private readonly idToTokenArr: string[];
  private readonly byteId = new Int32Array(256);
  private readonly table: MergeTable;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly addedRegex: RegExp | null;
  private readonly splitRegexes: (RegExp | null)[];
  private readonly cache = new Map<string, number[]>();

  constructor(spec: BpeTokenizerSpec) {
    this.spec = spec;
    const size = Math.max(spec.vocab.length, ...spec.addedTokens.map((t) => t.id + 1));
    this.vocabSize = size;
    this.idToTokenArr = new Array(size).fill('');
    spec.vocab.forEach((tok, id) => {
      if (tok === undefined) return;
      if (this.tokenToIdMap.has(tok)) throw new Error(`tokenizer: token ${JSON.stringify(tok)} has two ids (${this.tokenToIdMap.get(tok)} and ${id})`);
      this.tokenToIdMap.set(tok, id);
      this.idToTokenArr[id] = tok;
    });
    for (let b = 0; b < 256; b++) {
      const id = this.tokenToIdMap.get(BYTE_TO_CHAR[b]);
      // A byte-level vocabulary has every byte; without one, some text cannot be encoded.
      this.byteId[b] = id ?? -1;
    }
    const merges = spec.merges.map(([a, b], rank): [number, number, number] => {
      const ia = this.tokenToIdMap.get(a);
      const ib = this.tokenToIdMap.get(b);
      const ij = this.tokenToIdMap.get(a + b);
      if (ia === undefined || ib === undefined || ij === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : a + b;
        throw new Error(`tokenizer: merge ${rank} (${JSON.stringify(a)} + ${JSON.stringify(b)}) uses ${JSON.stringify(missing)}, which is not in the vocabulary`);
      }
      return [ia, ib, ij];
    });
    this.table = new MergeTable(size, merges);

    for (const t of spec.addedTokens) {
      this.addedById.set(t.id, t);
      if (!this.addedByContent.has(t.content)) this.addedByContent.set(t.content, t);
      this.idToTokenArr[t.id] = t.content;
      if (!this.tokenToIdMap.has(t.content)) this.tokenToIdMap.set(t.content, t.id);
    }
    // Longest first, so '<|im_start|>' wins over a shorter token it starts with.
    const contents = [...this.addedByContent.keys()].filter((c) => c.length > 0).sort((a, b) => b.length - a.length);
    this.addedRegex = contents.length ? new RegExp(contents.map(escapeRegex).join('|'), 'g') : null;
    this.splitRegexes = spec.preTokenizer.map((s) => (s.type === 'split' ? compileTokenizerRegex(s.pattern) : null));

    const idOf = (name: 'bosToken' | 'eosToken' | 'padToken') => {
      const tok = spec[name];
      if (tok === undefined) return undefined;
      const id = this.tokenToIdMap.get(tok);
      if (id === undefined) throw new Error(`tokenizer: ${name} ${JSON.stringify(tok)} is not in the vocabulary`);
      return id;
    };
    this.bosId = idOf('bosToken');
    this.eosId = idOf('eosToken');
    this.padId = idOf('padToken');
  }

  /** The BOS id; an error naming the setting if this tokenizer has none. */
  get bos(): number {
    return required(this.bosId, 'BOS', 'bos_token');
  }

  get eos(): number {
    return required(this.eosId, 'EOS', 'eos_token');
  }

  get pad(): number {
    return required(this.padId, 'PAD', 'pad_token');
  }

  /** Contents of the added tokens marked special (BOS, EOS, PAD, chat markers). */
  get specialTokens(): string[] {
    return this.spec.addedTokens.filter((t) => t.special).map((t) => t.content);
  }

  isSpecial(id: number): boolean {
    return this.addedById.get(id)?.special ?? false;
  }

  tokenToId(token: string): number | undefined {
    return this.tokenToIdMap.get(token);
  }

  /** The vocabulary string of an id (byte-level spelling, e.g. 'Ġthe'; an added token's content). */
  idToToken(id: number): string {
    this.checkId(id);
    return this.idToTokenArr[id];
  }

  /** A readable form of one token: its text, with bytes that are not whole characters shown as <0xNN>. */
  tokenToString(id: number): string {
    this.checkId(id);
    const added = this.addedById.get(id);
    if (added) return added.content;
    const bytes = tokenStringToBytes(this.idToTokenArr[id]) ?? [];
    const text = UTF8_DECODER.decode(Uint8Array.from(bytes));
    if (!text.includes('\uFFFD')) return text;
    return bytes.map((b) => `<0x${b.toString(16).padStart(2, '0').toUpperCase()}>`).join('');
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.encodeWithOffsets(text, options).ids;
  }

  encodeWithOffsets(text: string, options: EncodeOptions = {}): Encoding {
    const out: Encoding = { ids: [], offsets: [], special: [] };
    const body: Encoding = { ids: [], offsets: [], special: [] };
    for (const seg of this.segments(text, options.parseSpecial ?? true)) {
      if (seg.added) {
        body.ids.push(seg.added.id);
        body.offsets.push([seg.start, seg.end]);
        body.special.push(seg.added.special);
      } else {
        this.encodeOrdinary(text.slice(seg.start, seg.end), seg.start, body);
      }
    }
    const addSpecial = (token: string, at: number) => {
      const id = this.tokenToIdMap.get(token);
      if (id === undefined) throw new Error(`tokenizer: post-processor token ${JSON.stringify(token)} is not in the vocabulary`);
      out.ids.push(id);
      out.offsets.push([at, at]);
      out.special.push(true);
    };
    if (options.bos) addSpecial(this.idToTokenArr[this.bos], 0);
    const template = (options.addSpecialTokens ?? true) ? this.spec.postProcessor : null;
    if (template) {
      for (const part of template) {
        if ('special' in part) addSpecial(part.special, out.ids.length === 0 ? 0 : text.length);
        else appendEncoding(out, body);
      }
    } else {
      appendEncoding(out, body);
    }
    if (options.eos) addSpecial(this.idToTokenArr[this.eos], text.length);
    return out;
  }

  decode(ids: ArrayLike<number>, options: { skipSpecial?: boolean } = {}): string {
    let out = '';
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length) out += UTF8_DECODER.decode(Uint8Array.from(bytes));
      bytes = [];
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      this.checkId(id);
      const added = this.addedById.get(id);
      if (added) {
        flush();
        if (!(options.skipSpecial && added.special)) out += added.content;
        continue;
      }
      const b = tokenStringToBytes(this.idToTokenArr[id]);
      if (b === null) throw new Error(`tokenizer: token ${id} (${JSON.stringify(this.idToTokenArr[id])}) is not byte-level text`);
      for (const x of b) bytes.push(x);
    }
    flush();
    return out;
  }

  /** A decoder fed one id at a time that returns only complete characters (for streaming generation). */
  streamDecoder(options: { skipSpecial?: boolean } = {}): (id: number) => string {
    const decoder = new TextDecoder();
    return (id: number) => {
      this.checkId(id);
      const added = this.addedById.get(id);
      if (added) return decoder.decode() + (options.skipSpecial && added.special ? '' : added.content);
      const b = tokenStringToBytes(this.idToTokenArr[id]) ?? [];
      return decoder.decode(Uint8Array.from(b), { stream: true });
    };
  }

  /** Encodes many texts to rows of equal length with attention masks (1 = real token, 0 = padding). */
  encodeBatch(texts: string[], options: BatchEncodeOptions = {}): BatchEncoding {
    const padding = options.padding ?? 'longest';
    const { maxLength } = options;
    if ((padding === 'max_length' || options.truncation) && maxLength === undefined) {
      throw new Error(`encodeBatch: padding 'max_length' and truncation need maxLength`);
    }
    const rows = texts.map((t) => this.encode(t, options));
    const truncated = rows.map(() => 0);
    rows.forEach((row, i) => {
      if (maxLength === undefined || row.length <= maxLength) return;
      if (!options.truncation) {
        throw new Error(`encodeBatch: text ${i} is ${row.length} tokens, longer than maxLength ${maxLength}; pass truncation: true to cut it`);
      }
      truncated[i] = row.length - maxLength;
      rows[i] = options.truncationSide === 'left' ? row.slice(row.length - maxLength) : row.slice(0, maxLength);
    });
    const width = padding === 'max_length' ? maxLength! : padding === 'longest' ? Math.max(0, ...rows.map((r) => r.length)) : 0;
    const inputIds: number[][] = [];
    const attentionMask: number[][] = [];
    for (const row of rows) {
      const fill = Math.max(0, width - row.length);
      const pad = fill > 0 ? this.pad : 0;
      const ids = new Array<number>(fill).fill(pad);
      const mask = new Array<number>(fill).fill(0);
      const ones = new Array<number>(row.length).fill(1);
      if (options.paddingSide === 'left') {
        inputIds.push(ids.concat(row));
        attentionMask.push(mask.concat(ones));
      } else {
        inputIds.push(row.concat(ids));
        attentionMask.push(ones.concat(mask));
      }
    }
    return { inputIds, attentionMask, truncated };
  }

  /**
   * The pre-tokenized pieces of a text, as encode sees them: added tokens
   * cut out (and left out), the rest normalized and split. BPE merges never
   * cross a piece boundary.
   */
  pieces(text: string): string[] {
    const out: string[] = [];
    for (const seg of this.segments(text, true)) {
      if (seg.added) continue;
      for (const p of this.pretokenize(this.normalize(text.slice(seg.start, seg.end)))) out.push(p.text);
    }
    return out;
  }

  /** The text split into added tokens and the ordinary text between them. */
  private segments(text: string, parseSpecial: boolean): { start: number; end: number; added?: AddedToken }[] {
    const out: { start: number; end: number; added?: AddedToken }[] = [];
    if (!this.addedRegex || !parseSpecial) return text.length ? [{ start: 0, end: text.length }] : [];
    let last = 0;
    this.addedRegex.lastIndex = 0;
    for (const m of text.matchAll(this.addedRegex)) {
      const added = this.addedByContent.get(m[0])!;
      let start = m.index!;
      let end = start + m[0].length;
      if (added.lstrip) while (start > last && /\s/.test(text[start - 1])) start--;
      if (added.rstrip) while (end < text.length && /\s/.test(text[end])) end++;
      if (start > last) out.push({ start: last, end: start });
      out.push({ start, end, added });
      last = end;
    }
    if (last < text.length) out.push({ start: last, end: text.length });
    return out;
  }

  private encodeOrdinary(text: string, offset: number, out: Encoding): void {
    const normalized = this.normalize(text);
    // Offsets are exact when normalization leaves the text alone (always, for
    // tokenizers without a normalizer); otherwise each token of the segment
    // points at the whole segment.
    const exact = normalized === text;
    for (const piece of this.pretokenize(normalized)) {
      const ids = this.encodePiece(piece.text);
      if (!exact) {
        for (const id of ids) {
          out.ids.push(id);
          out.offsets.push([offset, offset + text.length]);
          out.special.push(false);
        }
        continue;
      }
      // Map each token's bytes back to UTF-16 positions in the piece.
      let byte = 0;
      let unit = 0;
      let unitByteEnd = 0; // bytes consumed by characters before `unit`
      for (const id of ids) {
        const len = this.idToTokenArr[id].length; // one character per byte in the byte-level spelling
        const startByte = byte;
        const endByte = byte + len;
        // The character containing startByte.
        while (unitByteEnd + charBytes(piece.text, unit) <= startByte) {
          unitByteEnd += charBytes(piece.text, unit);
          unit += charUnits(piece.text, unit);
        }
        const startUnit = unit;
        let u = unit;
        let ub = unitByteEnd;
        while (ub < endByte) {
          ub += charBytes(piece.text, u);
          u += charUnits(piece.text, u);
        }
        out.ids.push(id);
        out.offsets.push([offset + Math.max(0, piece.start + startUnit), offset + Math.max(0, piece.start + u)]);
        out.special.push(false);
        byte = endByte;
      }
    }
  }

  private normalize(text: string): string {
    let t = text;
    for (const step of this.spec.normalizer) t = step.type === 'lowercase' ? t.toLowerCase() : t.normalize(step.form);
    return t;
  }

  private pretokenize(text: string): Piece[] {
    let pieces: Piece[] = [{ text, start: 0 }];
    this.spec.preTokenizer.forEach((step, i) => {
      if (step.type === 'split') {
        pieces = pieces.flatMap((p) => splitPiece(p, this.splitRegexes[i]!, step.behavior, step.invert));
      } else if (step.type === 'digits') {
        pieces = pieces.flatMap((p) => splitDigits(p, step.individual));
      } else {
        if (step.addPrefixSpace) {
          // The added space has no source character: placing the piece one
          // unit earlier keeps every real character's offset right.
          pieces = pieces.map((p) => (p.text.startsWith(' ') ? p : { text: ' ' + p.text, start: p.start - 1 }));
        }
        if (step.useRegex) pieces = pieces.flatMap((p) => splitPiece(p, GPT2_REGEX, 'Isolated'));
      }
    });
    return pieces.filter((p) => p.text.length > 0);
  }

  private encodePiece(piece: string): number[] {
    const hit = this.cache.get(piece);
    if (hit) return hit;
    let ids: number[];
    const bytes = utf8(piece);
    const whole = this.spec.ignoreMerges ? this.tokenToIdMap.get(bytesToTokenString(bytes)) : undefined;
    if (whole !== undefined && !this.addedById.has(whole)) {
      ids = [whole];
    } else {
      const symbols = new Array<number>(bytes.length);
      for (let i = 0; i < bytes.length; i++) {
        const id = this.byteId[bytes[i]];
        if (id < 0) throw new Error(`tokenizer: byte 0x${bytes[i].toString(16)} has no token in this vocabulary (it is not byte-level complete)`);
        symbols[i] = id;
      }
      ids = applyMerges(symbols, this.table);
    }
    if (this.cache.size >= PIECE_CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, ids);
    return ids;
  }

  private checkId(id: number): void {
    if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize) || (this.idToTokenArr[id] === '' && !this.addedById.has(id))) {
      throw new Error(`tokenizer: id ${id} is not a token of this vocabulary (size ${this.vocabSize})`);
    }
  }
}

const GPT2_REGEX = compileTokenizerRegex(GPT2_PATTERN);

/** UTF-8 length of the character starting at UTF-16 index i. */
function charBytes(s: string, i: number): number {
  const c = s.codePointAt(i)!;
  return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

function charUnits(s: string, i: number): number {
  return s.codePointAt(i)! > 0xffff ? 2 : 1;
}

function appendEncoding(out: Encoding, body: Encoding): void {
  for (let i = 0; i < body.ids.length; i++) {
    out.ids.push(body.ids[i]);
    out.offsets.push(body.offsets[i]);
    out.special.push(body.special[i]);
  }
}

function required(id: number | undefined, what: string, setting: string): number {
  if (id === undefined) throw new Error(`tokenizer: this tokenizer has no ${what} token (set ${setting} in tokenizer_config.json or when training)`);
  return id;
}
