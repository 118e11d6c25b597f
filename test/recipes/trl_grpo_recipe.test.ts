// exportTrlRecipe for GRPO: the folder (prompts with the world tasks they
// come from, GRPOConfig's mapping, the rewards), the bundled oracle giving
// the workbook's scores under plain node, its errors, and, where a Python
// with TRL is found, the recipe's reward-model reward giving our
// scoreReplies' scores on the same replies, and the exported train.py run by
// TRL's GRPOTrainer for two steps with both rewards. GRPO samples its own
// replies, so losses are not compared step by step as for SFT and DPO: what
// must agree is what a reply is worth.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { selectBackend } from '../../kernel-lib/runtime';
import { disposeDecoder, loadRewardModel, saveRewardModel, type LoraConfig } from '../../kernel-lib/model';
import { loadWorld, type Conversation } from '../../kernel-lib/data';
import { oracleScore } from '../../kernel-lib/eval';
import { builtinTemplate, trainBpe, type BpeTokenizer } from '../../kernel-lib/text';
import { scoreReplies, type TrainConfig } from '../../kernel-lib/train';
import { exportTrlRecipe, type GrpoRecipeOptions, type WorkbookGrpoSettings } from '../../kernel-lib/recipes';
import { findTrlPython } from '../../scripts/reference/python';
import { runTrl, saveTinyBase } from './helpers';

const ROOT = path.join(__dirname, '../..');
const template = builtinTemplate('chatml');
const settings: TrainConfig = { steps: 4, lr: 1e-3, warmupSteps: 0, weightDecay: 0, seed: 0, progress: 'none' };
const lora: LoraConfig = { rank: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'] };

describe('recipes/exportTrlRecipe: GRPO', function () {
  this.timeout(300_000);
  let tmp: string;
  let tok: BpeTokenizer;
  let tasks: Conversation[];
  let baseDir: string;
  let rewardDir: string;
  const grpo = () => ({ promptsPerStep: 2, groupSize: 4, maxNewTokens: 12, rewards: [{ kind: 'oracle' as const }, { kind: 'reward-model' as const, path: rewardDir, name: 'rm', weight: 0 }] });
  const options = (over: Partial<GrpoRecipeOptions> = {}): GrpoRecipeOptions => ({
    out: path.join(tmp, 'recipe'),
    trainer: 'grpo',
    baseModel: baseDir,
    records: tasks,
    tokenizer: tok,
    template,
    grpo: grpo(),
    train: settings,
    ...over,
  });

  before(async () => {
    await selectBackend('wasm');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trl-grpo-recipe-'));
    const world = loadWorld(path.join(ROOT, 'data/world'));
    tasks = world.sftTest.slice(0, 12);
    tok = trainBpe(world.corpus, { vocabSize: 320, specialTokens: ['<|pad|>', '<|eos|>', ...template.specialTokens], padToken: '<|pad|>', eosToken: '<|eos|>', maxChars: 20_000 });
    baseDir = path.join(tmp, 'base');
    saveTinyBase(baseDir, tok.vocabSize);
    rewardDir = path.join(tmp, 'reward');
    const reward = loadRewardModel(baseDir, { seed: 5 }).model;
    saveRewardModel(rewardDir, reward, { padTokenId: tok.pad });
    disposeDecoder(reward);
  });

  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('the folder and recipe.json', () => {
    it('holds the prompts with their world tasks, the rewards (the oracle bundled) and GRPOConfig\'s settings', () => {
      const exported = exportTrlRecipe(options());
      const dir = exported.dir;
      assert.deepEqual(exported.files, [
        'README.md', 'accelerate.yaml', 'chat_template.jinja', 'data/train.jsonl', 'oracle_reward.js', 'recipe.json', 'rewards.py',
        'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'train.py',
      ]);
      const rows = fs.readFileSync(path.join(dir, 'data/train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      rows.forEach((row, i) => {
        assert.deepEqual(row.prompt, tasks[i].messages.slice(0, -1).map((m) => ({ role: m.role, content: m.content })), `prompt ${i}: the task without its reply`);
        assert.deepEqual(JSON.parse(row.world_task), tasks[i], `prompt ${i}: the record the oracle judges by`);
      });
      const recipe = exported.recipe;
      assert.equal(recipe.data.format, 'prompt-only');
      assert.equal(recipe.data.tokenized, null);
      assert.equal(recipe.batch_size, 8, '2 prompts x 4 replies');
      assert.deepEqual(recipe.rewards, [{ kind: 'oracle', name: 'oracle', weight: 1 }, { kind: 'reward-model', path: rewardDir, name: 'rm', weight: 0 }]);
      assert.equal(recipe.oracle, 'oracle_reward.js');
      assert.deepEqual(recipe.grpo_config, {
        max_steps: 4, learning_rate: 1e-3, lr_scheduler_type: 'cosine_with_min_lr', lr_scheduler_kwargs: { min_lr: 1e-4 }, warmup_steps: 0,
        optim: 'adamw_torch', adam_beta1: 0.9, adam_beta2: 0.95, adam_epsilon: 1e-8, weight_decay: 0, max_grad_norm: 1, gradient_accumulation_steps: 1, seed: 0,
        logging_steps: 1, save_strategy: 'no', report_to: 'none',
        num_generations: 4, max_completion_length: 12, temperature: 1, top_p: 1, top_k: 0, num_iterations: 1,
        loss_type: 'dapo', epsilon: 0.2, epsilon_high: 0.2, beta: 0, scale_rewards: 'group', reward_weights: [1, 0],
        mask_truncated_completions: false, disable_dropout: true,
      });
      assert.equal(fs.readFileSync(path.join(dir, 'rewards.py'), 'utf8'), fs.readFileSync(path.join(ROOT, 'kernel-lib/recipes/trl_rewards.py'), 'utf8'));
      const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
      assert.match(readme, /^# GRPO recipe for Hugging Face TRL/);
      assert.match(readme, /rewards: oracle \(the world's oracle, oracle_reward\.js\) x 1 \+ rm \(reward model .*\) x 0/);
      assert.match(readme, /rollouts: 2 prompts x 4 replies per micro-batch, up to 12 new tokens/);
      assert.match(fs.readFileSync(path.join(dir, 'accelerate.yaml'), 'utf8'), /^num_processes: 8$/m);
    });

    it('the bundled oracle_reward.js, run by plain node from the folder alone, gives the workbook\'s scores', () => {
      const exported = exportTrlRecipe(options({ grpo: { ...grpo(), rewards: [{ kind: 'oracle' }] } }));
      const alone = path.join(tmp, 'alone');
      fs.mkdirSync(alone, { recursive: true });
      fs.copyFileSync(path.join(exported.dir, 'oracle_reward.js'), path.join(alone, 'oracle_reward.js'));
      assert.ok(fs.statSync(path.join(alone, 'oracle_reward.js')).size < 200_000, 'the judge alone, not the library');
      const cases = tasks.flatMap((task) => {
        const answer = task.messages.at(-1)!.content;
        return [answer, `Sure! ${answer}`, `${answer} I hope this helps.`, 'I do not know.', ''].map((reply) => ({ task, reply }));
      });
      const input = cases.map((c) => JSON.stringify(c)).join('\n') + '\n' + JSON.stringify({ task: 7, reply: 'x' }) + '\n';
      const out = execFileSync(process.execPath, [path.join(alone, 'oracle_reward.js')], { input, encoding: 'utf8', cwd: alone }).trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(out.length, cases.length + 1);
      cases.forEach((c, i) => {
        const ours = oracleScore(c.task, c.reply);
        assert.deepEqual(out[i], JSON.parse(JSON.stringify(ours)), `${c.task.id}: ${JSON.stringify(c.reply)}`);
      });
      assert.ok(new Set(out.slice(0, -1).map((o) => o.score)).size >= 3, 'the cases reach several scores');
      assert.match(out.at(-1).error, /task must be a world conversation record/);
    });

    it('refuses bad input with an error that names what is wrong', () => {
      const refuses = (over: Partial<GrpoRecipeOptions>, pattern: RegExp) => assert.throws(() => exportTrlRecipe(options(over)), pattern);
      const g = grpo();
      refuses({ records: [[{ role: 'user', content: 'hi' }]] }, /records\[0\]: the oracle reward judges world tasks .* use a reward model for other prompts/);
      refuses({ records: [{ ...tasks[0], messages: [{ role: 'assistant', content: 'x' }] }] }, /records\[0\] \(world .*\): no user message before the reply/);
      refuses({ grpo: { ...g, rewards: [] } }, /grpo\.rewards must list at least one reward/);
      refuses({ grpo: { ...g, rewards: [{ kind: 'judge' as never }] } }, /grpo\.rewards\[0\]: kind must be "oracle" or "reward-model", got "judge"/);
      refuses({ grpo: { ...g, rewards: [{ kind: 'reward-model', path: baseDir }] } }, /reward "reward_model": .*config\.json is a LlamaForCausalLM, not a sequence classifier/);
      refuses({ grpo: { ...g, rewards: [{ kind: 'oracle' }, { kind: 'oracle' }] } }, /two rewards are named "oracle"/);
      refuses({ grpo: { ...g, rewards: [{ kind: 'oracle', weight: 0 }] } }, /every weight is 0/);
      refuses({ grpo: { ...g, rewards: [{ kind: 'oracle', name: 'my oracle' }] } }, /name must be an identifier/);
      refuses({ grpo: { ...g, groupSize: 1 } }, /grpo\.groupSize must be an integer >= 2/);
      refuses({ grpo: { ...g, promptsPerStep: undefined as never } }, /grpo\.promptsPerStep is required/);
      refuses({ grpo: { ...g, lossType: 'ppo' as never } }, /grpo: unknown lossType "ppo"; known: grpo, dr_grpo, dapo, bnpo/);
      refuses({ grpo: { ...g, topP: 0 } }, /grpo\.topP must be in \(0, 1\]/);
      refuses({ processes: 3 }, /processes must be a positive integer dividing grpo\.batchSize 8/);
    });
  });

  describe('against TRL', function () {
    let python: string | null = null;

    before(function () {
      python = findTrlPython();
      if (!python) {
        console.log('      SKIPPED: no Python with TRL ($WORKBOOK_PYTHON, .venv/bin/python, python3); the GRPO recipe was checked without running it');
        this.skip();
      }
    });

    it('rewards.py\'s reward model gives our scoreReplies\' scores on the same replies', () => {
      const exported = exportTrlRecipe(options({ out: path.join(tmp, 'scores') }));
      const cases = tasks.slice(0, 4).map((t) => ({ prompt: t.messages.slice(0, -1), replies: [t.messages.at(-1)!.content, 'Sure! I do not know.', 'x'] }));
      const script = [
        'import json, sys',
        `sys.path.insert(0, ${JSON.stringify(exported.dir)})`,
        'from transformers import AutoTokenizer',
        'from rewards import RewardModelReward',
        `tok = AutoTokenizer.from_pretrained(${JSON.stringify(exported.dir)})`,
        `rm = RewardModelReward(${JSON.stringify(rewardDir)}, tok, "<|im_end|>", "rm")`,
        'cases = json.load(sys.stdin)',
        'print(json.dumps([rm([c["prompt"]] * len(c["replies"]), [[{"role": "assistant", "content": r}] for r in c["replies"]]) for c in cases]))',
      ].join('\n');
      const theirs: number[][] = JSON.parse(execFileSync(python!, ['-c', script], { input: JSON.stringify(cases), encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HF_HUB_OFFLINE: '1', PYTHONWARNINGS: 'ignore' } }).trim().split('\n').at(-1)!);
      const model = loadRewardModel(rewardDir).model;
      cases.forEach((c, i) => {
        const ours = scoreReplies(model, tok, template, c.prompt, c.replies);
        ours.forEach((s, k) => assert.ok(Math.abs(s - theirs[i][k]) < 1e-5, `prompt ${i}, reply ${k}: ours ${s}, TRL's reward ${theirs[i][k]}`));
      });
      disposeDecoder(model);
    });

    it('train.py runs the recipe with TRL\'s GRPOTrainer: LoRA, a KL term, the reward model trained on and the oracle logged by name', () => {
      // A tiny random policy never answers a world task, so the oracle gives 0
      // everywhere and no signal; the (random) reward model does give one.
      const rewards = [{ kind: 'oracle' as const, weight: 0 }, { kind: 'reward-model' as const, path: rewardDir, name: 'rm' }];
      const exported = exportTrlRecipe(options({ out: path.join(tmp, 'run'), lora, grpo: { ...grpo(), rewards, beta: 0.04 } }));
      const { steps, summary } = runTrl(python!, exported.dir, ['--max-steps', '2', '--output-dir', path.join(tmp, 'run-out')]);
      assert.equal(steps.length, 2);
      for (const s of steps) {
        console.log(`      step ${s.step}: loss ${s.loss.toFixed(5)}, reward ${s.reward.toFixed(3)}, rewards/oracle/mean ${s['rewards/oracle/mean'].toFixed(3)}, rewards/rm/mean ${s['rewards/rm/mean'].toFixed(4)}, kl ${s.kl.toExponential(2)}, completions/mean_length ${s['completions/mean_length']}`);
        for (const k of ['loss', 'grad_norm', 'reward', 'reward_std', 'rewards/oracle/mean', 'rewards/rm/mean', 'kl', 'completions/mean_length']) assert.ok(Number.isFinite(s[k]), `step ${s.step}: ${k} ${s[k]}`);
        // The oracle has weight 0: the trained reward is the reward model's alone.
        assert.ok(Math.abs(s.reward - s['rewards/rm/mean']) < 1e-6, `step ${s.step}: reward ${s.reward} is the reward model's ${s['rewards/rm/mean']}`);
        assert.ok(s.reward_std > 0 && s.grad_norm > 0, `step ${s.step}: replies differ in reward (reward_std ${s.reward_std}) and the policy gets a gradient (${s.grad_norm})`);
        assert.ok(s['completions/max_length'] <= 12, 'replies stay within the budget');
      }
      assert.ok(steps[1].kl > 0, `after a step the policy has moved off the reference: kl ${steps[1].kl}`);
      assert.equal(summary.summary, 'grpo');
      assert.ok(fs.existsSync(path.join(tmp, 'run-out', 'adapter_model.safetensors')), 'TRL saved the adapters');
      assert.equal((exported.recipe.workbook as WorkbookGrpoSettings).beta, 0.04);
    });
  });
});
