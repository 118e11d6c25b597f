// exportTrlRecipe: the folder it writes (data, tokens and masks, tokenizer,
// template, recipe.json's mapping of every setting, script, accelerate
// config, README), its errors, and, where a Python with TRL is found, the
// exported train.py run by TRL's SFTTrainer against our own trainer on the
// same tiny model, data and settings: the logged losses agree step by step,
// for full fine-tuning and for LoRA started from the same adapters.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { selectBackend } from '../../kernel-lib/runtime';
import { addLora, disposeDecoder, loadCheckpoint, saveAdapters, type LoraConfig } from '../../kernel-lib/model';
import { loadWorld, type Conversation } from '../../kernel-lib/data';
import { builtinTemplate, loadTokenizer, trainBpe, type BpeTokenizer, type ChatTemplate } from '../../kernel-lib/text';
import { sftBatch, sftObjective, train, type BatchSource, type SftBatch, type SftConfig, type StepRecord, type TrainConfig } from '../../kernel-lib/train';
import { exportTrlRecipe, trlScriptPath, workbookSftSettings, type SftRecipeOptions, type WorkbookSftSettings } from '../../kernel-lib/recipes';
import { findTrlPython } from '../../scripts/reference/python';
import { runTrl, saveTinyBase, type TrlLog } from './helpers';

const ROOT = path.join(__dirname, '../..');
const template = builtinTemplate('chatml');
const sft: SftConfig = { batchSize: 4 };
// Settings of the comparison: warm-up 0 (transformers' warm-up is one step
// behind ours), no weight decay, clipping at 1.
const settings: TrainConfig = { steps: 5, lr: 1e-3, warmupSteps: 0, weightDecay: 0, clipNorm: 1, seed: 0, progress: 'none' };
const lora: LoraConfig = { rank: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };

/** Batches in the records' order: batch k is examples 4k .. 4k + 3, no shuffle. */
function inOrder(examples: { ids: number[]; mask: number[] }[], padId: number): BatchSource<SftBatch> {
  return { batch: (step) => sftBatch(examples.slice(step * 4, step * 4 + 4), { padId }) };
}

const relative = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('recipes/exportTrlRecipe', function () {
  this.timeout(300_000);
  let tmp: string;
  let tok: BpeTokenizer;
  let records: Conversation[];
  let baseDir: string;
  const options = (over: Partial<SftRecipeOptions> = {}): SftRecipeOptions => ({
    out: path.join(tmp, 'recipe'),
    trainer: 'sft',
    baseModel: baseDir,
    records,
    tokenizer: tok,
    template,
    sft,
    train: settings,
    ...over,
  });

  before(async () => {
    await selectBackend('wasm');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trl-recipe-'));
    const world = loadWorld(path.join(ROOT, 'data/world'));
    tok = trainBpe(world.corpus, { vocabSize: 320, specialTokens: ['<|pad|>', '<|eos|>', ...template.specialTokens], padToken: '<|pad|>', eosToken: '<|eos|>', maxChars: 20_000 });
    records = world.sftTrain.slice(0, 24);
    baseDir = path.join(tmp, 'base');
    saveTinyBase(baseDir, tok.vocabSize);
  });

  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('the folder and recipe.json', () => {
    it('holds the records, our tokens and masks, the tokenizer and template, the script, accelerate.yaml and a README', () => {
      const exported = exportTrlRecipe(options());
      const dir = exported.dir;
      assert.deepEqual(exported.files, [
        'README.md', 'accelerate.yaml', 'chat_template.jinja', 'data/train.jsonl', 'data/train.tokenized.jsonl',
        'recipe.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'train.py',
      ]);
      const lines = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines('data/train.jsonl'), records.map((r) => ({ messages: r.messages })));
      const tokenized = lines('data/train.tokenized.jsonl');
      assert.equal(tokenized.length, records.length);
      tokenized.forEach((row, i) => {
        const e = exported.examples[i];
        assert.deepEqual(row.input_ids, e.ids, `record ${i}: ids`);
        assert.deepEqual(row.labels, e.ids.map((id, t) => (e.mask[t] ? id : -100)), `record ${i}: labels`);
      });
      assert.equal(fs.readFileSync(path.join(dir, 'chat_template.jinja'), 'utf8'), template.jinja);
      const back = loadTokenizer(dir);
      assert.deepEqual(back.encode(exported.examples[0].name + ' <|im_end|>'), tok.encode(exported.examples[0].name + ' <|im_end|>'));
      assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')).chat_template, template.jinja);
      assert.equal(fs.readFileSync(path.join(dir, 'train.py'), 'utf8'), fs.readFileSync(path.join(ROOT, 'kernel-lib/recipes/trl_train.py'), 'utf8'));
      const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
      assert.match(readme, /accelerate launch --config_file accelerate\.yaml train\.py/);
      assert.match(readme, /python train\.py/);
      assert.match(readme, /warm-up \(0 steps here\)/);
      const yaml = fs.readFileSync(path.join(dir, 'accelerate.yaml'), 'utf8');
      assert.match(yaml, /^mixed_precision: bf16$/m);
      assert.match(yaml, /^num_processes: 4$/m, 'the largest GPU count up to 8 that splits a batch of 4');
      assert.match(yaml, /^distributed_type: MULTI_GPU$/m);
      const recipe = JSON.parse(fs.readFileSync(path.join(dir, 'recipe.json'), 'utf8'));
      assert.deepEqual(recipe, JSON.parse(JSON.stringify(exported.recipe)));
      assert.equal(recipe.model.path, baseDir);
      assert.equal(recipe.data.records, 24);
      assert.equal(recipe.data.trained_tokens, exported.examples.reduce((n, e) => n + e.mask.slice(1).reduce((a, m) => a + m, 0), 0));
      assert.equal(recipe.peft, null);
      // Nothing is left beside it.
      assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('.')), []);
    });

    it('maps every setting: our defaults filled in (beta2 0.95, weight decay 0.1, warm-up a tenth, min lr lr/10), TRL names and lengths', () => {
      const s = workbookSftSettings({ steps: 300, lr: 2e-3 }, { batchSize: 8, maxLength: 128, packing: true });
      assert.equal(s.warmupSteps, 30);
      assert.equal(s.minLr, 2e-4);
      assert.equal(s.beta2, 0.95);
      assert.equal(s.weightDecay, 0.1);
      assert.equal(s.clipNorm, 1);
      assert.equal(s.assistantOnlyLoss, true);
      const r = exportTrlRecipe(options({
        train: { steps: 40, lr: 5e-4, warmupSteps: 4, minLr: 1e-5, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.01, clipNorm: 0.5, accumulation: 2, seed: 7, checkpointEvery: 10 },
        sft: { batchSize: 6, maxLength: 200, truncate: true, assistantOnlyLoss: false, seed: 3 },
        lora,
        copyModel: true,
      })).recipe;
      assert.deepEqual(r.sft_config, {
        max_steps: 40,
        learning_rate: 5e-4,
        lr_scheduler_type: 'cosine_with_min_lr',
        lr_scheduler_kwargs: { min_lr: 1e-5 },
        warmup_steps: 4,
        optim: 'adamw_torch',
        adam_beta1: 0.8,
        adam_beta2: 0.99,
        adam_epsilon: 1e-6,
        weight_decay: 0.01,
        max_grad_norm: 0.5,
        gradient_accumulation_steps: 2,
        seed: 7,
        max_length: 201,
        packing: false,
        assistant_only_loss: false,
        completion_only_loss: null,
        logging_steps: 1,
        save_strategy: 'steps',
        save_steps: 10,
        report_to: 'none',
      });
      assert.deepEqual(r.peft, { r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: lora.targets, bias: 'none', task_type: 'CAUSAL_LM' });
      assert.equal(r.batch_size, 6);
      assert.equal(r.workbook.dataSeed, 3);
      assert.equal((r.workbook as WorkbookSftSettings).truncate, true);
      assert.deepEqual(r.model, { path: 'model', copied: true, dtype: 'float32' });
      assert.ok(r.notes.some((n) => /^warm-up \(4 steps here\): ours gives lr \* \(step \+ 1\) \/ warmup/.test(n)), 'the warm-up difference is written down');
      const dir = path.join(tmp, 'recipe');
      assert.deepEqual(fs.readdirSync(path.join(dir, 'model')).sort(), fs.readdirSync(baseDir).sort());
      assert.deepEqual(fs.readFileSync(path.join(dir, 'model', 'model.safetensors')), fs.readFileSync(path.join(baseDir, 'model.safetensors')));
      assert.match(fs.readFileSync(path.join(dir, 'accelerate.yaml'), 'utf8'), /^num_processes: 6$/m);
      assert.match(fs.readFileSync(path.join(dir, 'README.md'), 'utf8'), /LoRA rank 4, alpha 8/);
      // Packing maps to TRL's best-fit decreasing packing.
      const packed = exportTrlRecipe(options({ sft: { batchSize: 4, packing: true, maxLength: 256 } })).recipe;
      assert.equal(packed.sft_config!.packing, true);
      assert.equal(packed.sft_config!.packing_strategy, 'bfd');
      assert.equal(packed.sft_config!.max_length, 257);
    });

    it('prompt-completion records are written as TRL prompt / completion', () => {
      const pc = records.slice(0, 8).map((r) => ({ kind: 'prompt-completion' as const, prompt: r.messages.slice(0, -1), completion: r.messages.slice(-1), source: r.source, id: r.id }));
      const exported = exportTrlRecipe(options({ records: pc }));
      const rows = fs.readFileSync(path.join(exported.dir, 'data/train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(rows[0], { prompt: pc[0].prompt, completion: pc[0].completion });
      assert.equal(exported.recipe.data.format, 'prompt-completion');
      // Ours masks the prompt of such records by completionOnlyLoss; TRL refuses assistant_only_loss on them.
      assert.equal(exported.recipe.sft_config!.assistant_only_loss, false);
      assert.equal(exported.recipe.sft_config!.completion_only_loss, true);
    });

    it('refuses bad input with an error that names what is wrong', () => {
      const refuses = (over: Partial<SftRecipeOptions>, pattern: RegExp) => assert.throws(() => exportTrlRecipe(options(over)), pattern);
      refuses({ trainer: 'rloo' as 'sft' }, /trainer "rloo" is not supported; expected one of "sft", "dpo", "grpo" \(RLOO recipes are planned but not written yet\)/);
      refuses({ trainer: 'ppo' as 'sft' }, /trainer "ppo" is not supported; expected one of "sft", "dpo", "grpo"$/);
      refuses({ records: [] }, /records is empty; there is nothing to train on/);
      refuses({ records: [{ prompt: 'x', chosen: 'y' }] as never }, /records\[0\]: expected a conversation .* got an object with "prompt", "chosen"/);
      refuses({ records: [records[0], { ...records[1], messages: [{ role: 'bot', content: 'hi' }] }] as never }, /records\[1\] \(world .*\): messages\[0\] must be \{role: "system" \| "user" \| "assistant", content: string\}/);
      refuses({ records: [records[0], { kind: 'prompt-completion', prompt: 'a', completion: 'b', source: 's', id: '1' }] }, /records\[1\] \(s 1\): a prompt-completion record among conversation records .* one format per dataset/);
      const noJinja: ChatTemplate = { ...template, name: 'mine', jinja: undefined };
      refuses({ template: noJinja }, /chat template "mine" has no Jinja source/);
      refuses({ baseModel: path.join(tmp, 'nowhere') }, /baseModel .*nowhere does not exist/);
      fs.mkdirSync(path.join(tmp, 'empty'), { recursive: true });
      refuses({ baseModel: path.join(tmp, 'empty') }, /baseModel .*empty has no config\.json/);
      refuses({ train: { steps: 5, lr: 0 } }, /train\.lr must be > 0, got 0/);
      refuses({ sft: { batchSize: 4, packing: true } }, /sft\.packing needs sft\.maxLength/);
      refuses({ processes: 3 }, /processes must be a positive integer dividing sft\.batchSize 4/);
      refuses({ out: baseDir }, /is the base model folder/);
      // A record that would train on nothing is sftExamples' error, naming the record.
      refuses({ records: [{ ...records[0], messages: records[0].messages.filter((m) => m.role !== 'assistant') }] }, /record .* \(index 0\)/);
      // A failed export leaves the previous folder as it was.
      assert.ok(fs.existsSync(path.join(tmp, 'recipe', 'recipe.json')));
    });

    it('finds the script from the sources and from the compiled library', function () {
      assert.equal(trlScriptPath(), path.join(ROOT, 'kernel-lib/recipes/trl_train.py'));
      const built = path.join(ROOT, 'build/kernel-lib/recipes/trl_recipe.js');
      if (!fs.existsSync(built)) {
        console.log('      SKIPPED: no build/kernel-lib/recipes (npm run build); the compiled layout was not checked');
        this.skip();
      }
      const found = execFileSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(built)}).trlScriptPath())`], { encoding: 'utf8' });
      assert.equal(found, path.join(ROOT, 'kernel-lib/recipes/trl_train.py'));
    });
  });

  describe('against TRL', function () {
    let python: string | null = null;

    before(function () {
      python = findTrlPython();
      if (!python) {
        console.log('      SKIPPED: no Python with TRL ($WORKBOOK_PYTHON, .venv/bin/python, python3); the recipe was checked without running it');
        this.skip();
      }
    });

    it('train.py refuses a bad option or a recipe it cannot run, naming it, before loading a model', () => {
      const exported = exportTrlRecipe(options({ out: path.join(tmp, 'refused') }));
      const stderr = (args: string[]): string => {
        try {
          execFileSync(python!, [path.join(exported.dir, 'train.py'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        } catch (e) {
          return String((e as { stderr: string }).stderr);
        }
        assert.fail(`train.py ${args.join(' ')} succeeded`);
      };
      assert.match(stderr(['--max-steps', '9']), /--max-steps must be between 1 and the recipe's 5 steps, got 9/);
      const file = path.join(exported.dir, 'recipe.json');
      fs.writeFileSync(file, JSON.stringify({ ...exported.recipe, trainer: 'kto' }));
      assert.match(stderr([]), /trainer 'kto'; this script runs 'sft', 'dpo', 'grpo' recipes/);
      fs.writeFileSync(file, JSON.stringify({ ...exported.recipe, trainer: 'dpo' }));
      assert.match(stderr([]), /no dpo_config \(the trainer's settings\)/);
      fs.writeFileSync(file, JSON.stringify({ ...exported.recipe, model: { ...exported.recipe.model, path: path.join(tmp, 'gone') } }));
      assert.match(stderr([]), /base model .*gone: no config\.json there \(pass --model DIR/);
    });

    it('full fine-tuning: TRL\'s losses on the exported recipe equal ours step by step', async () => {
      const exported = exportTrlRecipe(options({ out: path.join(tmp, 'full') }));
      const model = loadCheckpoint(baseDir).model;
      const ours = await train(model, settings, { objective: sftObjective, data: inOrder(exported.examples, tok.pad) });
      disposeDecoder(model);
      const trl = runTrl(python!, exported.dir, ['--sequential', '--output-dir', path.join(tmp, 'full-out')]);
      agree('full fine-tuning', ours.history, trl.steps);
      assert.equal(trl.summary.steps, 5);
      assert.ok(fs.existsSync(path.join(tmp, 'full-out', 'model.safetensors')), 'TRL saved the model');
    });

    it('LoRA from the same initial adapters: TRL\'s losses equal ours', async () => {
      const exported = exportTrlRecipe(options({ out: path.join(tmp, 'lora'), lora }));
      const model = loadCheckpoint(baseDir).model;
      addLora(model, lora, 11);
      saveAdapters(path.join(tmp, 'lora-init'), model);
      const ours = await train(model, settings, { objective: sftObjective, data: inOrder(exported.examples, tok.pad) });
      disposeDecoder(model);
      const trl = runTrl(python!, exported.dir, ['--sequential', '--init-adapters', path.join(tmp, 'lora-init'), '--output-dir', path.join(tmp, 'lora-out')]);
      agree('LoRA', ours.history, trl.steps);
      assert.ok(fs.existsSync(path.join(tmp, 'lora-out', 'adapter_model.safetensors')), 'TRL saved the adapters');
    });

    it('--from-messages: TRL tokenizes data/train.jsonl with the folder\'s tokenizer and template into our tokens (loss on every token)', async () => {
      // Assistant-only loss would need {% generation %} markers, which the
      // built-in ChatML source has not; on every token the masks need none.
      const allTokens = { ...sft, assistantOnlyLoss: false };
      const exported = exportTrlRecipe(options({ out: path.join(tmp, 'messages'), sft: allTokens }));
      const model = loadCheckpoint(baseDir).model;
      const ours = await train(model, settings, { objective: sftObjective, data: inOrder(exported.examples, tok.pad) });
      disposeDecoder(model);
      const trl = runTrl(python!, exported.dir, ['--sequential', '--from-messages', '--max-steps', '2', '--output-dir', path.join(tmp, 'messages-out')]);
      agree('from messages', ours.history.slice(0, 2), trl.steps);
      assert.equal(trl.summary.data, 'messages');
    });
  });
});

/**
 * Step by step: the same learning rate, token count and accuracy, and the
 * loss and gradient norm within 2e-6 relative. Measured (wasm float32 here,
 * torch float32 on the CPU there): at most 2e-7 on the tokenized data, 5e-7
 * from messages. The bound is tight on purpose: with lr 1e-3 a tiny model
 * moves little in 5 steps: transformers' default beta2 (0.999 for our 0.95)
 * shifts steps 3-5 by at most 3e-5 relative, which a 1e-4 bound would miss.
 */
function agree(what: string, ours: StepRecord[], trl: TrlLog[]): void {
  assert.equal(trl.length, ours.length, `${what}: TRL logged ${trl.length} steps`);
  ours.forEach((o, i) => {
    const t = trl[i];
    const at = `${what}, step ${o.step}`;
    console.log(`      ${at}: loss ${o.loss.toFixed(6)} / TRL ${t.loss.toFixed(6)} (${relative(t.loss, o.loss).toExponential(1)}), grad_norm ${o.grad_norm.toFixed(5)} / ${t.grad_norm.toFixed(5)} (${relative(t.grad_norm, o.grad_norm).toExponential(1)})`);
    assert.equal(t.step, o.step, `${at}: step`);
    assert.ok(relative(t.learning_rate, o.lr) < 1e-12, `${at}: learning_rate ${t.learning_rate}, ours ${o.lr}`);
    assert.equal(t.num_tokens, o.num_tokens, `${at}: num_tokens`);
    assert.ok(Math.abs(t.mean_token_accuracy - o.mean_token_accuracy) < 1e-6, `${at}: mean_token_accuracy ${t.mean_token_accuracy}, ours ${o.mean_token_accuracy}`);
    assert.ok(relative(t.loss, o.loss) < 2e-6, `${at}: loss ${t.loss}, ours ${o.loss}`);
    assert.ok(relative(t.grad_norm, o.grad_norm) < 2e-6, `${at}: grad_norm ${t.grad_norm}, ours ${o.grad_norm}`);
  });
}
