// Rotary positions of checkpoints whose config.json transformers 5 wrote
// (one `rope_parameters` object), for every rope type the Llama family uses,
// against golden values transformers computed (test/fixtures/model/rope, made
// by scripts/reference/rope_golden.py); configs in transformers 4's form give
// transformers' frequencies too; other rope types are refused by name. A live
// part re-runs the script and checks the other direction (saved here, loaded
// by transformers) where a Python with transformers is found.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { createDecoder, disposeDecoder, forward, fromHFConfig, inverseFrequencies, loadCheckpoint, modelConfig, saveCheckpoint, type Decoder } from '../../kernel-lib/model';
import { findTransformersPython } from '../../scripts/reference/python';
import { assertClose, maxAbsDiff } from './helpers';

const ROOT = path.join(__dirname, '..', 'fixtures', 'model', 'rope');
const TYPES = ['default', 'linear', 'dynamic', 'llama3'];

interface Golden {
  rope_parameters: Record<string, unknown>;
  inv_freq: number[];
  attention_scaling: number;
  positions: number[];
  cos: number[];
  sin: number[];
  ids: number[][];
  logits: number[];
  offset: number;
  logits_offset: number[];
}

const golden = (type: string): Golden => JSON.parse(fs.readFileSync(path.join(ROOT, type, 'golden.json'), 'utf8'));

function logits(model: Decoder, ids: number[][], offset = 0): Float32Array {
  return tf.tidy(() => {
    const positions = offset ? { positions: tf.tensor2d(ids.map((r) => r.map((_, j) => offset + j)), undefined, 'int32') } : {};
    return forward(model, tf.tensor2d(ids, undefined, 'int32'), positions).logits;
  }).dataSync() as Float32Array;
}

/** cos and sin [positions, head_dim] of the model's own rotary tables. */
function tables(model: Decoder, positions: number[]): { cos: Float32Array; sin: Float32Array } {
  return tf.tidy(() => {
    const { cos, sin } = model.rope.at(1, positions.length, 0, tf.tensor2d([positions], undefined, 'int32'));
    return { cos: cos.dataSync() as Float32Array, sin: sin.dataSync() as Float32Array };
  });
}

describe('model/rope scaling against transformers', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  for (const type of TYPES) {
    it(`"${type}": a checkpoint saved by transformers 5 loads with its inverse frequencies, cos/sin and logits`, () => {
      const g = golden(type);
      const raw = JSON.parse(fs.readFileSync(path.join(ROOT, type, 'config.json'), 'utf8'));
      assert.ok(raw.rope_parameters && raw.rope_theta === undefined && raw.rope_scaling === undefined, 'fixture is in transformers 5 form');
      const { model } = loadCheckpoint(path.join(ROOT, type));
      const config = model.config;
      assert.equal(config.rope_theta, g.rope_parameters.rope_theta);
      assert.equal(config.rope_scaling?.rope_type ?? 'default', type);
      assert.equal(g.attention_scaling, 1, 'these types do not scale attention');
      assertClose(inverseFrequencies(config.head_dim, config.rope_theta, config.rope_scaling), g.inv_freq, 1e-7 * Math.max(...g.inv_freq), 'inv_freq');
      // Relative: a float32 ulp of inv_freq grows with the position it multiplies.
      const { cos, sin } = tables(model, g.positions);
      assertClose(cos, g.cos, 1e-4, 'cos');
      assertClose(sin, g.sin, 1e-4, 'sin');
      assertClose(logits(model, g.ids), g.logits, 1e-4, 'logits at positions 0..');
      assertClose(logits(model, g.ids, g.offset), g.logits_offset, 1e-4, `logits at positions ${g.offset}..`);
      disposeDecoder(model);
    });
  }

  it('the scaling matters at these sizes: plain RoPE gives other logits for the linear and llama3 checkpoints', () => {
    for (const type of ['linear', 'llama3']) {
      const g = golden(type);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rope-'));
      const raw = JSON.parse(fs.readFileSync(path.join(ROOT, type, 'config.json'), 'utf8'));
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...raw, rope_parameters: { rope_type: 'default', rope_theta: raw.rope_parameters.rope_theta } }));
      fs.copyFileSync(path.join(ROOT, type, 'model.safetensors'), path.join(dir, 'model.safetensors'));
      const { model } = loadCheckpoint(dir);
      assert.ok(maxAbsDiff(logits(model, g.ids, g.offset), g.logits_offset) > 1e-2, `${type}: plain RoPE should differ`);
      disposeDecoder(model);
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('configs in transformers 4\'s form (top-level rope_theta, rope_scaling with "rope_type" or "type") give transformers\' frequencies', () => {
    const { cases } = JSON.parse(fs.readFileSync(path.join(ROOT, 'legacy.json'), 'utf8')) as { cases: { config: Record<string, unknown>; inv_freq: number[] }[] };
    assert.equal(cases.length, 4);
    for (const c of cases) {
      const config = fromHFConfig(c.config, `legacy ${JSON.stringify(c.config.rope_scaling)}`);
      assertClose(inverseFrequencies(config.head_dim, config.rope_theta, config.rope_scaling), c.inv_freq, 1e-7 * Math.max(...c.inv_freq), JSON.stringify(c.config.rope_scaling));
    }
  });

  it('refuses rope types it does not implement, and malformed scaling fields, by name', () => {
    const base = { vocab_size: 32, hidden_size: 32, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 };
    for (const rope_type of ['yarn', 'longrope', 'proportional', 'su']) {
      assert.throws(() => fromHFConfig({ ...base, rope_parameters: { rope_type, factor: 2, rope_theta: 1e4 } }, 'cfg.json'), new RegExp(`cfg\\.json: "rope_parameters": rope_type "${rope_type}" is not supported; this decoder implements default, linear, dynamic, llama3`));
      assert.throws(() => fromHFConfig({ ...base, rope_scaling: { type: rope_type, factor: 2 } }, 'cfg.json'), new RegExp(`"rope_scaling": rope_type "${rope_type}" is not supported`));
    }
    assert.throws(() => fromHFConfig({ ...base, rope_parameters: { rope_type: 'linear', rope_theta: 1e4 } }, 'cfg.json'), /cfg\.json: "rope_parameters\.factor" must be a positive number, got undefined/);
    assert.throws(() => fromHFConfig({ ...base, rope_parameters: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1 } }, 'cfg.json'), /high_freq_factor" \(1\) must be greater than low_freq_factor \(4\)/);
    assert.throws(() => fromHFConfig({ ...base, rope_parameters: { rope_theta: '1e4' } }, 'cfg.json'), /"rope_parameters\.rope_theta" must be a positive number, got "1e4"/);
    assert.throws(() => fromHFConfig({ ...base, rope_parameters: { rope_type: 'default', partial_rotary_factor: 0.5 } }, 'cfg.json'), /partial_rotary_factor 0\.5 is not supported/);
    assert.throws(() => fromHFConfig({ ...base, rope_parameters: [1] }, 'cfg.json'), /"rope_parameters" must be an object or null/);
  });

  it('a scaled model saved here round-trips its scaling through config.json', () => {
    const model = createDecoder(modelConfig({ vocab_size: 32, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, rope_theta: 500000,
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } }), 3);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rope-'));
    saveCheckpoint(path.join(dir, 'm'), model);
    const { model: back } = loadCheckpoint(path.join(dir, 'm'));
    assert.deepEqual(back.config, model.config);
    disposeDecoder(back);
    disposeDecoder(model);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('model/rope scaling, live against transformers', function () {
  this.timeout(180000);
  let python: string | null;
  let dir: string;
  before(async function () {
    python = findTransformersPython();
    if (!python) {
      console.log('      SKIPPED: no Python with torch and transformers ($WORKBOOK_PYTHON, .venv/bin/python, python3); the committed golden files were checked above');
      this.skip();
    }
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rope-live-'));
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it('the script reproduces the committed golden values with the installed transformers', () => {
    execFileSync(python!, [path.join(__dirname, '..', '..', 'scripts', 'reference', 'rope_golden.py'), '--out', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const type of TYPES) {
      const fresh = JSON.parse(fs.readFileSync(path.join(dir, type, 'golden.json'), 'utf8')) as Golden;
      const committed = golden(type);
      assertClose(fresh.inv_freq, committed.inv_freq, 0, `${type} inv_freq`);
      assertClose(fresh.logits_offset, committed.logits_offset, 1e-6, `${type} logits`);
    }
  });

  it('transformers loads a llama3-scaled checkpoint saved here and gives its logits', () => {
    const model = createDecoder(modelConfig({ vocab_size: 32, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 128, rope_theta: 500000,
      tie_word_embeddings: false, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } }), 7);
    // Queries and keys scaled up so attention is sharp and depends on the rotation (as in the fixtures).
    for (const [name, t] of model.weights) {
      if (/[qk]_proj\.weight$/.test(name)) { model.weights.set(name, tf.mul(t, 25)); t.dispose(); }
    }
    const out = path.join(dir, 'ours');
    saveCheckpoint(out, model);
    const ids = [[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]];
    const script = [
      'import json, sys, torch',
      'from transformers import LlamaForCausalLM',
      'm = LlamaForCausalLM.from_pretrained(sys.argv[1]).eval()',
      'ids = torch.tensor(json.loads(sys.argv[2]))',
      'pos = torch.arange(100, 100 + ids.shape[1])[None]',
      'with torch.no_grad(): print(json.dumps({"rope_type": m.config.rope_parameters["rope_type"], "logits": m(ids, position_ids=pos).logits.reshape(-1).tolist()}))',
    ].join('\n');
    const outText = execFileSync(python!, ['-c', script, out, JSON.stringify(ids)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const theirs = JSON.parse(outText.trim().split('\n').pop()!) as { rope_type: string; logits: number[] };
    assert.equal(theirs.rope_type, 'llama3');
    assertClose(logits(model, ids, 100), theirs.logits, 1e-4, 'logits');
    disposeDecoder(model);
  });
});
