// Notebook 10 end to end through the real tslab kernel on a model folder as
// published: where Python with transformers and PEFT is found, one that
// transformers itself wrote at Llama 3's vocabulary with its real tokenizer
// and chat template (random weights, bfloat16); elsewhere one the workbook
// writes. The exported adapters then load in PEFT with our logits.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createDecoder, disposeDecoder, forward, loadAdapters, modelConfig } from '../../kernel-lib/model';
import { exportMerged, loadPretrained } from '../../kernel-lib/pretrained';
import { selectBackend } from '../../kernel-lib/runtime';
import { builtinTemplate, trainBpe } from '../../kernel-lib/text';
import { findTransformersPython } from '../../scripts/reference/python';
import { runWorkbook } from '../../scripts/workbook/run';
import { assertClose } from '../model/helpers';
import { assertExecutedSize } from './size';

const root = path.resolve(__dirname, '..', '..');
const LLAMA3 = path.join(root, 'node_modules', '@lenml', 'tokenizer-llama3', 'models');

function peftPython(): string | null {
  const python = findTransformersPython();
  if (!python) return null;
  try {
    execFileSync(python, ['-c', 'import peft'], { stdio: 'ignore' });
    return python;
  } catch {
    return null;
  }
}

describe('notebooks/10-your-own-model', function () {
  this.timeout(600_000);
  let dir: string;
  const python = peftPython();
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb10-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`loads a model folder, tunes it with LoRA, and exports adapters, merged weights and a TRL recipe${python ? '' : ' (on a workbook-made folder: no Python with transformers and PEFT)'}`, async () => {
    const modelDir = path.join(dir, 'model');
    if (python) {
      const config = { vocab_size: 128256, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
        max_position_embeddings: 512, rope_theta: 500000, tie_word_embeddings: true, bos_token_id: 128000, eos_token_id: [128001, 128008, 128009] };
      execFileSync(python, [path.join(root, 'scripts', 'reference', 'make_pretrained.py'), 'make', '--arch', 'llama', '--config', JSON.stringify(config), '--tokenizer-dir', LLAMA3, '--dtype', 'bfloat16', '--out', modelDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    } else {
      await selectBackend('wasm');
      const corpus = fs.readFileSync(path.join(root, 'data', 'world', 'corpus.txt'), 'utf8').slice(0, 60_000);
      const tokenizer = trainBpe(corpus, { vocabSize: 384, specialTokens: ['<|bos|>', '<|eos|>', '<|pad|>', '<|im_start|>', '<|im_end|>'] });
      const model = createDecoder(modelConfig({ vocab_size: tokenizer.vocabSize, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 256,
        bos_token_id: tokenizer.bos, eos_token_id: tokenizer.eos, pad_token_id: tokenizer.pad }), 0);
      exportMerged(modelDir, model, tokenizer, builtinTemplate('chatml'), { dtype: 'f32' });
      disposeDecoder(model);
    }
    const out = path.join(dir, 'out');
    const started = Date.now();
    const m = await runWorkbook({
      notebooksDir: path.join(root, 'notebooks'), outDir: path.join(dir, 'executed'), select: ['10'], mode: 'quick', seed: 0,
      parameters: { modelDir: modelDir, records: 16, steps: 4, batchSize: 4, outDir: out }, cellTimeoutSeconds: 300, log: () => {},
    });
    const record = m.notebooks[0];
    assert.equal(record.status, 'ok', JSON.stringify(record.failure ?? record));
    console.log(`      notebook 10 ran in ${((Date.now() - started) / 1000).toFixed(0)} s; loss drop ${record.figures?.['own-model/lora_sft/loss_drop']?.value?.toFixed(3)}`);
    const nb = JSON.parse(fs.readFileSync(record.output, 'utf8'));
    assertExecutedSize(record.output);
    const joined = (v: unknown) => (Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '');
    const text = (id: string) => nb.cells.find((c: { id: string }) => c.id === id).outputs.map((o: { text?: unknown; data?: Record<string, unknown> }) => joined(o.text) + joined(o.data?.['text/plain'])).join('\n');
    assert.match(text('load'), /LlamaForCausalLM from .*model: [\d.]+ M parameters/);
    assert.match(text('before'), /^> .+\n[\s\S]*\(\d+ tokens, (stop|length), \d+ tokens\/s\)/m);
    assert.match(text('sft'), /4 steps in [\d.]+ s/);
    assert.match(text('after'), /prompt +before +after +reference/);
    for (const f of ['adapters/adapter_config.json', 'adapters/adapter_model.safetensors', 'merged/model.safetensors', 'merged/tokenizer_config.json', 'trl-recipe/recipe.json', 'trl-recipe/train.py']) {
      assert.ok(fs.existsSync(path.join(out, 'own-model', f)), f);
    }

    if (!python) {
      console.log('      SKIPPED the PEFT check: no Python with transformers and PEFT ($WORKBOOK_PYTHON, .venv/bin/python, python3)');
      return;
    }
    // The adapters, opened by PEFT on the base model, give the logits ours give with the same adapters.
    await selectBackend('wasm');
    const adapters = path.join(out, 'own-model', 'adapters');
    const pre = loadPretrained(modelDir);
    loadAdapters(adapters, pre.model);
    const ids = [pre.tokenizer.encode('The capital of France is Paris.', { addSpecialTokens: false })];
    const t = tf.tidy(() => forward(pre.model, tf.tensor2d(ids, undefined, 'int32')).logits);
    const ours = t.dataSync() as Float32Array;
    t.dispose();
    disposeDecoder(pre.model);
    const script = [
      'import json, sys, torch',
      'from transformers import AutoModelForCausalLM',
      'from peft import PeftModel',
      'base = AutoModelForCausalLM.from_pretrained(sys.argv[1], torch_dtype=torch.float32)',
      'model = PeftModel.from_pretrained(base, sys.argv[2]).eval()',
      'merged = AutoModelForCausalLM.from_pretrained(sys.argv[3], torch_dtype=torch.float32).eval()',
      'ids = torch.tensor(json.loads(sys.argv[4]))',
      'with torch.no_grad(): print(json.dumps({"peft": model(ids).logits.reshape(-1).tolist(), "merged": merged(ids).logits.reshape(-1).tolist()}))',
    ].join('\n');
    const theirs = JSON.parse(execFileSync(python, ['-c', script, modelDir, adapters, path.join(out, 'own-model', 'merged'), JSON.stringify(ids)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 }).trim().split('\n').pop()!);
    assertClose(ours, theirs.peft, 1e-4, 'PEFT logits');
    // The merged export is bfloat16: the same logits within its rounding.
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs.merged[i]));
    assert.ok(worst < 0.05, `merged (bf16) logits within ${worst}`);
  });
});
