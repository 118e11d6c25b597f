// The bench's configs and how an update is split (scripts/bench/config.ts),
// and the PyTorch reference's LoRA bench next to ours: the same adapters
// (trainable count) and the same losses with and without its checkpointing.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addLora, createDecoder, disposeDecoder, modelConfig, parameterCount } from '../../kernel-lib/model';
import { selectBackend } from '../../kernel-lib/runtime';
import { benchConfigs, stepPlan } from '../../scripts/bench/config';
import { findTorchPython, runReference } from '../../scripts/reference/python';

describe('bench configs', () => {
  it('L has SmolLM2-135M\'s shape and LoRA on every projection; S and M train the full model', () => {
    const all = benchConfigs();
    const L = all.L;
    assert.deepEqual(
      { ...L.model, max_position_embeddings: undefined, rms_norm_eps: undefined, rope_theta: undefined },
      { vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3,
        tie_word_embeddings: true, max_position_embeddings: undefined, rms_norm_eps: undefined, rope_theta: undefined },
    );
    assert.equal(L.lora?.rank, 16);
    assert.deepEqual([...L.lora!.targets].sort(), ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
    assert.equal(L.train.seq_len, 512);
    assert.equal(L.train.gradient_checkpointing, true);
    assert.ok(Math.abs(parameterCount(modelConfig(L.model as never)) - 134.5e6) < 0.5e6);
    assert.equal(all.S.lora, undefined);
    assert.equal(all.M.lora, undefined);
  });

  it('stepPlan keeps the update and the rows of a pass, whatever the worker count', () => {
    const train = { batch_size: 4, micro_batch: 1, seq_len: 8, lr: 1e-3, weight_decay: 0 };
    assert.deepEqual(stepPlan(train, 1), { rows: 1, accumulation: 4 });
    assert.deepEqual(stepPlan(train, 2), { rows: 2, accumulation: 2 });
    assert.deepEqual(stepPlan(train, 4), { rows: 4, accumulation: 1 });
    assert.deepEqual(stepPlan({ ...train, micro_batch: undefined }, 1), { rows: 4, accumulation: 1 });
    assert.throws(() => stepPlan(train, 3), /3 workers x micro_batch 1 = 3 rows a call does not divide batch_size 4/);
    assert.throws(() => stepPlan({ ...train, micro_batch: 3 }, 1), /micro_batch 3 must be a positive integer dividing batch_size 4/);
    assert.throws(() => stepPlan(train, 0), /workers must be a positive integer/);
  });
});

describe('PyTorch reference bench with LoRA', function () {
  const python = findTorchPython();
  const tiny = {
    T: {
      model: { vocab_size: 97, hidden_size: 48, intermediate_size: 80, num_hidden_layers: 2, num_attention_heads: 6, num_key_value_heads: 2,
               max_position_embeddings: 64, rms_norm_eps: 1e-5, rope_theta: 10000.0, tie_word_embeddings: true },
      lora: { rank: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] },
      train: { batch_size: 2, micro_batch: 1, seq_len: 16, lr: 1e-3, weight_decay: 0 },
      generate: { prompt_len: 4, new_tokens: 4, batch_sizes: [1] },
    },
  };
  let dir = '';
  before(function () {
    if (!python) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-lora-'));
    fs.writeFileSync(path.join(dir, 'configs.json'), JSON.stringify(tiny));
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('trains as many adapter parameters as ours, on the same base, with the same losses with and without its checkpointing', async () => {
    const run = (extra: string[]) => runReference(python!, ['bench', '--config', 'T', '--configs', path.join(dir, 'configs.json'), '--threads', '1', '--steps', '2', '--warmup', '1', '--skip-generate', ...extra]) as
      { trainable_params: number; params: number; loss_first: number; loss_last: number; micro_batch: number; gradient_checkpointing: boolean };
    const plain = run([]);
    const checkpointed = run(['--gradient-checkpointing']);
    await selectBackend('wasm');
    const model = createDecoder(modelConfig(tiny.T.model), 0);
    addLora(model, tiny.T.lora, 0);
    const ours = [...model.lora!.tensors.values()].reduce((a, t) => a + t.size, 0);
    disposeDecoder(model);
    assert.equal(plain.trainable_params, ours);
    assert.equal(plain.params, parameterCount(modelConfig(tiny.T.model)) + ours);
    assert.equal(plain.micro_batch, 1);
    assert.equal(checkpointed.gradient_checkpointing, true);
    assert.ok(Math.abs(plain.loss_first - checkpointed.loss_first) < 1e-6 && Math.abs(plain.loss_last - checkpointed.loss_last) < 1e-5,
      `losses ${plain.loss_first}, ${plain.loss_last} vs ${checkpointed.loss_first}, ${checkpointed.loss_last}`);
  });
});
