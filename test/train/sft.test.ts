// The `sft` objective on tiny tensors and real conversations: the masked loss
// and TRL's metrics against hand computation, assistant-only vs every token,
// packed batches giving the separate conversations' losses without crossing,
// the checks that name a record before any step, and the batch source.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder, forward, type Decoder } from '../../kernel-lib/model';
import { builtinTemplate, trainBpe, SftExampleError, type BpeTokenizer } from '../../kernel-lib/text';
import type { Conversation } from '../../kernel-lib/data';
import {
  computeLoss, packSftExamples, packingEfficiency, planPacking, sftBatch, sftBatches, sftExamples, sftMetricSums, sftObjective, SftDataError,
  type SftBatch, type SftRecord,
} from '../../kernel-lib/train';
import { tinyConfig } from '../model/helpers';

const template = builtinTemplate('chatml');
const CORPUS = fs.readFileSync(path.join(__dirname, '../../data/world/corpus.txt'), 'utf8');

function conversation(id: string, messages: [string, string][]): Conversation {
  return { kind: 'conversation', source: 'test.jsonl', id, messages: messages.map(([role, content]) => ({ role: role as 'user', content })) };
}

const RECORDS: Conversation[] = [
  conversation('a', [['user', 'What is 4 + 1?'], ['assistant', '5']]),
  conversation('b', [['system', 'Keep your answers short.'], ['user', 'Sort: pear, fig, apple.'], ['assistant', 'apple, fig, pear']]),
  conversation('c', [['user', 'Spell cat backwards.'], ['assistant', 'tac'], ['user', 'And dog?'], ['assistant', 'god']]),
  conversation('d', [['user', 'Count the letters in moon.'], ['assistant', '4']]),
];

/** The loss, count and summed metrics of one batch, computed by the objective (no gradients). */
function objectiveSums(model: Decoder, batch: SftBatch): { lossSum: number; count: number; entropy: number; correct: number } {
  return tf.tidy(() => {
    const out = sftObjective.loss(model, batch, {});
    return { lossSum: out.lossSum.dataSync()[0], count: out.count, entropy: out.metrics!.entropy.dataSync()[0], correct: out.metrics!.mean_token_accuracy.dataSync()[0] };
  });
}

/** Per-position -log p(target), entropy and argmax, computed in plain JS from the forward's logits. */
function perToken(model: Decoder, batch: SftBatch): { loss: number[]; entropy: number[]; argmax: number[] } {
  const V = model.config.vocab_size;
  const logits = tf.tidy(() => forward(model, tf.tensor2d(batch.inputs, [batch.rows, batch.length], 'int32'), batch.positions ? {
    segmentIds: tf.tensor2d(batch.segments!, [batch.rows, batch.length], 'int32'),
    positions: tf.tensor2d(batch.positions, [batch.rows, batch.length], 'int32'),
  } : {}).logits).dataSync();
  const loss: number[] = [];
  const entropy: number[] = [];
  const argmax: number[] = [];
  for (let i = 0; i < batch.rows * batch.length; i++) {
    const row = Array.from(logits.subarray(i * V, (i + 1) * V));
    const m = Math.max(...row);
    const z = row.reduce((s, x) => s + Math.exp(x - m), 0);
    const logp = row.map((x) => x - m - Math.log(z));
    loss.push(-logp[batch.targets[i]]);
    entropy.push(-logp.reduce((s, l) => s + Math.exp(l) * l, 0));
    argmax.push(row.indexOf(m));
  }
  return { loss, entropy, argmax };
}

describe('train/sft', function () {
  this.timeout(60_000);
  let tok: BpeTokenizer;
  let model: Decoder;
  before(async () => {
    await selectBackend('wasm');
    tok = trainBpe(CORPUS, { vocabSize: 320, specialTokens: ['<|pad|>', '<|eos|>', ...template.specialTokens], padToken: '<|pad|>', eosToken: '<|eos|>', maxChars: 40_000 });
    model = createDecoder(tinyConfig({ vocab_size: tok.vocabSize, max_position_embeddings: 128 }), 4);
  });
  after(() => disposeDecoder(model));

  it('loss, entropy and mean_token_accuracy sums equal hand-computed values on tiny logits', () => {
    // Rows: probabilities (1/6, 2/6, 3/6) with target 2; a masked row; (4/6, 1/6, 1/6) with target 1.
    const logits = tf.tensor2d([[0, Math.log(2), Math.log(3)], [5, 0, 0], [Math.log(4), 0, 0]]);
    const targets = tf.tensor1d([2, 0, 1], 'int32');
    const mask = tf.tensor1d([1, 0, 1]);
    const { entropy, correct } = sftMetricSums(logits, targets, mask);
    const h = (ps: number[]) => -ps.reduce((s, p) => s + p * Math.log(p), 0);
    assert.ok(Math.abs(entropy.dataSync()[0] - (h([1 / 6, 2 / 6, 3 / 6]) + h([4 / 6, 1 / 6, 1 / 6]))) < 1e-5);
    assert.equal(correct.dataSync()[0], 1, 'row 0 argmax 2 = target; row 2 argmax 0 != target 1');
    // Through the objective: a decoder with every weight zero gives logits 0, a uniform
    // distribution: each trained token costs ln V and has entropy ln V, and argmax is id 0.
    const zero = createDecoder(tinyConfig({ vocab_size: 7 }), 1);
    for (const [n, t] of zero.weights) zero.weights.set(n, tf.zerosLike(t)), t.dispose();
    const batch: SftBatch = {
      rows: 2, length: 3, inputs: Int32Array.from([1, 2, 3, 4, 5, 6]), targets: Int32Array.from([2, 0, 4, 0, 0, 6]),
      mask: Float32Array.from([0, 1, 1, 1, 0, 1]), realTokens: 6, numTokens: 8,
    };
    const s = objectiveSums(zero, batch);
    assert.equal(s.count, 4);
    assert.ok(Math.abs(s.lossSum - 4 * Math.log(7)) < 1e-5, `loss sum ${s.lossSum} vs 4 ln 7`);
    assert.ok(Math.abs(s.entropy - 4 * Math.log(7)) < 1e-5, `entropy sum ${s.entropy}`);
    assert.equal(s.correct, 2, 'trained targets equal to id 0: positions 1 and 3');
    disposeDecoder(zero);
    tf.dispose([logits, targets, mask, entropy, correct]);
  });

  it('the objective gives the masked mean of per-token losses, entropy and accuracy (computed in JS)', () => {
    const examples = sftExamples(RECORDS, tok, template, { batchSize: 4 });
    const batch = sftBatch(examples, { padId: tok.pad });
    const s = objectiveSums(model, batch);
    const ref = perToken(model, batch);
    let loss = 0, entropy = 0, correct = 0, count = 0;
    batch.mask!.forEach((m, i) => {
      if (!m) return;
      count++;
      loss += ref.loss[i];
      entropy += ref.entropy[i];
      correct += ref.argmax[i] === batch.targets[i] ? 1 : 0;
    });
    assert.equal(s.count, count);
    assert.ok(Math.abs(s.lossSum - loss) < 1e-3, `loss sum ${s.lossSum} vs ${loss}`);
    assert.ok(Math.abs(s.entropy - entropy) < 1e-3, `entropy sum ${s.entropy} vs ${entropy}`);
    assert.equal(s.correct, correct);
  });

  it('assistantOnlyLoss: true trains the replies and their end of turn; false trains every token', () => {
    const only = sftExamples(RECORDS, tok, template, { batchSize: 4 });
    const all = sftExamples(RECORDS, tok, template, { batchSize: 4, assistantOnlyLoss: false });
    const eot = tok.tokenToId(template.endOfTurn)!;
    only.forEach((e, i) => {
      assert.deepEqual(e.ids, all[i].ids, 'same tokens either way');
      assert.ok(all[i].mask.every((m) => m === 1));
      const trained = e.ids.filter((_, t) => e.mask[t] === 1);
      assert.ok(trained.length < e.ids.length - 1 && trained.includes(eot), `${e.name}: replies only, end of turn among them`);
    });
    const a = sftBatch(only, { padId: tok.pad });
    const b = sftBatch(all, { padId: tok.pad });
    assert.deepEqual(a.inputs, b.inputs);
    const ref = perToken(model, a);
    const sa = objectiveSums(model, a);
    const sb = objectiveSums(model, b);
    assert.equal(sb.count, only.reduce((s, e) => s + e.ids.length - 1, 0), 'every target of every conversation');
    const mean = (keep: (i: number) => boolean) => {
      let s = 0, n = 0;
      ref.loss.forEach((l, i) => keep(i) && ((s += l), n++));
      return s / n;
    };
    assert.ok(Math.abs(sa.lossSum / sa.count - mean((i) => a.mask![i] === 1)) < 1e-4);
    assert.ok(Math.abs(sb.lossSum / sb.count - mean((i) => b.mask![i] === 1)) < 1e-4);
    assert.ok(Math.abs(sa.lossSum / sa.count - sb.lossSum / sb.count) > 1e-3, 'the two losses differ');
  });

  it('prompt-completion records train on the completion (and EOS, or end of turn) only, unless completionOnlyLoss is false', () => {
    const records: SftRecord[] = [
      { kind: 'prompt-completion', source: 'pc.jsonl', id: 'text', prompt: 'The sky is', completion: ' blue.' },
      { kind: 'prompt-completion', source: 'pc.jsonl', id: 'chat', prompt: [{ role: 'user', content: 'Say hi.' }], completion: [{ role: 'assistant', content: 'hi' }] },
    ];
    const [text, chat] = sftExamples(records, tok, template, { batchSize: 2 });
    assert.equal(tok.decode(text.ids.filter((_, t) => text.mask[t] === 1)), ' blue.<|eos|>');
    assert.equal(tok.decode(chat.ids.filter((_, t) => chat.mask[t] === 1)), 'hi<|im_end|>');
    const [textAll] = sftExamples(records, tok, template, { batchSize: 2, completionOnlyLoss: false });
    assert.ok(textAll.mask.every((m) => m === 1));
  });

  it('a packed batch gives the sum of the separate losses and metrics, and no target crosses a conversation', () => {
    const examples = sftExamples(RECORDS, tok, template, { batchSize: 4 });
    const packed = packSftExamples(examples, { rowLength: 128, padId: tok.pad });
    assert.ok(packed.rows < examples.length, 'several conversations share a row');
    const p = objectiveSums(model, packed);
    const sep = examples.map((e) => objectiveSums(model, sftBatch([e], { padId: tok.pad })));
    const sum = (k: keyof typeof p) => sep.reduce((s, x) => s + x[k], 0);
    assert.equal(p.count, sum('count'));
    assert.ok(Math.abs(p.lossSum - sum('lossSum')) < 1e-3, `packed ${p.lossSum} vs separate ${sum('lossSum')}`);
    assert.ok(Math.abs(p.entropy - sum('entropy')) < 1e-3);
    assert.equal(p.correct, sum('correct'));
    // Each segment's targets are its own next tokens; its last target is its own last token.
    const plan = planPacking(examples, { rowLength: 128 });
    for (let r = 0; r < packed.rows; r++) {
      let at = r * packed.length;
      for (const i of plan.rows[r]) {
        const ids = examples[i].ids;
        for (let t = 0; t < ids.length - 1; t++, at++) assert.equal(packed.targets[at], ids[t + 1], `row ${r}, ${examples[i].name}, position ${t}`);
      }
      for (; at < (r + 1) * packed.length; at++) assert.equal(packed.mask![at], 0, `padding at row ${r} is not trained`);
    }
  });

  it('best-fit decreasing packing, and its efficiency', () => {
    const ex = (n: number) => ({ ids: Array.from({ length: n + 1 }, (_, i) => i), mask: Array.from({ length: n + 1 }, () => 1) });
    const examples = [5, 4, 3, 3, 2, 1].map(ex);
    const plan = planPacking(examples, { rowLength: 8 });
    // 5 opens row 0, 4 row 1; the first 3 fits row 0 best (3 left), the second row 1; 2 fits nowhere; 1 fills row 1.
    assert.deepEqual(plan.rows, [[0, 2], [1, 3, 5], [4]]);
    const batch = packSftExamples(examples, { rowLength: 8, padId: 0 });
    assert.equal(packingEfficiency(batch), 18 / 24);
    assert.equal(batch.numTokens, 18 + 6);
    assert.throws(() => packSftExamples([ex(9)], { rowLength: 8, padId: 0, name: () => 'x.jsonl record 7' }), /x\.jsonl record 7: 10 tokens do not fit a row of 8 \+ 1/);
  });

  it('a record that trains no token, or never has its end of turn as a target, fails before the first step, named', () => {
    const noReply = conversation('no-reply', [['user', 'Hello?']]);
    assert.throws(() => sftExamples([RECORDS[0], noReply], tok, template, { batchSize: 1 }), (e: Error) =>
      e instanceof SftExampleError && /test\.jsonl record no-reply \(index 1\).*no assistant reply/.test(e.message));
    const long = conversation('long', [['user', 'Please tell me what the capital of the country in the north of the world is, in one word.'], ['assistant', 'Ice']]);
    const [full] = sftExamples([long], tok, template, { batchSize: 1 });
    const firstTrained = full.mask.indexOf(1);
    // Cut before the reply: nothing left to train on.
    assert.throws(() => sftExamples([RECORDS[0], long], tok, template, { batchSize: 1, maxLength: firstTrained - 1, truncate: true }), (e: Error) =>
      e instanceof SftDataError && /test\.jsonl record long \(index 1\): no token is trained on \(after truncation/.test(e.message));
    // Cut just before the end of turn: the reply trains, but the model would never learn to stop.
    const eotAt = full.ids.lastIndexOf(tok.tokenToId(template.endOfTurn)!);
    assert.ok(eotAt > firstTrained);
    assert.throws(() => sftExamples([long], tok, template, { batchSize: 1, maxLength: eotAt - 1, truncate: true }), (e: Error) =>
      e instanceof SftDataError && /test\.jsonl record long \(index 0\): the end-of-turn token "<\|im_end\|>" is never a target \(after truncation/.test(e.message));
    // Without truncate, too long is an error naming the record.
    assert.throws(() => sftExamples([long], tok, template, { batchSize: 1, maxLength: 8 }), /test\.jsonl record long \(index 0\): \d+ tokens do not fit maxLength 8 \+ 1/);
    // Kept up to and including the end of turn, it trains.
    assert.equal(sftExamples([long], tok, template, { batchSize: 1, maxLength: eotAt, truncate: true })[0].ids.length, eotAt + 1);
  });

  it('a batch source built from examples directly finds untrainable or too long examples before any batch, named', () => {
    const examples = sftExamples(RECORDS, tok, template, { batchSize: 1 });
    const name = (i: number) => `my.jsonl line ${i + 1}`;
    const silent = examples.map((e, i) => (i === 2 ? { ...e, mask: e.mask.map(() => 0) } : e));
    for (const packing of [false, true]) {
      assert.throws(() => sftBatches(silent, { batchSize: 2, padId: tok.pad, packing, maxLength: 120, name }), /my\.jsonl line 3: no target is trained on: the example would add nothing/);
      assert.throws(() => sftBatches(examples, { batchSize: 2, padId: tok.pad, packing, maxLength: 20, name }), /my\.jsonl line \d: \d+ tokens do not fit a row of 20 \+ 1/);
    }
  });

  it('options are checked when the data is built, naming the field', () => {
    assert.throws(() => sftExamples(RECORDS, tok, template, { batchSize: 0 }), /SftConfig\.batchSize: expected a positive integer, got 0/);
    assert.throws(() => sftExamples(RECORDS, tok, template, { batchSize: 2, packing: true }), /SftConfig\.maxLength: packing needs a row length/);
    assert.throws(() => sftExamples(RECORDS, tok, template, { batchSize: 2, maxLength: 2.5 }), /SftConfig\.maxLength: expected a positive integer, got 2\.5/);
    const mixed: SftRecord = { kind: 'prompt-completion', source: 'pc.jsonl', id: 'mixed', prompt: 'Say hi.', completion: [{ role: 'assistant', content: 'hi' }] };
    assert.throws(() => sftExamples([mixed], tok, template, { batchSize: 1 }), /pc\.jsonl record mixed \(index 0\): prompt and completion must both be text or both be messages/);
  });

  it('batches are a pure function of (step, micro), shuffled per epoch, every unit once an epoch', () => {
    const examples = sftExamples([...RECORDS, ...RECORDS, ...RECORDS], tok, template, { batchSize: 1 });
    const rowKey = (b: SftBatch, r: number) => Array.from(b.inputs.subarray(r * b.length, (r + 1) * b.length)).filter((x) => x !== tok.pad).join(',');
    for (const packing of [false, true]) {
      const opts = { batchSize: 1, padId: tok.pad, packing, maxLength: 120, seed: 3, accumulation: 2 };
      const a = sftBatches(examples, opts);
      assert.deepEqual(a.batch(5, 1), sftBatches(examples, opts).batch(5, 1));
      const units = a.unitsPerEpoch;
      // Every unit of the data, as rows of inputs.
      const all = packing
        ? a.plan!.rows.map((_, r) => rowKey(packSftExamples(examples.filter((_, i) => a.plan!.rows[r].includes(i)), { rowLength: 120, padId: tok.pad }), 0))
        : examples.map((e) => e.ids.slice(0, -1).join(','));
      // Unit k of the stream is batch (floor(k / 2), k % 2) with one row a batch.
      const epochOf = (src: typeof a, e: number) => Array.from({ length: units }, (_, j) => rowKey(src.batch(Math.floor((e * units + j) / 2), (e * units + j) % 2), 0));
      const epoch = (e: number) => epochOf(a, e);
      const [first, second] = [epoch(0), epoch(1)];
      if (packing) assert.ok(units < examples.length, 'packed rows hold several conversations');
      assert.deepEqual([...first].sort(), [...all].sort(), `${packing ? 'packed' : 'padded'}: epoch 0 has every unit once`);
      assert.deepEqual([...second].sort(), [...all].sort(), 'so does epoch 1');
      assert.notDeepEqual(second, first, 'in another order');
      assert.notDeepEqual(epochOf(sftBatches(examples, { ...opts, seed: 4 }), 0), first, 'another seed, another order');
    }
  });

  it('split parts of a packed batch keep their segments, positions and token counts', () => {
    const examples = sftExamples(RECORDS, tok, template, { batchSize: 1 });
    const packed = packSftExamples(examples, { rowLength: 100, padId: tok.pad });
    assert.ok(packed.rows >= 2);
    const parts = sftObjective.split(packed, 2);
    assert.equal(parts.reduce((s, p) => s + p.realTokens, 0), packed.realTokens);
    assert.equal(parts.reduce((s, p) => s + p.numTokens, 0), packed.numTokens);
    const sums = parts.map((p) => objectiveSums(model, p));
    const whole = objectiveSums(model, packed);
    assert.ok(Math.abs(sums.reduce((s, x) => s + x.lossSum, 0) - whole.lossSum) < 1e-3);
    assert.equal(computeLoss(model, sftObjective, packed).count, whole.count);
  });
});
