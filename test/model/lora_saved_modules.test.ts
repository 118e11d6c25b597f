// Full weights trained beside LoRA adapters (PEFT's modules_to_save; here a
// reward model's score head): the adapter files carry them as PEFT writes
// them, loading brings them back, and merging or removing the adapters keeps
// the trained copy in the model, as PEFT's merge_and_unload and unload do.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import {
  addRewardLora, addScoreHead, createDecoder, disposeDecoder, encodeSafetensors, hasScoreHead, loadAdapters, mergeLora, mergeRewardLora, readSafetensors,
  removeLora, saveAdapters, saveRewardAdapters, scoreHead, sequenceScores, type Decoder,
} from '../../kernel-lib/model';
import { assertClose, tinyConfig } from './helpers';

const rows = { ids: [[3, 9, 27, 20, 0, 0], [5, 1, 44, 17, 8, 2], [33, 0, 0, 0, 0, 0]], lengths: [4, 6, 1] };
const scoresOf = (model: Decoder) =>
  tf.tidy(() => Array.from(sequenceScores(model, tf.tensor2d(rows.ids, undefined, 'int32'), rows.lengths).dataSync()));

/** A LoRA reward model on the base of `seed`, with adapters and head moved away from their start so that both change the scores. */
function trainedRewardLora(seed: number): Decoder {
  const model = createDecoder(tinyConfig(), seed);
  addScoreHead(model, { seed, std: 1 });
  addRewardLora(model, { rank: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj', 'down_proj'] }, seed);
  const lora = model.lora!;
  for (const [name, t] of lora.tensors) {
    if (name.endsWith('lora_B') || name === 'score.weight') {
      lora.tensors.set(name, tf.add(t, tf.randomNormal(t.shape, 0, 0.3, 'float32', seed)));
      t.dispose();
    }
  }
  return model;
}

describe('model/lora: weights saved beside the adapters (modules_to_save)', () => {
  let dir: string;
  before(async () => {
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-saved-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('saveAdapters writes the head as PEFT does, and loadAdapters on the causal LM base gives identical scores', () => {
    const model = trainedRewardLora(2);
    const want = scoresOf(model);
    const out = path.join(dir, 'adapters');
    saveAdapters(out, model);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    assert.deepEqual(config.modules_to_save, ['score']);
    assert.equal(config.task_type, 'SEQ_CLS');
    const stored = readSafetensors(path.join(out, 'adapter_model.safetensors')).tensors;
    assert.deepEqual(stored.get('base_model.model.score.weight')!.shape, [1, 32]);
    assert.deepEqual(stored.get('base_model.model.score.weight')!.data, scoreHead(model).dataSync());

    const base = createDecoder(tinyConfig(), 2); // the same base weights, no head
    assert.ok(!hasScoreHead(base));
    loadAdapters(out, base);
    assert.ok(base.lora!.tensors.has('score.weight') && !base.weights.has('score.weight'), 'the head trains beside the adapters');
    assert.deepEqual(scoresOf(base), want);
    [model, base].forEach(disposeDecoder);
  });

  it('saveRewardAdapters writes the same files as saveAdapters', () => {
    const model = trainedRewardLora(3);
    saveAdapters(path.join(dir, 'plain'), model);
    saveRewardAdapters(path.join(dir, 'reward'), model);
    for (const file of ['adapter_config.json', 'adapter_model.safetensors']) {
      assert.deepEqual(fs.readFileSync(path.join(dir, 'reward', file)), fs.readFileSync(path.join(dir, 'plain', file)), file);
    }
    disposeDecoder(model);
  });

  it('mergeLora and removeLora keep the trained head among the weights', () => {
    const merged = trainedRewardLora(4);
    const want = scoresOf(merged);
    const head = Float32Array.from(scoreHead(merged).dataSync());
    mergeLora(merged);
    assert.equal(merged.lora, undefined);
    assert.deepEqual(merged.weights.get('score.weight')!.dataSync(), head);
    assertClose(scoresOf(merged), want, 1e-4, 'merged scores');

    const removed = trainedRewardLora(4);
    removeLora(removed);
    assert.deepEqual(removed.weights.get('score.weight')!.dataSync(), head, 'the trained head, not the one from before addRewardLora');
    const plain = createDecoder(tinyConfig(), 4);
    plain.weights.set('score.weight', tf.tensor2d(head, [32, 1]));
    assert.deepEqual(scoresOf(removed), scoresOf(plain), 'no adapter left, the trained head kept');

    const viaReward = trainedRewardLora(4);
    mergeRewardLora(viaReward);
    assert.deepEqual(scoresOf(viaReward), scoresOf(merged));
    [merged, removed, plain, viaReward].forEach(disposeDecoder);
  });

  it('refuses a saved module it cannot use, and a head tensor of the wrong shape, naming them', () => {
    const model = trainedRewardLora(5);
    const out = path.join(dir, 'edited');
    saveAdapters(out, model);
    const configFile = path.join(out, 'adapter_config.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    fs.writeFileSync(configFile, JSON.stringify({ ...config, modules_to_save: ['score', 'lm_head'] }));
    const target = createDecoder(tinyConfig(), 5);
    assert.throws(() => loadAdapters(out, target), /adapter_config\.json: modules_to_save names "lm_head".*only "score"/);
    // Without "score" in modules_to_save, the head tensor is not expected: refused as extra.
    fs.writeFileSync(configFile, JSON.stringify({ ...config, modules_to_save: null }));
    assert.throws(() => loadAdapters(out, target), /tensors not matching target_modules .*: base_model\.model\.score\.weight/);
    assert.equal(target.lora, undefined);
    // A head of the wrong shape.
    fs.writeFileSync(configFile, JSON.stringify(config));
    const file = path.join(out, 'adapter_model.safetensors');
    const stored = readSafetensors(file).tensors;
    stored.set('base_model.model.score.weight', { shape: [2, 32], data: new Float32Array(64) });
    fs.writeFileSync(file, encodeSafetensors(stored, { format: 'pt' }));
    assert.throws(() => loadAdapters(out, target), /adapter_model\.safetensors: tensor "base_model\.model\.score\.weight" has shape \[2,32\], expected \[1,32\]/);
    assert.equal(target.lora, undefined);
    [model, target].forEach(disposeDecoder);
  });
});
