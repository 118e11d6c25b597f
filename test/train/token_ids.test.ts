// Issue 11 item 14: token ids outside the vocabulary. As targets they trained
// silently; as inputs tfjs failed inside GatherV2 naming no row. Every batch
// is now checked where it enters training and evaluation, naming the row,
// position, id and vocabulary size; a target whose mask entry is 0 may hold
// any id (the mask is how a target is skipped).
import * as assert from 'node:assert/strict';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder, type Decoder } from '../../kernel-lib/model';
import { evaluate, lmObjective, sftBatch, train, type BatchSource, type LmBatch } from '../../kernel-lib/train';
import { tinyConfig } from '../model/helpers';
import { base, data, rejection } from './helpers';

/** The first batch of `data` with one entry of `field` changed (rows 4, length 24). */
function edited(field: 'inputs' | 'targets', row: number, position: number, id: number, mask?: Float32Array): LmBatch {
  const b = data.batch(0, 0);
  const copy: LmBatch = { ...b, inputs: b.inputs.slice(), targets: b.targets.slice(), mask };
  copy[field][row * b.length + position] = id;
  return copy;
}
const once = (b: LmBatch): BatchSource<LmBatch> => ({ batch: () => b });

describe('train/token ids', () => {
  let model: Decoder;
  before(async () => {
    await selectBackend('wasm');
    model = createDecoder(tinyConfig(), 2); // vocab_size 61
  });
  after(() => disposeDecoder(model));
  const run = (b: LmBatch) => rejection(train(model, { ...base, steps: 1 }, { objective: lmObjective, data: once(b) }));

  it('an input id past the vocabulary names the step, row, position, id and vocab size', async () => {
    const err = await run(edited('inputs', 2, 5, 61));
    assert.equal(
      err?.message,
      'train: step 0, micro-batch 0: lm batch row 2, position 5: input id 61 is outside the vocabulary [0, 60] (vocab_size 61)',
    );
  });

  it('a negative input id is refused too', async () => {
    const err = await run(edited('inputs', 0, 0, -1));
    assert.match(err?.message ?? '', /lm batch row 0, position 0: input id -1 is outside the vocabulary \[0, 60\]/);
  });

  it('a trained target past the vocabulary is refused instead of training silently', async () => {
    const err = await run(edited('targets', 3, 23, 298));
    assert.match(err?.message ?? '', /row 3, position 23: target id 298 is outside the vocabulary \[0, 60\] \(vocab_size 61\) and the batch has no mask/);
    const mask = new Float32Array(4 * 24).fill(1);
    const masked = await run(edited('targets', 1, 2, -100, mask));
    assert.match(masked?.message ?? '', /row 1, position 2: target id -100 .* and its mask entry is 1; a target not to train on needs mask 0/);
  });

  it('a target skipped by its mask may hold any id, and trains as if it were a valid one', async () => {
    const mask = new Float32Array(4 * 24).fill(1);
    mask[1 * 24 + 2] = 0;
    const ignored = edited('targets', 1, 2, -100, mask);
    const valid = edited('targets', 1, 2, 7, mask);
    const a = createDecoder(tinyConfig(), 5);
    const b = createDecoder(tinyConfig(), 5);
    const ra = await train(a, { ...base, steps: 2 }, { objective: lmObjective, data: once(ignored) });
    const rb = await train(b, { ...base, steps: 2 }, { objective: lmObjective, data: once(valid) });
    assert.deepEqual(ra.history.map((h) => h.loss), rb.history.map((h) => h.loss));
    assert.ok(ra.history.every((h) => Number.isFinite(h.loss)));
    [a, b].forEach(disposeDecoder);
  });

  it('evaluation names the eval batch', () => {
    const good = data.batch(1, 0);
    assert.throws(
      () => evaluate(model, lmObjective, [good, edited('targets', 0, 4, 61)]),
      { message: /^evaluate: eval batch 1: lm batch row 0, position 4: target id 61 is outside the vocabulary \[0, 60\]/ },
    );
  });

  it('an SFT batch names its source', async () => {
    const examples = [
      { ids: [1, 2, 3, 4], mask: [0, 0, 1, 1] },
      { ids: [1, 2, 500, 4], mask: [0, 0, 1, 1] },
    ];
    const err = await run(sftBatch(examples, { padId: 0, source: 'train.jsonl' }));
    assert.match(err?.message ?? '', /^train: step 0, micro-batch 0: train\.jsonl row 1, position 1: target id 500 is outside the vocabulary \[0, 60\] \(vocab_size 61\) and its mask entry is 1/);
  });
});
