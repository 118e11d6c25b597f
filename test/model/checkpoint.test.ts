// Checkpoints in transformers' layout: a bit-exact round trip, atomic
// writes, and errors that name the tensor or field.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder, loadCheckpoint, readSafetensors, saveCheckpoint, type Decoder } from '../../kernel-lib/model';
import { tinyConfig } from './helpers';

describe('model/checkpoint', () => {
  let dir: string;
  let model: Decoder;
  before(async () => {
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
    model = createDecoder(tinyConfig(), 11);
  });
  after(() => {
    disposeDecoder(model);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('save then load gives bit-identical weights and the same config', () => {
    const out = path.join(dir, 'roundtrip');
    saveCheckpoint(out, model);
    const { model: back, ignored } = loadCheckpoint(out);
    assert.deepEqual(ignored, []);
    assert.deepEqual(back.config, model.config);
    for (const [name, t] of model.weights) {
      const a = Buffer.from((t.dataSync() as Float32Array).buffer);
      const b = Buffer.from((back.weights.get(name)!.dataSync() as Float32Array).buffer);
      assert.ok(a.equals(b), `${name} differs after the round trip`);
    }
    disposeDecoder(back);
  });

  it('writes transformers names, [out, in] linear layout and a complete config.json', () => {
    const out = path.join(dir, 'layout');
    saveCheckpoint(out, model);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['LlamaForCausalLM']);
    assert.equal(config.model_type, 'llama');
    assert.equal(config.num_key_value_heads, 2);
    const { tensors, metadata } = readSafetensors(path.join(out, 'model.safetensors'));
    assert.equal(metadata.format, 'pt');
    assert.deepEqual(tensors.get('model.layers.0.self_attn.k_proj.weight')!.shape, [16, 32]);
    assert.deepEqual(tensors.get('model.layers.1.mlp.down_proj.weight')!.shape, [32, 48]);
    assert.deepEqual(tensors.get('lm_head.weight')!.shape, [61, 32]);
    // [out, in]: row 0 of the file is column 0 of the [in, out] matrix here.
    const here = model.weights.get('model.layers.0.self_attn.k_proj.weight')!.arraySync() as number[][];
    const file = tensors.get('model.layers.0.self_attn.k_proj.weight')!.data;
    assert.deepEqual(Array.from(file.subarray(0, 32)), here.map((row) => Math.fround(row[0])));
  });

  it('replaces an existing checkpoint atomically and leaves no temporary files', () => {
    const out = path.join(dir, 'atomic');
    saveCheckpoint(out, model);
    saveCheckpoint(out, model);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('.')), []);
    assert.deepEqual(fs.readdirSync(out).sort(), ['config.json', 'model.safetensors']);
  });

  it('a truncated file is an error naming the tensor; a wrong shape names the tensor and both shapes', () => {
    const out = path.join(dir, 'broken');
    saveCheckpoint(out, model);
    const file = path.join(out, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    assert.throws(() => loadCheckpoint(out), /tensor "[^"]+" .* needs \d+ bytes .* corrupt or truncated/);
    saveCheckpoint(out, model);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify({ ...config, intermediate_size: 64 }));
    assert.throws(() => loadCheckpoint(out), /tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[48,32\], expected \[64,32\]/);
    fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify({ ...config, hidden_act: 'gelu' }));
    assert.throws(() => loadCheckpoint(out), /hidden_act "gelu" is not supported/);
    assert.throws(() => loadCheckpoint(path.join(dir, 'nowhere')), /missing config\.json/);
  });

  it('loads bfloat16 checkpoints by upcasting, and ignores a tied model\'s lm_head', () => {
    const out = path.join(dir, 'half');
    const tied = createDecoder(tinyConfig({ tie_word_embeddings: true }), 5);
    saveCheckpoint(out, tied);
    // Rewrite every tensor as BF16 (truncated float32) plus an lm_head copy, the way a tied checkpoint may ship it.
    const { tensors } = readSafetensors(path.join(out, 'model.safetensors'));
    tensors.set('lm_head.weight', tensors.get('model.embed_tokens.weight')!);
    const header: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    let offset = 0;
    for (const [name, t] of tensors) {
      const u16 = new Uint16Array(t.data.length);
      const u32 = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
      for (let i = 0; i < u16.length; i++) u16[i] = u32[i] >>> 16;
      header[name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + u16.byteLength] };
      chunks.push(Buffer.from(u16.buffer));
      offset += u16.byteLength;
    }
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(path.join(out, 'model.safetensors'), Buffer.concat([len, json, ...chunks]));
    const { model: back, ignored } = loadCheckpoint(out);
    assert.deepEqual(ignored, ['lm_head.weight']);
    const a = tied.weights.get('model.norm.weight')!.dataSync();
    const b = back.weights.get('model.norm.weight')!.dataSync();
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= Math.abs(a[i]) / 128, 'bf16 keeps 8 bits of mantissa');
    disposeDecoder(tied);
    disposeDecoder(back);
  });
});
