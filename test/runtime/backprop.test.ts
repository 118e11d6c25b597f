// runtime/backprop: the gradient walk that frees as it goes gives
// tf.valueAndGrads's value and gradients to the bit (a decoder's loss, with
// and without LoRA and gradient checkpointing), holds less memory during the
// backward pass, leaks nothing, leaves the caller's dy alone, and names an
// input the value does not depend on.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { valueAndGradients } from '../../kernel-lib/runtime/backprop';
import { addLora, createDecoder, disposeDecoder, type Decoder } from '../../kernel-lib/model';
import { lmObjective, type LmBatch } from '../../kernel-lib/train';
import { trainableMap, withTrainable } from '../../kernel-lib/train/params';
import { tinyConfig } from '../model/helpers';

/** Bytes held (tf.memory) when the gradient reaches this point of the backward pass, recorded into `log`. */
function probe(x: tf.Tensor, log: number[]): tf.Tensor {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => {
      log.push(tf.memory().numBytes);
      return [tf.clone(dy)];
    },
  }))(x);
}

describe('runtime/backprop: gradients that free memory as they go', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  for (const lora of [false, true]) {
    for (const gradientCheckpointing of [false, true]) {
      it(`a decoder's loss${lora ? ' with LoRA' : ''}${gradientCheckpointing ? ', checkpointed' : ''}: tf.valueAndGrads's value and gradients to the bit`, () => {
        const model: Decoder = createDecoder(tinyConfig({ num_hidden_layers: 3 }), 3);
        if (lora) {
          addLora(model, { rank: 4, alpha: 12, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, 1);
          // B starts at zero; give it values so that every product carries gradient.
          for (const [name, t] of model.lora!.tensors) if (name.endsWith('lora_B')) model.lora!.tensors.set(name, tf.randomNormal(t.shape, 0, 0.3, 'float32', 7));
        }
        const map = trainableMap(model);
        const names = [...map.keys()];
        const inputs = [...map.values()];
        const T = 12;
        const batch: LmBatch = { rows: 2, length: T, inputs: Int32Array.from({ length: 2 * T }, (_, i) => (i * 7) % 61), targets: Int32Array.from({ length: 2 * T }, (_, i) => (i * 11 + 3) % 61) };
        const loss = (...xs: tf.Tensor[]) => lmObjective.loss(withTrainable(model, names, xs), batch, { gradientCheckpointing }).lossSum;
        const want = tf.valueAndGrads(loss)(inputs);
        const got = valueAndGradients(() => loss(...inputs), inputs);
        assert.deepEqual(got.value.dataSync(), want.value.dataSync(), 'value');
        names.forEach((name, i) => assert.deepEqual(got.grads[i].dataSync(), want.grads[i].dataSync(), `gradient of ${name}`));
        tf.dispose([want.value, ...want.grads, got.value, ...got.grads]);
        disposeDecoder(model);
      });
    }
  }

  it('holds less memory late in the backward pass than tf.valueAndGrads', () => {
    const w = tf.randomNormal([256, 256], 0, 0.05, 'float32', 1);
    const x = tf.randomNormal([256, 256], 0, 1, 'float32', 2);
    // 16 layers of tanh(h W); the probe sits at the bottom, reached last.
    const f = (log: number[]) => (xx: tf.Tensor) => {
      let h = probe(xx, log);
      for (let i = 0; i < 16; i++) h = tf.tanh(tf.matMul(h, w));
      return tf.sum(h);
    };
    const tfjsLog: number[] = [], ourLog: number[] = [];
    const before = tf.memory().numBytes;
    tf.dispose(tf.valueAndGrads(f(tfjsLog))([x]).grads);
    tf.dispose(valueAndGradients(() => f(ourLog)(x), [x]).grads);
    const layer = 256 * 256 * 4;
    // tfjs still holds every layer's saved tensors and gradients there; this walk has freed them.
    assert.ok(tfjsLog[0] - before > 40 * layer, `tf.valueAndGrads held ${((tfjsLog[0] - before) / layer).toFixed(1)} layers' worth`);
    assert.ok(ourLog[0] - before < 8 * layer, `valueAndGradients held ${((ourLog[0] - before) / layer).toFixed(1)} layers' worth`);
    tf.dispose([w, x]);
  });

  it('leaks no tensors, and leaves the caller\'s dy alone', () => {
    const x = tf.randomNormal([8, 8], 0, 1, 'float32', 3);
    const dy = tf.ones([8, 8]);
    const f = () => tf.tanh(tf.matMul(x, x));
    tf.dispose(Object.values(valueAndGradients(f, [x], dy)).flat());
    const count = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { value, grads } = valueAndGradients(f, [x], dy);
      tf.dispose([value, ...grads]);
    }
    assert.equal(tf.memory().numTensors, count);
    assert.equal(dy.isDisposed, false);
    assert.deepEqual(dy.dataSync(), new Float32Array(64).fill(1));
    tf.dispose([x, dy]);
  });

  it('names an input the value does not depend on', () => {
    const x = tf.ones([2]), unused = tf.ones([3]);
    assert.throws(() => valueAndGradients(() => tf.sum(tf.mul(x, 2)), [x, unused]), /does not depend on input 1 \(shape \[3\]\)/);
    tf.dispose([x, unused]);
  });
});
