// Packed rows: several conversations in one row, kept apart by segment ids.
// Each conversation's logits in a packed row equal its logits run alone
// (attention stays inside its segment, positions restart at 0), with
// grouped-query and plain multi-head attention, tied and untied heads.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder, forward, type Decoder, type ModelConfig } from '../../kernel-lib/model';
import { segmentPositions } from '../../kernel-lib/model/decoder';
import { packSftExamples } from '../../kernel-lib/train';
import { assertClose, tinyConfig } from './helpers';

/** Conversations of different lengths (ids only; masks are not read by the forward). */
const CONVERSATIONS = [
  [3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 32, 38, 4],
  [27, 18, 28, 18, 28, 45, 9],
  [1, 41, 42, 13, 56],
  [60, 2, 4, 8, 16, 32, 3, 6, 12, 24, 48],
  [11, 22, 33],
];
const examples = CONVERSATIONS.map((ids) => ({ ids, mask: ids.map(() => 1) }));

function aloneLogits(model: Decoder, ids: number[]): Float32Array {
  return tf.tidy(() => forward(model, tf.tensor2d([ids], undefined, 'int32')).logits).dataSync() as Float32Array;
}

function packedLogits(model: Decoder, rows: number, length: number, inputs: Int32Array, segments: Int32Array, positions?: Int32Array): Float32Array {
  return tf.tidy(() => forward(model, tf.tensor2d(inputs, [rows, length], 'int32'), {
    segmentIds: tf.tensor2d(segments, [rows, length], 'int32'),
    positions: positions && tf.tensor2d(positions, [rows, length], 'int32'),
  }).logits).dataSync() as Float32Array;
}

const cases: [string, Partial<ModelConfig>][] = [
  ['grouped-query attention (4 heads, 2 key heads), untied head', {}],
  ['multi-head attention (4 key heads), tied embeddings', { num_key_value_heads: 4, tie_word_embeddings: true }],
  ['one key head for 4 query heads', { num_key_value_heads: 1 }],
];

describe('model/packing', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  for (const [what, overrides] of cases) {
    it(`a packed row gives each conversation its logits run alone: ${what}`, () => {
      const model = createDecoder(tinyConfig(overrides), 5);
      const V = model.config.vocab_size;
      // Rows of 20 slots hold the 5 conversations (35 slots) in 2 rows with padding.
      const batch = packSftExamples(examples, { rowLength: 20, padId: 0 });
      assert.equal(batch.rows, 2);
      const { rows, length, inputs, segments, positions } = batch;
      const withPositions = packedLogits(model, rows, length, inputs, segments!, positions);
      const derived = packedLogits(model, rows, length, inputs, segments!);
      assertClose(derived, withPositions, 0, 'positions derived from segmentIds vs given');
      let checked = 0;
      for (let r = 0; r < rows; r++) {
        for (let s = 1; ; s++) {
          const at: number[] = [];
          for (let t = 0; t < length; t++) if (segments![r * length + t] === s) at.push(t);
          if (at.length === 0) break;
          const ids = Array.from(at, (t) => inputs[r * length + t]);
          const alone = aloneLogits(model, ids);
          const packed = new Float32Array(at.length * V);
          at.forEach((t, j) => packed.set(withPositions.subarray((r * length + t) * V, (r * length + t + 1) * V), j * V));
          assertClose(packed, alone, 1e-5, `row ${r} segment ${s} (${ids.length} tokens)`);
          checked++;
        }
      }
      assert.equal(checked, CONVERSATIONS.length, 'every conversation was found in the packed rows');
      disposeDecoder(model);
    });
  }

  it('changing one conversation leaves the others in its row unchanged', () => {
    const model = createDecoder(tinyConfig(), 6);
    const a = packSftExamples(examples.slice(0, 3), { rowLength: 40, padId: 0 });
    const changed = examples.slice(0, 3).map((e, i) => (i === 1 ? { ids: e.ids.map((x) => (x * 7 + 3) % 61), mask: e.mask } : e));
    const b = packSftExamples(changed, { rowLength: 40, padId: 0 });
    assert.deepEqual(a.segments, b.segments);
    const la = packedLogits(model, 1, a.length, a.inputs, a.segments!, a.positions);
    const lb = packedLogits(model, 1, b.length, b.inputs, b.segments!, b.positions);
    const V = model.config.vocab_size;
    let differs = false;
    for (let t = 0; t < a.length; t++) {
      const slice = (x: Float32Array) => x.subarray(t * V, (t + 1) * V);
      if (a.segments![t] === 2) differs ||= Math.max(...slice(la).map((v, k) => Math.abs(v - slice(lb)[k]))) > 1e-3;
      else assertClose(slice(lb), slice(la), 0, `position ${t} (segment ${a.segments![t]})`);
    }
    assert.ok(differs, 'the changed conversation itself has other logits');
    disposeDecoder(model);
  });

  it('positions restart at 0 per segment; a segment split in two, a cache or a wrong shape is refused', () => {
    assert.deepEqual(Array.from(segmentPositions([1, 1, 1, 2, 2, 0, 0, 1, 2, 2, 3, 0], 2, 6)), [0, 1, 2, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
    assert.throws(() => segmentPositions([1, 1, 2, 1], 1, 4), /segmentIds row 0: segment 1 appears again at position 3/);
    const model = createDecoder(tinyConfig(), 5);
    const ids = tf.tensor2d([[1, 2, 3, 4]], undefined, 'int32');
    const seg = tf.tensor2d([[1, 1, 2, 2]], undefined, 'int32');
    assert.throws(() => forward(model, ids, { segmentIds: seg, returnCache: true, cache: { keys: [], values: [] } }), /segmentIds cannot be combined with a cache/);
    assert.throws(() => forward(model, ids, { segmentIds: tf.tensor2d([[1, 1, 2]], undefined, 'int32') }), /segmentIds has shape \[1,3\], expected \[1, 4\]/);
    tf.dispose([ids, seg]);
    disposeDecoder(model);
  });

  it('a packed row longer than max_position_embeddings runs when each conversation fits', () => {
    const model = createDecoder(tinyConfig({ max_position_embeddings: 16 }), 5);
    const batch = packSftExamples(examples, { rowLength: 40, padId: 0 });
    assert.ok(batch.length > 16);
    const logits = packedLogits(model, batch.rows, batch.length, batch.inputs, batch.segments!, batch.positions);
    assert.ok(logits.every(Number.isFinite));
    disposeDecoder(model);
  });
});
