// The byte-level BPE tokenizer: round trips, special tokens, training,
// tokenizer.json in and out, and ids checked against two independent
// implementations (tokenizers.js, Hugging Face's own JS port, and
// gpt-tokenizer) on real published vocabularies.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { encode as cl100kEncode } from 'gpt-tokenizer/cjs/encoding/cl100k_base';
import { encode as gpt2Encode } from 'gpt-tokenizer/cjs/encoding/r50k_base';
import { randomStream } from '../../kernel-lib/runtime';
import { loadTokenizer, saveTokenizer, tokenizerFromJson, tokenizerToJson, trainBpe, type BpeTokenizer } from '../../kernel-lib/text';
import { gpt2TokenizerJson, llama3StyleTokenizerJson } from './tiktoken_vocab';

const CORPUS = fs.readFileSync(path.join(__dirname, '../../data/corpus/base.txt'), 'utf8');
const CHAT_MARKERS = ['<|im_start|>', '<|im_end|>'];

/** Random text over many scripts and planes: ASCII, Latin-1, Greek, CJK, emoji, combining marks, odd whitespace, digits. */
function randomUnicode(seed: string, length: number): string {
  const u = randomStream(seed);
  const ranges: [number, number][] = [
    [0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], [0x30, 0x39], [0xa0, 0xff], [0x370, 0x3ff], [0x300, 0x36f],
    [0x4e00, 0x4fff], [0x1f300, 0x1f64f], [0x10000, 0x1007f], [0x2000, 0x200b],
  ];
  const ws = ['\n', '\t', '\r\n', ' ', '  ', '\u3000', '\u00a0'];
  let s = '';
  while (s.length < length) {
    if (u() < 0.12) s += ws[Math.floor(u() * ws.length)];
    else {
      const [lo, hi] = ranges[Math.floor(u() * ranges.length)];
      s += String.fromCodePoint(lo + Math.floor(u() * (hi - lo + 1)));
    }
  }
  return s;
}

function hfOf(tok: BpeTokenizer): HfTokenizer {
  const json = tokenizerToJson(tok);
  return new HfTokenizer(json as never, { bos_token: tok.spec.bosToken, eos_token: tok.spec.eosToken, pad_token: tok.spec.padToken } as never);
}

describe('text/bpe: training and round trips', function () {
  this.timeout(120_000);
  let tok: BpeTokenizer;
  before(() => {
    tok = trainBpe(CORPUS, { vocabSize: 640, specialTokens: ['<|bos|>', '<|eos|>', '<|pad|>', ...CHAT_MARKERS] });
  });

  it('learns merges that shorten the corpus, with bytes first, merges next and special tokens last', () => {
    assert.equal(tok.vocabSize, 640);
    assert.equal(tok.idToToken(65), 'A');
    assert.equal(tok.idToToken(32), 'Ġ');
    assert.deepEqual([tok.bos, tok.eos, tok.pad], [635, 636, 637]);
    assert.equal(tok.tokenToId('<|im_end|>'), 639);
    const ids = tok.encode(CORPUS);
    assert.ok(Buffer.byteLength(CORPUS) / ids.length > 2.5, `only ${(Buffer.byteLength(CORPUS) / ids.length).toFixed(2)} bytes a token`);
    assert.equal(tok.decode(ids), CORPUS);
  });

  it('round-trips random Unicode exactly (every plane, combining marks, odd whitespace)', () => {
    for (let i = 0; i < 30; i++) {
      const text = randomUnicode(`rt:${i}`, 400);
      assert.equal(tok.decode(tok.encode(text)), text, `text ${i}`);
    }
  });

  it('is deterministic: the same corpus and options give the same tokenizer.json, and a seed picks the sample', () => {
    const again = trainBpe(CORPUS, { vocabSize: 640, specialTokens: ['<|bos|>', '<|eos|>', '<|pad|>', ...CHAT_MARKERS] });
    assert.equal(JSON.stringify(tokenizerToJson(again)), JSON.stringify(tokenizerToJson(tok)));
    const a = trainBpe(CORPUS, { vocabSize: 400, maxChars: 40_000, seed: 1 });
    const b = trainBpe(CORPUS, { vocabSize: 400, maxChars: 40_000, seed: 1 });
    const c = trainBpe(CORPUS, { vocabSize: 400, maxChars: 40_000, seed: 2 });
    assert.deepEqual(a.spec.merges, b.spec.merges);
    assert.notDeepEqual(a.spec.merges, c.spec.merges);
  });

  it('never splits special tokens and never merges ordinary text into them', () => {
    const text = 'x<|im_start|>assistant\nHi<|im_end|><|im_end|>y<|eos|>';
    const ids = tok.encode(text);
    const start = tok.tokenToId('<|im_start|>')!;
    const end = tok.tokenToId('<|im_end|>')!;
    assert.equal(ids.filter((i) => i === start).length, 1);
    assert.equal(ids.filter((i) => i === end).length, 2);
    assert.equal(ids[ids.length - 1], tok.eos);
    // No learned token spells any part of a marker's brackets with its name.
    for (let id = 0; id < 635; id++) {
      const s = tok.tokenToString(id);
      for (const m of tok.specialTokens) assert.ok(!s.includes(m), `token ${id} ${JSON.stringify(s)} contains ${m}`);
    }
    // A corpus full of markers teaches nothing about them: merges are the same without them.
    const noisy = CORPUS.split('\n').slice(0, 400).map((l) => `<|im_start|>${l}<|im_end|>`).join('\n');
    const clean = CORPUS.split('\n').slice(0, 400).join('\n');
    const opts = { vocabSize: 420, specialTokens: ['<|bos|>', '<|eos|>', '<|pad|>', ...CHAT_MARKERS] };
    const fromNoisy = trainBpe(noisy, opts).spec.merges;
    assert.ok(fromNoisy.length > 100);
    assert.deepEqual(fromNoisy, trainBpe(clean, opts).spec.merges);
    // parseSpecial: false encodes marker text as ordinary bytes.
    const plain = tok.encode('<|im_end|>', { parseSpecial: false });
    assert.ok(plain.length > 1 && plain.every((i) => !tok.isSpecial(i)));
    assert.equal(tok.decode(plain), '<|im_end|>');
  });

  it('gives each token the span of text it came from', () => {
    const text = 'Héllo, wörld! 🎉 12<|im_end|> ok';
    const enc = tok.encodeWithOffsets(text);
    let at = 0;
    enc.offsets.forEach(([s, e], i) => {
      assert.ok(s <= at && e >= at, `token ${i} span [${s}, ${e}) leaves a gap at ${at}`);
      at = e;
    });
    assert.equal(at, text.length);
    const i = enc.ids.indexOf(tok.tokenToId('<|im_end|>')!);
    assert.deepEqual(enc.offsets[i], [text.indexOf('<|im_end|>'), text.indexOf('<|im_end|>') + 10]);
    // Whole-character tokens slice back to their own text.
    enc.ids.forEach((id, k) => {
      const piece = text.slice(...enc.offsets[k]);
      if (!tok.tokenToString(id).includes('<0x')) assert.equal(tok.tokenToString(id), piece);
    });
  });

  it('batch-encodes with padding (right or left), attention masks and truncation', () => {
    const texts = ['a b c d e f', 'a', ''];
    const b = tok.encodeBatch(texts);
    const lens = texts.map((t) => tok.encode(t).length);
    const width = Math.max(...lens);
    b.inputIds.forEach((row, i) => {
      assert.equal(row.length, width);
      assert.deepEqual(b.attentionMask[i], [...Array(lens[i]).fill(1), ...Array(width - lens[i]).fill(0)]);
      assert.deepEqual(row.slice(lens[i]), Array(width - lens[i]).fill(tok.pad));
    });
    const left = tok.encodeBatch(texts, { paddingSide: 'left', padding: 'max_length', maxLength: width + 2 });
    assert.deepEqual(left.attentionMask[1], [...Array(width + 2 - lens[1]).fill(0), ...Array(lens[1]).fill(1)]);
    const cut = tok.encodeBatch(texts, { maxLength: 3, truncation: true });
    assert.deepEqual(cut.inputIds[0], tok.encode(texts[0]).slice(0, 3));
    assert.equal(cut.truncated[0], lens[0] - 3);
    assert.throws(() => tok.encodeBatch(texts, { maxLength: 3 }), /text 0 is \d+ tokens, longer than maxLength 3; pass truncation: true/);
  });
});

describe('text/bpe: tokenizer.json', function () {
  this.timeout(120_000);

  it('saves a folder that loads back identically and that tokenizers.js encodes to the same ids', () => {
    const tok = trainBpe(CORPUS, { vocabSize: 600, specialTokens: ['<|bos|>', '<|eos|>', '<|pad|>', ...CHAT_MARKERS] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-'));
    saveTokenizer(dir, tok, { chatTemplate: '{{ messages }}' });
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) assert.ok(fs.existsSync(path.join(dir, f)), f);
    const back = loadTokenizer(dir);
    assert.equal(back.spec.chatTemplate, '{{ messages }}');
    assert.deepEqual([back.bos, back.eos, back.pad], [tok.bos, tok.eos, tok.pad]);
    const hf = hfOf(tok);
    const texts = [CORPUS.slice(0, 30_000), 'User: <|im_start|>hi<|im_end|>', ...Array.from({ length: 10 }, (_, i) => randomUnicode(`hf:${i}`, 300))];
    for (const [i, t] of texts.entries()) {
      const ours = tok.encode(t);
      assert.deepEqual(back.encode(t), ours, `reloaded, text ${i}`);
      assert.deepEqual(hf.encode(t).ids, ours, `tokenizers.js, text ${i}`);
    }
  });

  it("encodes like GPT-2's published vocabulary (checked against gpt-tokenizer and tokenizers.js)", () => {
    const { tokenizer, config } = gpt2TokenizerJson();
    const tok = tokenizerFromJson(tokenizer, config);
    const hf = new HfTokenizer(tokenizer as never, config as never);
    assert.equal(tok.vocabSize, 50257);
    assert.equal(tok.eos, 50256);
    // Long pieces (a word of hundreds of bytes) take the heap path of the merge loop.
    const long = ['x'.repeat(300), '日本語'.repeat(40), 'abcdefghij'.repeat(30), ' ' + 'ab'.repeat(200)];
    const texts = ["Hello world! It's 2024, isn't it?", "  leading spaces\n\n\ttabs  I'LL we've", CORPUS.slice(5000, 9000), ...long, ...Array.from({ length: 12 }, (_, i) => randomUnicode(`gpt2:${i}`, 300))];
    for (const [i, t] of texts.entries()) {
      const ours = tok.encode(t);
      assert.deepEqual(ours, gpt2Encode(t), `gpt-tokenizer, text ${i}`);
      assert.deepEqual(ours, hf.encode(t).ids, `tokenizers.js, text ${i}`);
      assert.equal(tok.decode(ours), t);
    }
    assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
  });

  it("encodes like a Llama-3-layout tokenizer.json (cl100k ranks, Split + ByteLevel, ignore_merges, BOS by TemplateProcessing)", () => {
    const { tokenizer, config } = llama3StyleTokenizerJson();
    const tok = tokenizerFromJson(tokenizer, config);
    const hf = new HfTokenizer(tokenizer as never, config as never);
    const texts = ["I'M here, you'RE there: 1234567 apples", 'ünïcödé ✓ 日本語 🎉\r\n\r\n  x', CORPUS.slice(100, 4000), ...Array.from({ length: 12 }, (_, i) => randomUnicode(`l3:${i}`, 300))];
    for (const [i, t] of texts.entries()) {
      const ours = tok.encode(t, { addSpecialTokens: false });
      assert.deepEqual(ours, cl100kEncode(t), `gpt-tokenizer, text ${i}`);
      assert.deepEqual(ours, hf.encode(t, { add_special_tokens: false } as never).ids, `tokenizers.js, text ${i}`);
      assert.deepEqual(tok.encode(t), [tok.bos, ...ours], 'the post-processor adds BOS');
    }
    assert.equal(tok.eos, tok.tokenToId('<|eot_id|>'));
    const chat = '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>';
    assert.deepEqual(tok.encode(chat, { addSpecialTokens: false }).slice(0, 3), [tok.bos, tok.tokenToId('<|start_header_id|>'), 882]);
  });

  it("treats white space as Hugging Face's Rust tokenizers do, not as JavaScript's \\s (U+0085 is space, U+FEFF is not)", () => {
    // Ids from Hugging Face tokenizers 0.23.2 (Rust) on the same tokenizer.json files;
    // gpt-tokenizer and tokenizers.js, which use JavaScript's \s, split these differently.
    const gpt2 = gpt2TokenizerJson();
    const l3 = llama3StyleTokenizerJson();
    const a = tokenizerFromJson(gpt2.tokenizer, gpt2.config);
    const b = tokenizerFromJson(l3.tokenizer, l3.config);
    const t1 = 'a\u0085b \ufeffc  \ufeff d\u2028\u2028e';
    const t2 = 'x \u0085\u0085 y';
    assert.deepEqual(a.encode(t1), [64, 126, 227, 65, 27332, 119, 123, 66, 220, 27332, 119, 123, 288, 447, 101, 447, 101, 68]);
    assert.deepEqual(a.encode(t2), [87, 1587, 227, 126, 227, 331]);
    assert.deepEqual(b.encode(t1, { addSpecialTokens: false }), [64, 126, 227, 65, 76880, 66, 220, 76880, 294, 378, 101, 378, 101, 68]);
    assert.deepEqual(b.encode(t2, { addSpecialTokens: false }), [87, 2188, 227, 126, 227, 379]);
  });

  it('rejects what it cannot load with the file and field named', () => {
    const { tokenizer, config } = gpt2TokenizerJson();
    const t = tokenizer as Record<string, any>;
    assert.throws(() => tokenizerFromJson({ ...t, model: { ...t.model, type: 'Unigram' } }), /tokenizer\.json: model\.type: "Unigram" is not supported; only byte-level BPE/);
    assert.throws(() => tokenizerFromJson({ ...t, model: { ...t.model, byte_fallback: true } }), /model\.byte_fallback: a SentencePiece-style BPE/);
    assert.throws(() => tokenizerFromJson({ ...t, pre_tokenizer: { type: 'Metaspace' } }), /pre_tokenizer\.type: pre-tokenizer "Metaspace" is not supported/);
    assert.throws(() => tokenizerFromJson({ ...t, model: { ...t.model, merges: ['Ġ t', 'bad'] } }), /model\.merges\[1\]: expected "left right"/);
    const vocab = { ...t.model.vocab };
    delete vocab['Ā'];
    assert.throws(() => tokenizerFromJson({ ...t, model: { ...t.model, vocab } }), /model\.vocab: has no token for byte 0x00/);
    assert.throws(() => tokenizerFromJson(t, { ...config, eos_token: '<|nope|>' }), /eosToken "<\|nope\|>" is not in the vocabulary/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-bad-'));
    assert.throws(() => loadTokenizer(dir), /tokenizer\.json: not found/);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"model": ');
    assert.throws(() => loadTokenizer(dir), /tokenizer\.json: not valid JSON/);
    const tok = tokenizerFromJson(t, config);
    assert.throws(() => tok.decode([60000]), /id 60000 is not a token of this vocabulary/);
    assert.throws(() => tokenizerFromJson(t, {}).pad, /no PAD token \(set pad_token/);
  });
});
