// A LoRA-tuned model exported merged, in bfloat16 and float32: the folder
// loads here again with the same logits and template, and, where Python with
// transformers is found, transformers loads it too (AutoModelForCausalLM,
// AutoTokenizer) and gives our logits, our token ids and our chat rendering.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { addLora, createDecoder, disposeDecoder, encodeSafetensors, forward, modelConfig, readSafetensors, type Decoder } from '../../kernel-lib/model';
import { toBfloat16Bits } from '../../kernel-lib/model/safetensors';
import { chatReply, exportMerged, loadPretrained } from '../../kernel-lib/pretrained';
import { selectBackend } from '../../kernel-lib/runtime';
import { builtinTemplate, trainBpe, type BpeTokenizer } from '../../kernel-lib/text';
import { findTransformersPython } from '../../scripts/reference/python';
import { assertClose } from '../model/helpers';

const root = path.resolve(__dirname, '..', '..');
const corpus = fs.readFileSync(path.join(root, 'data', 'world', 'corpus.txt'), 'utf8').slice(0, 60_000);
const messages = [
  { role: 'system' as const, content: 'Answer briefly.' },
  { role: 'user' as const, content: 'What colour is the sky?' },
  { role: 'assistant' as const, content: 'Blue.' },
];

function logitsOf(model: Decoder, ids: number[][]): Float32Array {
  const t = tf.tidy(() => forward(model, tf.tensor2d(ids, undefined, 'int32')).logits);
  const out = t.dataSync() as Float32Array;
  t.dispose();
  return out;
}

describe('pretrained: bfloat16 encoding', () => {
  it('rounds to nearest even, keeps infinities and NaN, and reads back as the rounded value', () => {
    const x = Float32Array.from([1, -2.5, 1 + 2 ** -8, 1 + 3 * 2 ** -9, 3.4e38, Infinity, -Infinity, NaN, 1e-40]);
    const bits = toBfloat16Bits(x);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1); 1 + 3·2^-9 rounds up.
    assert.deepEqual([...bits.slice(0, 4)], [0x3f80, 0xc020, 0x3f80, 0x3f81]);
    assert.equal(bits[4], 0x7f80, 'the largest float32 rounds to infinity, as torch does');
    assert.deepEqual([bits[5], bits[6]], [0x7f80, 0xff80]);
    assert.ok((bits[7] & 0x7f80) === 0x7f80 && (bits[7] & 0x7f) !== 0, 'NaN stays NaN');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf16-'));
    const file = path.join(dir, 't.safetensors');
    fs.writeFileSync(file, encodeSafetensors(new Map([['x', { shape: [9], data: x }]]), {}, 'BF16'));
    const back = readSafetensors(file).tensors.get('x')!.data;
    assert.deepEqual([...back.slice(0, 4)], [1, -2.5, 1, 1 + 2 ** -7 + 0]);
    assert.ok(Number.isNaN(back[7]));
  });
});

describe('pretrained: exportMerged', function () {
  this.timeout(300_000);
  let tokenizer: BpeTokenizer;
  let model: Decoder;
  let dir: string;
  const template = builtinTemplate('chatml');

  before(async () => {
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'export-merged-'));
    tokenizer = trainBpe(corpus, { vocabSize: 320, specialTokens: ['<|bos|>', '<|eos|>', '<|pad|>', '<|im_start|>', '<|im_end|>'] });
    model = createDecoder(modelConfig({ vocab_size: tokenizer.vocabSize, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128,
      bos_token_id: tokenizer.bos, eos_token_id: tokenizer.eos, pad_token_id: tokenizer.pad }), 3);
    addLora(model, { rank: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj', 'down_proj'] }, 1);
    // Adapters as after training: B no longer zero, so the merge changes the logits.
    for (const [name, t] of model.lora!.tensors) {
      if (!name.includes('lora_B')) continue;
      model.lora!.tensors.set(name, tf.tidy(() => tf.randomNormal(t.shape, 0, 0.2, 'float32', 5)));
      t.dispose();
    }
  });
  after(() => {
    disposeDecoder(model);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('float32: the merged folder gives the adapted model\'s logits, leaves the model as it was, and stops at EOS and the end of turn', () => {
    const ids = [tokenizer.encode('One day, Mia went to the market.')];
    const ours = logitsOf(model, ids);
    const before = tf.memory().numTensors;
    const out = path.join(dir, 'f32');
    const files = exportMerged(out, model, tokenizer, template, { dtype: 'f32' });
    assert.deepEqual(files.sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    assert.ok(model.lora, 'the adapters stay on the model');
    assertClose(logitsOf(model, ids), ours, 0, 'the model itself is unchanged');
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    const loaded = loadPretrained(out);
    assertClose(logitsOf(loaded.model, ids), ours, 1e-5, 'merged logits');
    assert.deepEqual(loaded.info.storedAs, ['F32']);
    assert.equal(loaded.info.template?.endOfTurn, '<|im_end|>');
    assert.deepEqual(loaded.info.stopIds, [tokenizer.eos, tokenizer.tokenToId('<|im_end|>')]);
    assert.equal(loaded.template!.render(messages).text, template.render(messages).text);
    disposeDecoder(loaded.model);
  });

  it('bfloat16: half the bytes, logits within bfloat16 rounding', () => {
    const ids = [tokenizer.encode('The fox ran to the river.')];
    const out = path.join(dir, 'bf16');
    exportMerged(out, model, tokenizer, template);
    const loaded = loadPretrained(out);
    assert.deepEqual(loaded.info.storedAs, ['BF16']);
    assert.ok(loaded.info.fileBytes < fs.statSync(path.join(dir, 'f32', 'model.safetensors')).size * 0.51);
    const ours = logitsOf(model, ids);
    const theirs = logitsOf(loaded.model, ids);
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
    assert.ok(worst < 0.05 && worst > 0, `bf16 rounding moved logits by at most ${worst}`);
    disposeDecoder(loaded.model);
  });

  it('transformers loads both folders: our logits, token ids and chat rendering', function () {
    const python = findTransformersPython();
    if (!python) {
      console.log('      SKIPPED: no Python with torch and transformers ($WORKBOOK_PYTHON, .venv/bin/python, python3)');
      this.skip();
    }
    const text = 'One day, Mia went to the market.';
    const script = [
      'import json, sys, torch',
      'from transformers import AutoModelForCausalLM, AutoTokenizer',
      'folder, text, messages = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])',
      'tok = AutoTokenizer.from_pretrained(folder)',
      'model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32).eval()',
      'ids = tok(text, add_special_tokens=False)["input_ids"]',
      'with torch.no_grad(): logits = model(torch.tensor([ids])).logits',
      'chat = tok.apply_chat_template(messages, tokenize=False)',
      'print(json.dumps({"ids": ids, "logits": logits.reshape(-1).tolist(), "chat": chat, "dtype": str(AutoModelForCausalLM.from_pretrained(folder).dtype), "eos": model.generation_config.eos_token_id}))',
    ].join('\n');
    for (const dtype of ['f32', 'bf16'] as const) {
      const folder = path.join(dir, dtype);
      const out = execFileSync(python!, ['-c', script, folder, text, JSON.stringify(messages)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
      const theirs = JSON.parse(out.trim().split('\n').pop()!) as { ids: number[]; logits: number[]; chat: string; dtype: string; eos: number[] };
      const ids = tokenizer.encode(text, { addSpecialTokens: false });
      assert.deepEqual(theirs.ids, ids, `${dtype}: token ids`);
      const loaded = loadPretrained(folder);
      assertClose(logitsOf(loaded.model, [ids]), theirs.logits, 1e-4, `${dtype}: logits`);
      disposeDecoder(loaded.model);
      assert.equal(theirs.chat, template.render(messages).text, `${dtype}: chat template`);
      assert.equal(theirs.dtype, dtype === 'bf16' ? 'torch.bfloat16' : 'torch.float32');
      assert.deepEqual(theirs.eos, [tokenizer.eos, tokenizer.tokenToId('<|im_end|>')]);
    }
  });

  it('chatReply streams a reply in the model\'s template, stopped by its stop tokens; transformers\' greedy generate gives the same tokens', async function () {
    const folder = path.join(dir, 'f32');
    const pre = loadPretrained(folder);
    const pieces: string[] = [];
    const ask = [messages[0], messages[1]];
    const reply = await chatReply(pre, ask, { maxNewTokens: 12, onText: (p) => pieces.push(p) });
    assert.equal(pieces.join(''), reply.text);
    assert.ok(pieces.length > 1, 'streamed in pieces');
    assert.ok(reply.tokens.length >= 1 && reply.tokens.length <= 12);
    if (reply.finishReason === 'stop') assert.ok(pre.info.stopIds.includes(reply.tokens.at(-1)!));
    await assert.rejects(chatReply({ ...pre, template: null }, ask), /has no chat template/);
    const python = findTransformersPython();
    if (python) {
      const script = [
        'import json, sys, torch',
        'from transformers import AutoModelForCausalLM, AutoTokenizer',
        'folder, messages = sys.argv[1], json.loads(sys.argv[2])',
        'tok = AutoTokenizer.from_pretrained(folder)',
        'model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32).eval()',
        'ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)',
        'out = model.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False)',
        'print(json.dumps(out[0, len(ids):].tolist()))',
      ].join('\n');
      const theirs = JSON.parse(execFileSync(python, ['-c', script, folder, JSON.stringify(ask)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!);
      assert.deepEqual(reply.tokens, theirs);
    } else {
      console.log('      (transformers comparison SKIPPED: no Python with torch and transformers)');
    }
    disposeDecoder(pre.model);
  });
});
