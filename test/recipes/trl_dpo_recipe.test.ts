// exportTrlRecipe for DPO: the folder (pairs in TRL's preference format, our
// prompt / chosen / rejected tokens, DPOConfig's mapping of every setting),
// its errors, and, where a Python with TRL is found, the exported train.py
// run by TRL's DPOTrainer against our dpo objective on the same tiny model,
// pairs and settings: the logged losses, rewards and log-probabilities agree
// step by step, for full fine-tuning and for LoRA started from the same
// adapters (with two loss types mixed).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { selectBackend } from '../../kernel-lib/runtime';
import { addLora, disposeDecoder, loadCheckpoint, saveAdapters, type Decoder, type LoraConfig } from '../../kernel-lib/model';
import { loadWorld, type PreferencePair } from '../../kernel-lib/data';
import { builtinTemplate, trainBpe, type BpeTokenizer } from '../../kernel-lib/text';
import { dpoObjective, preferenceBatch, referenceLogps, train, type BatchSource, type DpoLossOptions, type EncodedPair, type PreferenceBatch, type StepRecord, type TrainConfig } from '../../kernel-lib/train';
import { exportTrlRecipe, type DpoRecipeOptions, type WorkbookDpoSettings } from '../../kernel-lib/recipes';
import { findTrlPython } from '../../scripts/reference/python';
import { runTrl, saveTinyBase, type TrlLog } from './helpers';

const ROOT = path.join(__dirname, '../..');
const template = builtinTemplate('chatml');
const B = 4;
// As the SFT recipe's comparison: no warm-up (transformers' is one step behind ours), no decay.
const settings: TrainConfig = { steps: 5, lr: 1e-3, warmupSteps: 0, weightDecay: 0, clipNorm: 1, seed: 0, progress: 'none' };
const lora: LoraConfig = { rank: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };

/** Batches in the file's order: batch k is pairs 4k .. 4k + 3, no shuffle. */
function inOrder(pairs: EncodedPair[], padId: number): BatchSource<PreferenceBatch> {
  return { batch: (step) => preferenceBatch(pairs.slice(step * B, step * B + B), { padId }) };
}

describe('recipes/exportTrlRecipe: DPO', function () {
  this.timeout(300_000);
  let tmp: string;
  let tok: BpeTokenizer;
  let records: PreferencePair[];
  let baseDir: string;
  const dpo = { batchSize: B, maxLength: 100, tooLong: 'drop' as const };
  const options = (over: Partial<DpoRecipeOptions> = {}): DpoRecipeOptions => ({
    out: path.join(tmp, 'recipe'),
    trainer: 'dpo',
    baseModel: baseDir,
    records,
    tokenizer: tok,
    template,
    dpo,
    train: settings,
    ...over,
  });

  before(async () => {
    await selectBackend('wasm');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trl-dpo-recipe-'));
    const world = loadWorld(path.join(ROOT, 'data/world'));
    records = world.preferencesTrain.slice(0, 30);
    const text = [world.corpus.slice(0, 20_000), ...records.flatMap((p) => [...p.prompt, ...p.chosen, ...p.rejected].map((m) => m.content))];
    tok = trainBpe(text, { vocabSize: 320, specialTokens: ['<|pad|>', '<|eos|>', ...template.specialTokens], padToken: '<|pad|>', eosToken: '<|eos|>' });
    baseDir = path.join(tmp, 'base');
    saveTinyBase(baseDir, tok.vocabSize);
  });

  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('the folder and recipe.json', () => {
    it('holds the pairs in TRL\'s preference format, our prompt / chosen / rejected tokens, and DPOConfig\'s settings', () => {
      const exported = exportTrlRecipe(options());
      const dir = exported.dir;
      const lines = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const kept = records.filter((r) => exported.examples.some((p) => p.id === r.id));
      assert.ok(kept.length >= 20 && kept.length < records.length, `${kept.length} of ${records.length} pairs fit in 100 tokens: enough for 5 steps, and some left out`);
      assert.deepEqual(exported.recipe.data.dropped, records.filter((r) => !kept.includes(r)).map((r) => r.id));
      const strip = (ms: { role: string; content: string }[]) => ms.map((m) => ({ role: m.role, content: m.content }));
      assert.deepEqual(lines('data/train.jsonl'), kept.map((r) => ({ prompt: strip(r.prompt), chosen: strip(r.chosen), rejected: strip(r.rejected) })));
      const tokenized = lines('data/train.tokenized.jsonl');
      tokenized.forEach((row, i) => {
        const p = exported.examples[i];
        const prompt = tok.encode(template.render(kept[i].prompt, { addGenerationPrompt: true }).text, { addSpecialTokens: false });
        assert.deepEqual(row.prompt_ids, prompt, `pair ${p.id}: prompt_ids`);
        assert.deepEqual([...row.prompt_ids, ...row.chosen_ids], p.chosen, `pair ${p.id}: prompt + chosen`);
        assert.deepEqual([...row.prompt_ids, ...row.rejected_ids], p.rejected, `pair ${p.id}: prompt + rejected`);
        assert.equal(tok.idToToken(row.chosen_ids.at(-1)), '<|im_end|>', 'a reply ends with its end-of-turn token');
      });
      const recipe = exported.recipe;
      assert.equal(recipe.trainer, 'dpo');
      assert.equal(recipe.data.format, 'preference');
      assert.equal(recipe.data.trained_tokens, tokenized.reduce((n, r) => n + r.chosen_ids.length + r.rejected_ids.length, 0));
      assert.equal(recipe.sft_config, undefined);
      assert.deepEqual(recipe.dpo_config, {
        max_steps: 5, learning_rate: 1e-3, lr_scheduler_type: 'cosine_with_min_lr', lr_scheduler_kwargs: { min_lr: 1e-4 }, warmup_steps: 0,
        optim: 'adamw_torch', adam_beta1: 0.9, adam_beta2: 0.95, adam_epsilon: 1e-8, weight_decay: 0, max_grad_norm: 1, gradient_accumulation_steps: 1, seed: 0,
        logging_steps: 1, save_strategy: 'no', report_to: 'none',
        loss_type: ['sigmoid'], loss_weights: [1], beta: 0.1, label_smoothing: 0, discopop_tau: 0.05,
        precompute_ref_log_probs: true, max_length: 100, disable_dropout: true,
      });
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'recipe.json'), 'utf8')), JSON.parse(JSON.stringify(recipe)));
      const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
      assert.match(readme, /^# DPO recipe for Hugging Face TRL/);
      assert.match(readme, /TRL's `DPOTrainer` runs it/);
      assert.match(readme, /loss: sigmoid, beta 0\.1/);
      assert.match(readme, /\d+ pairs over the length limit left out/);
      assert.match(fs.readFileSync(path.join(dir, 'accelerate.yaml'), 'utf8'), /^num_processes: 4$/m);
    });

    it('maps the loss mix, label smoothing and LoRA dropout', () => {
      const r = exportTrlRecipe(options({
        dpo: { batchSize: 6, accumulation: 2, seed: 4, lossType: ['robust', 'sft'], lossWeights: [1, 0.25], beta: 0.3, labelSmoothing: 0.1 },
        lora: { ...lora, dropout: 0.05 },
      })).recipe;
      const w = r.workbook as WorkbookDpoSettings;
      assert.deepEqual([w.lossType, w.lossWeights, w.beta, w.labelSmoothing, w.accumulation, w.dataSeed, w.maxLength], [['robust', 'sft'], [1, 0.25], 0.3, 0.1, 2, 4, null]);
      assert.deepEqual(
        [r.dpo_config!.loss_type, r.dpo_config!.loss_weights, r.dpo_config!.beta, r.dpo_config!.label_smoothing, r.dpo_config!.gradient_accumulation_steps, r.dpo_config!.max_length, r.dpo_config!.disable_dropout],
        [['robust', 'sft'], [1, 0.25], 0.3, 0.1, 2, null, false],
      );
      assert.equal(r.batch_size, 6);
      assert.deepEqual(r.peft, { r: 4, lora_alpha: 8, lora_dropout: 0.05, target_modules: lora.targets, bias: 'none', task_type: 'CAUSAL_LM' });
      assert.ok(r.notes.some((n) => /LoRA dropout draws different masks/.test(n)));
      assert.match(fs.readFileSync(path.join(tmp, 'recipe', 'README.md'), 'utf8'), /loss: 1 x robust \+ 0\.25 x sft, beta 0\.3, label smoothing 0\.1/);
    });

    it('refuses bad input with an error that names what is wrong', () => {
      const refuses = (over: Partial<DpoRecipeOptions>, pattern: RegExp) => assert.throws(() => exportTrlRecipe(options(over)), pattern);
      refuses({ records: [{ kind: 'conversation', messages: [{ role: 'user', content: 'hi' }], source: 'world', id: 'c1' }] as never }, /records\[0\] \(world c1\): expected a preference pair .* for a DPO recipe, got an object with "kind", "messages"/);
      refuses({ records: [records[0], { ...records[1], chosen: [{ role: 'bot' as never, content: 'x' }] }] }, /records\[1\] \(world .*\): chosen\[0\] must be \{role/);
      refuses({ dpo: undefined as never }, /a DPO recipe needs dpo: \{batchSize/);
      refuses({ dpo: { batchSize: 4, lossType: 'dpo' as never } }, /dpo: unknown loss type "dpo"; known: sigmoid, hinge/);
      refuses({ dpo: { batchSize: 4, beta: 0 } }, /dpo: beta must be > 0, got 0/);
      refuses({ dpo: { batchSize: 4, labelSmoothing: 0.1 } }, /dpo: labelSmoothing 0\.1 has no effect on sigmoid/);
      refuses({ dpo: { batchSize: 0 } }, /dpo\.batchSize must be a positive integer, got 0/);
      refuses({ dpo: { batchSize: 4, maxLength: 40 } }, /world pair .*: chosen has \d+ tokens and rejected \d+, over maxLength 40/);
      refuses({ dpo: { batchSize: 4, maxLength: 5, tooLong: 'drop' } }, /every one of the 30 pairs is over dpo\.maxLength 5/);
      refuses({ processes: 3 }, /processes must be a positive integer dividing dpo\.batchSize 4/);
    });
  });

  describe('against TRL', function () {
    let python: string | null = null;

    before(function () {
      python = findTrlPython();
      if (!python) {
        console.log('      SKIPPED: no Python with TRL ($WORKBOOK_PYTHON, .venv/bin/python, python3); the DPO recipe was checked without running it');
        this.skip();
      }
    });

    /** Our run of an exported recipe: the reference (the base model) scores the pairs once, the policy trains on them in order. */
    async function ours(pairs: EncodedPair[], policy: Decoder, loss: DpoLossOptions): Promise<StepRecord[]> {
      const reference = loadCheckpoint(baseDir).model;
      const prepared = referenceLogps(reference, pairs, { padId: tok.pad, batchSize: B });
      disposeDecoder(reference);
      const result = await train(policy, settings, { objective: dpoObjective(loss), data: inOrder(prepared, tok.pad) });
      return result.history;
    }

    it('full fine-tuning: TRL\'s losses, rewards and log-probabilities on the exported recipe equal ours step by step', async () => {
      const exported = exportTrlRecipe(options({ out: path.join(tmp, 'full') }));
      const model = loadCheckpoint(baseDir).model;
      const history = await ours(exported.examples, model, {});
      disposeDecoder(model);
      const trl = runTrl(python!, exported.dir, ['--sequential', '--output-dir', path.join(tmp, 'full-out')]);
      agree('full fine-tuning', history, trl.steps);
      assert.equal(trl.summary.summary, 'dpo');
      assert.equal(trl.summary.steps, 5);
      assert.ok(fs.existsSync(path.join(tmp, 'full-out', 'model.safetensors')), 'TRL saved the model');
    });

    it('--from-messages: TRL tokenizes the pairs itself, each reply one token longer (the newline ChatML writes after a turn)', async () => {
      const exported = exportTrlRecipe(options({ out: path.join(tmp, 'messages') }));
      const trl = runTrl(python!, exported.dir, ['--sequential', '--from-messages', '--max-steps', '1', '--output-dir', path.join(tmp, 'messages-out')]);
      assert.equal(trl.steps.length, 1);
      assert.ok(Math.abs(trl.steps[0].loss - Math.LN2) < 1e-6, `step 1 starts at the reference: loss ln 2, got ${trl.steps[0].loss}`);
      const ours = exported.examples.slice(0, B).reduce((n, p) => n + p.chosen.length + p.rejected.length, 0);
      assert.equal(trl.steps[0].num_tokens, ours + 2 * B);
      assert.equal(trl.summary.data, 'messages');
    });

    it('LoRA from the same initial adapters, sigmoid + 0.5 x sft at beta 0.5: TRL\'s run equals ours', async () => {
      const loss: DpoLossOptions = { lossType: ['sigmoid', 'sft'], lossWeights: [1, 0.5], beta: 0.5 };
      const exported = exportTrlRecipe(options({ out: path.join(tmp, 'lora'), lora, dpo: { ...dpo, ...loss } }));
      const model = loadCheckpoint(baseDir).model;
      addLora(model, lora, 11);
      saveAdapters(path.join(tmp, 'lora-init'), model);
      const history = await ours(exported.examples, model, loss);
      disposeDecoder(model);
      const trl = runTrl(python!, exported.dir, ['--sequential', '--init-adapters', path.join(tmp, 'lora-init'), '--output-dir', path.join(tmp, 'lora-out')]);
      agree('LoRA', history, trl.steps);
      assert.ok(fs.existsSync(path.join(tmp, 'lora-out', 'adapter_model.safetensors')), 'TRL saved the adapters');
    });
  });
});

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

/**
 * Step by step: the same learning rate, token count and reward accuracy; the
 * loss and log-probabilities within 1e-5 relative, the gradient norm within
 * 3e-5, the rewards (β times small log-ratios) within 1e-5 absolute.
 * Measured (wasm float32 here, torch float32 on the CPU there): loss at most
 * 1.3e-6 relative, gradient norm 7.7e-6 (LoRA, where the norm is small).
 */
function agree(what: string, ours: StepRecord[], trl: TrlLog[]): void {
  assert.equal(trl.length, ours.length, `${what}: TRL logged ${trl.length} steps`);
  ours.forEach((o, i) => {
    const t = trl[i];
    const at = `${what}, step ${o.step}`;
    console.log(`      ${at}: loss ${o.loss.toFixed(6)} / TRL ${t.loss.toFixed(6)} (${relative(t.loss, o.loss).toExponential(1)}), grad_norm ${relative(t.grad_norm, o.grad_norm).toExponential(1)}, rewards/margins ${o['rewards/margins'].toFixed(5)} / ${t['rewards/margins'].toFixed(5)}`);
    assert.equal(t.step, o.step, `${at}: step`);
    assert.ok(relative(t.learning_rate, o.lr) < 1e-12, `${at}: learning_rate ${t.learning_rate}, ours ${o.lr}`);
    assert.equal(t.num_tokens, o.num_tokens, `${at}: num_tokens`);
    assert.equal(t['rewards/accuracies'], o['rewards/accuracies'], `${at}: rewards/accuracies`);
    assert.ok(relative(t.loss, o.loss) < 1e-5, `${at}: loss ${t.loss}, ours ${o.loss}`);
    assert.ok(relative(t.grad_norm, o.grad_norm) < 3e-5, `${at}: grad_norm ${t.grad_norm}, ours ${o.grad_norm}`);
    for (const k of ['logps/chosen', 'logps/rejected']) assert.ok(relative(t[k], o[k]) < 1e-5, `${at}: ${k} ${t[k]}, ours ${o[k]}`);
    for (const k of ['rewards/chosen', 'rewards/rejected', 'rewards/margins']) assert.ok(Math.abs(t[k] - o[k]) < 1e-5, `${at}: ${k} ${t[k]}, ours ${o[k]}`);
  });
}
