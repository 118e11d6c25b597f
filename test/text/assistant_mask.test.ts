// Assistant masks on real tokens: for every built-in template, the tokens the
// mask keeps spell exactly the assistant replies with their end-of-turn
// markers; HF-style Jinja sources give the same masks; and the checks catch
// the mistakes that make instruction tuning silently fail.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BUILTIN_TEMPLATES, assistantMask, buildSftExample, builtinTemplate, checkSftExample, checkTokenizerForTemplate,
  jinjaTemplate, trainBpe, SftExampleError, BpeTokenizer, type ChatMessage, type ChatTemplate,
} from '../../kernel-lib/text';
import { sftBatch } from '../../kernel-lib/train';

const CORPUS = fs.readFileSync(path.join(__dirname, '../../data/corpus/base.txt'), 'utf8');

const CHAT: ChatMessage[] = [
  { role: 'system', content: 'You answer in one short sentence.' },
  { role: 'user', content: 'What does a cow eat?' },
  { role: 'assistant', content: 'A cow eats grass.' },
  { role: 'user', content: 'And where does a fox live?' },
  { role: 'assistant', content: 'A fox lives in a den.' },
];

/** Every marker, BOS and EOS of every built-in family, as special tokens of one tokenizer. */
function markers(): string[] {
  const all = new Set<string>(['<|pad|>']);
  for (const name of BUILTIN_TEMPLATES) {
    const t = builtinTemplate(name);
    for (const m of [...t.specialTokens, t.bosToken, t.eosToken, t.endOfTurn]) if (m) all.add(m);
  }
  return [...all];
}

function maskedText(tok: BpeTokenizer, ids: number[], mask: number[]): string[] {
  // Runs of consecutive masked tokens, decoded.
  const runs: string[] = [];
  let run: number[] = [];
  ids.forEach((id, i) => {
    if (mask[i]) run.push(id);
    else if (run.length) {
      runs.push(tok.decode(run));
      run = [];
    }
  });
  if (run.length) runs.push(tok.decode(run));
  return runs;
}

describe('text/assistant masks', function () {
  this.timeout(60_000);
  let tok: BpeTokenizer;
  before(() => {
    tok = trainBpe(CORPUS, { vocabSize: 700, specialTokens: markers(), bosToken: '<s>', eosToken: '</s>', padToken: '<|pad|>' });
  });

  for (const name of BUILTIN_TEMPLATES) {
    it(`${name}: the masked tokens are exactly the replies and their end-of-turn markers, all turns or the last`, () => {
      const t = builtinTemplate(name);
      const ex = buildSftExample(tok, t, CHAT);
      const replies = ex.spans.map((s) => ex.text.slice(s.start, s.end));
      assert.equal(replies.length, 2);
      assert.ok(replies.every((r) => r.endsWith(t.endOfTurn)));
      assert.deepEqual(maskedText(tok, ex.ids, ex.mask), replies);
      const eot = tok.tokenToId(t.endOfTurn)!;
      assert.equal(ex.ids.filter((id, i) => id === eot && ex.mask[i] === 1).length, 2, 'both end-of-turn tokens are trained on');
      const last = buildSftExample(tok, t, CHAT, { turns: 'last' });
      assert.deepEqual(maskedText(tok, last.ids, last.mask), [replies[1]]);
      assert.deepEqual(last.ids, ex.ids);
    });
  }

  it('Jinja sources of ChatML and Llama-3 (HF style) give the same tokens and masks as the built-ins', () => {
    for (const name of ['chatml', 'llama3'] as const) {
      const builtin = builtinTemplate(name);
      const jinja = jinjaTemplate(builtin.jinja!, { name: `${name} (jinja)`, bosToken: builtin.bosToken, eosToken: builtin.eosToken, endOfTurn: builtin.endOfTurn });
      const a = buildSftExample(tok, builtin, CHAT);
      const b = buildSftExample(tok, jinja as ChatTemplate, CHAT);
      assert.equal(b.text, a.text);
      assert.deepEqual(b.ids, a.ids);
      assert.deepEqual(b.mask, a.mask);
    }
  });

  it('catches BOS written by the template and added again by the tokenizer', () => {
    const llama3 = builtinTemplate('llama3');
    const withBos = trainBpe(CORPUS.slice(0, 50_000), { vocabSize: 420, specialTokens: [...markers()], bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>', padToken: '<|pad|>' });
    // A tokenizer whose post-processor adds BOS, as Llama-3's does.
    const addsBos = new BpeTokenizer({ ...withBos.spec, postProcessor: [{ special: '<|begin_of_text|>' }, { sequence: true }] });
    assert.throws(() => buildSftExample(addsBos, llama3, CHAT, { addSpecialTokens: true }), (e: Error) => e instanceof SftExampleError && /BOS "<\|begin_of_text\|>" appears twice at the start: the template writes it and the tokenizer adds it again/.test(e.message));
    assert.doesNotThrow(() => buildSftExample(addsBos, llama3, CHAT));
  });

  it('catches an end-of-turn marker that is not a special token, and one masked out', () => {
    const bare = trainBpe(CORPUS.slice(0, 50_000), { vocabSize: 400 });
    assert.throws(() => buildSftExample(bare, builtinTemplate('chatml'), CHAT), /end-of-turn marker "<\|im_end\|>" is not a special token of this tokenizer/);
    assert.ok(checkTokenizerForTemplate(bare, builtinTemplate('chatml')).some((p) => /marker "<\|im_start\|>" is not a special token/.test(p)));
    const ex = buildSftExample(tok, builtinTemplate('chatml'), CHAT);
    const eot = tok.tokenToId('<|im_end|>')!;
    // The classic bug: labels masked where input == PAD, with PAD equal to the end-of-turn token.
    const broken = { ...ex, mask: ex.mask.map((m, i) => (ex.ids[i] === eot ? 0 : m)) };
    assert.ok(checkSftExample(tok, builtinTemplate('chatml'), broken).some((p) => /the end-of-turn token "<\|im_end\|>" is masked out, so the model would never learn to stop/.test(p)));
  });

  it('catches PAD equal to EOS or the end-of-turn token', () => {
    const padIsEot = trainBpe(CORPUS.slice(0, 50_000), { vocabSize: 400, specialTokens: ['<|bos|>', '<|im_start|>', '<|im_end|>'], eosToken: '<|im_end|>', padToken: '<|im_end|>' });
    const problems = checkTokenizerForTemplate(padIsEot, builtinTemplate('chatml'));
    assert.ok(problems.some((p) => /PAD equals EOS \("<\|im_end\|>"\): masking labels where input == PAD would also mask every end of turn/.test(p)), problems.join('\n'));
    assert.deepEqual(checkTokenizerForTemplate(tok, builtinTemplate('chatml')), []);
  });

  it('refuses an example that would train on nothing, and a batch row with no assistant target', () => {
    assert.throws(() => buildSftExample(tok, builtinTemplate('chatml'), CHAT.slice(0, 2)), /no assistant reply in the conversation: the loss mask is all zeros/);
    const good = buildSftExample(tok, builtinTemplate('chatml'), CHAT);
    const empty = { ids: good.ids, mask: good.mask.map(() => 0) };
    assert.throws(() => sftBatch([good, empty], { padId: tok.pad, source: 'train.jsonl' }), /train\.jsonl row 1: no assistant token among its targets: the row would train on nothing/);
    // Truncation that cuts every reply away is caught too.
    assert.throws(() => sftBatch([good], { padId: tok.pad, length: 8, truncate: true }), /row 0: no assistant token among its targets after truncation/);
  });

  it('a system message to a family without a system role is merged and reported', () => {
    const ex = buildSftExample(tok, builtinTemplate('gemma'), CHAT);
    assert.match(ex.warnings.join('\n'), /gemma has no system role: message 0 is a system message; it was merged into the first user turn/);
    assert.throws(() => buildSftExample(tok, builtinTemplate('gemma'), CHAT, { render: { system: 'error' } }), /gemma/);
  });

  it('packs examples into an lm batch: targets shifted by one, the mask on targets, padding masked by length', () => {
    const t = builtinTemplate('chatml');
    const a = buildSftExample(tok, t, CHAT);
    const b = buildSftExample(tok, t, CHAT.slice(0, 3));
    const batch = sftBatch([a, b], { padId: tok.pad });
    const L = batch.length;
    assert.equal(L, a.ids.length - 1);
    for (let i = 0; i < L; i++) {
      assert.equal(batch.inputs[i], a.ids[i]);
      assert.equal(batch.targets[i], a.ids[i + 1]);
      assert.equal(batch.mask![i], a.mask[i + 1]);
    }
    const nb = b.ids.length - 1;
    for (let i = nb; i < L; i++) {
      assert.equal(batch.inputs[L + i], tok.pad);
      assert.equal(batch.mask![L + i], 0);
    }
    assert.equal([...batch.mask!.subarray(L, 2 * L)].reduce((x, y) => x + y, 0), b.mask.slice(1).reduce((x, y) => x + y, 0));
    assert.deepEqual(assistantMask({ offsets: a.offsets }, a.spans, 'all'), a.mask);
  });
});
