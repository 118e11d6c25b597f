import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { checkTensorLeaks, selectBackend } from '../../kernel-lib/runtime';

describe('runtime/leaks', () => {
  before(() => selectBackend('wasm'));

  it('passes a step that frees what it makes', async () => {
    const w = tf.variable(tf.ones([4, 4]));
    const result = await checkTensorLeaks(() => tf.tidy(() => w.assign(w.matMul(w).div(4))), { steps: 4 });
    assert.deepEqual(result.after, [result.before, result.before, result.before, result.before]);
    w.dispose();
  });

  it('fails a step that leaks, naming it and the growth per step', async () => {
    const kept: tf.Tensor[] = [];
    await assert.rejects(
      checkTensorLeaks(() => kept.push(tf.ones([2]).add(1)), { steps: 3, label: 'leaky step' }),
      /tensor leak in leaky step: (\d+) tensors alive after warm-up, then .* \(\+2\.0 per step\)/,
    );
    kept.forEach((t) => t.dispose());
  });
});
