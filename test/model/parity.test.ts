// Parity with an independent PyTorch implementation of LlamaForCausalLM
// (scripts/reference/llama_reference.py): the same checkpoint gives the same
// logits there and here, in both directions of saving. Runs where a python3
// with torch is found (Debian: python3-torch; .ci/run installs it).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder, forward, loadCheckpoint, saveCheckpoint, toHFConfig, type Decoder } from '../../kernel-lib/model';
import { findTorchPython, runReference } from '../../scripts/reference/python';
import { assertClose, tinyConfig } from './helpers';

const ids = [[1, 9, 17, 25, 33, 41, 49, 57, 2, 4, 6, 8], [60, 59, 58, 3, 5, 7, 11, 13, 17, 19, 23, 29]];

function ours(model: Decoder, rows: number[][], mask?: number[][]): Float32Array {
  return tf.tidy(() => {
    const options = mask
      ? {
          keyMask: tf.tensor2d(mask, undefined, 'int32'),
          positions: tf.tensor2d(mask.map((r) => { let p = -1; return r.map((m) => Math.max(0, (p += m))); }), undefined, 'int32'),
        }
      : {};
    return forward(model, tf.tensor2d(rows, undefined, 'int32'), options).logits;
  }).dataSync() as Float32Array;
}

function theirs(python: string, dir: string, rows: number[][], mask?: number[][]): Float32Array {
  const args = ['logits', '--checkpoint', dir, '--ids', JSON.stringify(rows)];
  if (mask) args.push('--mask', JSON.stringify(mask));
  const { logits } = runReference(python, args) as { logits: number[][][] };
  return Float32Array.from(logits.flat(2));
}

describe('model/parity with PyTorch', function () {
  this.timeout(120000);
  let python: string | null;
  let dir: string;
  before(async function () {
    python = findTorchPython();
    if (!python) {
      console.log('      SKIPPED: no python3 with torch found ($WORKBOOK_PYTHON, /usr/bin/python3, python3); install Debian\'s python3-torch to run the parity test');
      this.skip();
    }
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parity-'));
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it('a checkpoint saved here gives the same logits in PyTorch (GQA, untied head)', () => {
    const model = createDecoder(tinyConfig(), 21);
    // Norm weights away from 1 so a misplaced norm would show.
    for (const [name, t] of model.weights) {
      if (name.endsWith('norm.weight')) { model.weights.set(name, tf.add(t, tf.randomUniform(t.shape, -0.5, 0.5, 'float32', 3))); t.dispose(); }
    }
    const out = path.join(dir, 'ours');
    saveCheckpoint(out, model);
    assertClose(ours(model, ids), theirs(python!, out, ids), 2e-5, 'logits');
    const mask = [[0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]];
    const a = ours(model, ids, mask);
    const b = theirs(python!, out, ids, mask);
    const V = model.config.vocab_size;
    // Compare real (unpadded) positions only: padded queries are undefined in both.
    assertClose(a.subarray(3 * V), b.subarray(3 * V), 2e-5, 'left-padded logits');
    disposeDecoder(model);
  });

  it('a checkpoint made by PyTorch loads here and gives its logits (tied embeddings, MHA)', () => {
    const out = path.join(dir, 'theirs');
    const config = { ...toHFConfig(tinyConfig({ tie_word_embeddings: true, num_key_value_heads: 4, rope_theta: 500000 })) };
    runReference(python!, ['make-checkpoint', '--config-json', JSON.stringify(config), '--out', out, '--seed', '5']);
    const { model } = loadCheckpoint(out);
    assertClose(ours(model, ids), theirs(python!, out, ids), 2e-5, 'logits');
    disposeDecoder(model);
  });

  it('the same checkpoint with config.json in transformers 5\'s form (rope_parameters) gives the same logits', () => {
    const out = path.join(dir, 'theirs-v5');
    const config: Record<string, unknown> = { ...toHFConfig(tinyConfig({ num_key_value_heads: 4, rope_theta: 500000 })) };
    runReference(python!, ['make-checkpoint', '--config-json', JSON.stringify(config), '--out', out, '--seed', '6']);
    const file = path.join(out, 'config.json');
    const { rope_theta, rope_scaling, ...rest } = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(rope_scaling, null);
    fs.writeFileSync(file, JSON.stringify({ ...rest, rope_parameters: { rope_type: 'default', rope_theta } }));
    const { model } = loadCheckpoint(out);
    assert.equal(model.config.rope_theta, 500000);
    assertClose(ours(model, ids), theirs(python!, out, ids), 2e-5, 'logits');
    disposeDecoder(model);
  });
});
