// A checkpoint folder's index and config.json are input too: shard names
// must stay inside the folder and be regular files, and config sizes are
// checked (bounds, then against the tensors present) before anything is
// allocated by them. Each crafted case must fail with a named error, or load
// without allocating beyond the checkpoint's own size.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder, encodeSafetensors, forward, loadCheckpoint, readSafetensors, saveCheckpoint, type Decoder } from '../../kernel-lib/model';
import { assertClose, tinyConfig } from './helpers';

/** Splits a saved model.safetensors into two shards with an index, the way transformers lays them out. */
function shard(dir: string, names: [string, string] = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']): Record<string, string> {
  const { tensors, metadata } = readSafetensors(path.join(dir, 'model.safetensors'));
  fs.rmSync(path.join(dir, 'model.safetensors'));
  const parts = [new Map(), new Map()] as Map<string, { shape: number[]; data: Float32Array }>[];
  const weightMap: Record<string, string> = {};
  for (const [name, t] of tensors) {
    const i = name.startsWith('model.layers.1.') || name === 'lm_head.weight' ? 1 : 0;
    parts[i].set(name, t);
    weightMap[name] = names[i];
  }
  parts.forEach((p, i) => fs.writeFileSync(path.join(dir, path.basename(names[i])), encodeSafetensors(p, metadata)));
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return weightMap;
}

function writeIndex(dir: string, weightMap: Record<string, unknown>): void {
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
}

function editConfig(dir: string, change: Record<string, unknown>): void {
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), ...change }));
}

describe('model/checkpoint inputs: index and config.json', () => {
  let root: string;
  let model: Decoder;
  let n = 0;
  const fresh = (): string => {
    const dir = path.join(root, `m${n++}`);
    saveCheckpoint(dir, model);
    return dir;
  };
  before(async () => {
    await selectBackend('wasm');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ckin-'));
    model = createDecoder(tinyConfig(), 4);
  });
  after(() => {
    disposeDecoder(model);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('a sharded checkpoint loads with the same logits as the single file', () => {
    const dir = fresh();
    shard(dir);
    const { model: back } = loadCheckpoint(dir);
    const ids = tf.tensor2d([[1, 2, 3, 4]], undefined, 'int32');
    assertClose(forward(back, ids).logits.dataSync(), forward(model, ids).logits.dataSync(), 0, 'logits');
    ids.dispose();
    disposeDecoder(back);
  });

  it('refuses shard names that leave the folder: parent paths, absolute paths, devices', () => {
    const dir = fresh();
    const map = shard(dir);
    const index = path.join(dir, 'model.safetensors.index.json');
    for (const bad of ['../../etc/passwd', '/etc/passwd', '/dev/zero', `../${path.basename(dir)}/../x.safetensors`]) {
      writeIndex(dir, { ...map, 'model.norm.weight': bad });
      assert.throws(() => loadCheckpoint(dir), (e: Error) => {
        assert.equal(e.message, `${index}: file "${bad}" lies outside the model folder ${dir}; only files inside it are read`);
        return true;
      });
    }
    for (const bad of [3, null, '']) {
      writeIndex(dir, { ...map, 'model.norm.weight': bad });
      assert.throws(() => loadCheckpoint(dir), new RegExp(`${index}: weight_map "model\\.norm\\.weight" must name a shard file|file name "" must be a non-empty string`));
    }
    writeIndex(dir, { ...map, 'model.norm.weight': '.' });
    assert.throws(() => loadCheckpoint(dir), /lies outside the model folder|must be a regular file, but it is a folder/);
  });

  it('refuses a shard that is a symlink out of the folder, or to a device, or a folder', () => {
    const dir = fresh();
    shard(dir);
    const outside = path.join(root, 'outside.safetensors');
    fs.copyFileSync(path.join(dir, 'model-00002-of-00002.safetensors'), outside);
    const link = path.join(dir, 'model-00002-of-00002.safetensors');
    fs.rmSync(link);
    fs.symlinkSync(outside, link);
    assert.throws(() => loadCheckpoint(dir), new RegExp(`file "model-00002-of-00002\\.safetensors" is a link to ${outside.replace(/[.]/g, '\\.')}, outside the model folder`));
    fs.rmSync(link);
    fs.symlinkSync('/dev/zero', link);
    assert.throws(() => loadCheckpoint(dir), /is a link to \/dev\/zero, outside the model folder/);
    fs.rmSync(link);
    fs.mkdirSync(link);
    assert.throws(() => loadCheckpoint(dir), /model-00002-of-00002\.safetensors: safetensors file must be a regular file, but it is a folder/);
    fs.rmdirSync(link);
    // A symlink that stays inside the folder is fine.
    fs.renameSync(outside, path.join(dir, 'real.safetensors'));
    fs.symlinkSync('real.safetensors', link);
    disposeDecoder(loadCheckpoint(dir).model);
  });

  it('follows the symlinks of a Hugging Face cache snapshot into its blobs folder', () => {
    const repo = path.join(root, 'models--tiny');
    const src = fresh();
    shard(src);
    const snapshot = path.join(repo, 'snapshots', 'abc123');
    fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
    fs.mkdirSync(snapshot, { recursive: true });
    for (const name of fs.readdirSync(src)) {
      fs.renameSync(path.join(src, name), path.join(repo, 'blobs', `blob-${name}`));
      fs.symlinkSync(`../../blobs/blob-${name}`, path.join(snapshot, name));
    }
    disposeDecoder(loadCheckpoint(snapshot).model);
  });

  it('refuses an index that does not match its shards', () => {
    const dir = fresh();
    const map = shard(dir);
    const index = path.join(dir, 'model.safetensors.index.json');
    writeIndex(dir, { ...map, 'model.norm.weight': 'model-00002-of-00002.safetensors' });
    assert.throws(() => loadCheckpoint(dir), new RegExp(`${index}: tensor "model\\.norm\\.weight" is listed in shard "model-00002-of-00002\\.safetensors" but found in`));
    fs.writeFileSync(index, '{"weight_map": [1]}');
    assert.throws(() => loadCheckpoint(dir), /"weight_map" must be an object of tensor name -> shard file/);
    fs.rmSync(index);
    fs.symlinkSync('/dev/zero', index);
    assert.throws(() => loadCheckpoint(dir), /is a link to \/dev\/zero, outside the model folder/);
  });

  it('refuses a config.json that is a device, or absurdly large', () => {
    const dir = fresh();
    const config = path.join(dir, 'config.json');
    fs.rmSync(config);
    fs.symlinkSync('/dev/zero', config);
    assert.throws(() => loadCheckpoint(dir), /config\.json" is a link to \/dev\/zero, outside the model folder|config\.json: config\.json must be a regular file/);
    fs.rmSync(config);
    fs.writeFileSync(config, '');
    fs.truncateSync(config, (64 << 20) + 1); // sparse
    assert.throws(() => loadCheckpoint(dir), /config\.json: config\.json is 67108865 bytes; more than the 67108864 a JSON file of a model may have/);
  });

  it('refuses config sizes beyond sane bounds by name, before sizing anything by them', () => {
    const dir = fresh();
    const file = path.join(dir, 'config.json');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ num_hidden_layers: 1e8 }, /"num_hidden_layers" is 100000000, above the limit of 1024/],
      [{ max_position_embeddings: 1e9 }, /"max_position_embeddings" is 1000000000, above the limit of 16777216/],
      [{ vocab_size: 2 ** 40 }, /"vocab_size" is 1099511627776, above the limit/],
      [{ head_dim: 1 << 11 }, /"head_dim" is 2048, above the limit of 1024/],
      [{ hidden_size: 1.5 }, /"hidden_size" must be a positive integer, got 1\.5/],
      [{ num_attention_heads: -4 }, /"num_attention_heads" must be a positive integer, got -4/],
      [{ intermediate_size: '48' }, /"intermediate_size" must be a number, got "48"/],
    ];
    const saved = fs.readFileSync(file, 'utf8');
    for (const [change, error] of cases) {
      fs.writeFileSync(file, saved);
      editConfig(dir, change);
      const before = tf.memory().numTensors;
      assert.throws(() => loadCheckpoint(dir), (e: Error) => {
        assert.ok(e.message.startsWith(`${file}: `), e.message);
        assert.match(e.message, error);
        return true;
      });
      assert.equal(tf.memory().numTensors, before);
    }
  });

  it('checks num_hidden_layers against the layers the files hold before reading a tensor', () => {
    const dir = fresh();
    for (const layers of [3, 1, 1000]) {
      editConfig(dir, { num_hidden_layers: layers });
      const before = tf.memory().numTensors;
      assert.throws(() => loadCheckpoint(dir), new RegExp(`config\\.json: num_hidden_layers is ${layers} but the checkpoint's tensors hold 2 layers`));
      assert.equal(tf.memory().numTensors, before, 'no tensor was made');
    }
  });

  it('a huge max_position_embeddings loads at once and builds rotary tables only for the lengths used', () => {
    const dir = fresh();
    editConfig(dir, { max_position_embeddings: 4_000_000 });
    const before = tf.memory().numBytes;
    const { model: back } = loadCheckpoint(dir);
    const size = fs.statSync(path.join(dir, 'model.safetensors')).size;
    // Weights plus small constant tables; 4M positions of cos/sin would be 256 MB.
    assert.ok(tf.memory().numBytes - before <= size + 64 * 1024, `loading allocated ${tf.memory().numBytes - before} bytes for a ${size}-byte checkpoint`);
    const ids = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
    const a = forward(back, ids).logits;
    const b = forward(model, ids).logits;
    assertClose(a.dataSync(), b.dataSync(), 0, 'logits');
    assert.ok(back.rope.length <= 256, `tables cover ${back.rope.length} positions`);
    // Positions far along grow the tables to cover them, and only to the next power of two.
    const far = forward(back, ids, { positions: tf.tensor2d([[1000, 1001, 1002]], undefined, 'int32') }).logits;
    assert.equal(back.rope.length, 1024);
    for (const t of [ids, a, b, far]) t.dispose();
    disposeDecoder(back);
  });
});
