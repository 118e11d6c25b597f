// A workbook GRPO run's settings as TRL's GRPOConfig. The loop, AdamW, the
// schedule and LoRA map as for SFT (trl_settings.ts); this file adds the
// rollout (prompts per step, group size, the reply budget, sampling), the
// clipped policy-gradient loss (policy_loss.ts follows TRL's loss types), the
// group-relative advantages and the rewards: the world's oracle (bundled
// into the recipe as oracle_reward.js) or a reward model folder (notebook
// 05's), each with its weight.
import type { LoraConfig } from '../model/lora_state';
import { checkPolicyLossOptions, type PolicyLossType } from '../train/policy_loss';
import type { RlLossOptions, RolloutBatchesOptions } from '../train/rl';
import type { TrainConfig } from '../train/trainer';
import { positiveInteger, trainingArguments, trainingNotes, workbookTrainSettings, type WorkbookTrainSettings } from './trl_settings';

/** A reward of a GRPO recipe: the world's oracle (oracleReward), or a reward model saved by saveRewardModel (rewardModelReward). */
export type RecipeReward =
  | { kind: 'oracle'; name?: string; weight?: number }
  | { kind: 'reward-model'; path: string; name?: string; weight?: number };

/**
 * How a GRPO run samples, scores and trains: rolloutBatches' options (what
 * a rollout draws and samples; promptsPerStep counts over all devices
 * together) and rlObjective's loss options, as the workbook's run takes them,
 * with the rewards described rather than built.
 */
export interface GrpoRecipeConfig
  extends Pick<RolloutBatchesOptions, 'promptsPerStep' | 'groupSize' | 'maxNewTokens' | 'temperature' | 'topK' | 'topP' | 'scaleRewards' | 'iterations' | 'seed'>,
    Pick<RlLossOptions, 'lossType' | 'epsilon' | 'epsilonHigh' | 'beta'> {
  /** Micro-batches per update (the same as train.accumulation when both are given). */
  accumulation?: number;
  /** The rewards, summed with their weights (default 1 each; 0 logs a reward without training on it). */
  rewards: RecipeReward[];
}

/** A reward as recipe.json names it, its reward model folder resolved to an absolute path. */
export type RecipeRewardSettings = { kind: 'oracle'; name: string; weight: number } | { kind: 'reward-model'; path: string; name: string; weight: number };

/** A workbook GRPO run's settings with every default filled in. */
export interface WorkbookGrpoSettings extends WorkbookTrainSettings {
  promptsPerStep: number;
  groupSize: number;
  maxNewTokens: number;
  temperature: number;
  topK: number | null;
  topP: number;
  scaleRewards: 'group' | 'batch' | 'none';
  iterations: number;
  lossType: PolicyLossType;
  epsilon: number;
  epsilonHigh: number;
  beta: number;
  rewards: RecipeRewardSettings[];
}

function checkRewards(rewards: unknown, resolve: (p: string) => string): RecipeRewardSettings[] {
  if (!Array.isArray(rewards) || rewards.length === 0) throw new Error('exportTrlRecipe: grpo.rewards must list at least one reward ({kind: "oracle"} or {kind: "reward-model", path})');
  const out = rewards.map((r: any, i): RecipeRewardSettings => {
    const where = `exportTrlRecipe: grpo.rewards[${i}]`;
    const weight = r?.weight ?? 1;
    if (!(typeof weight === 'number' && Number.isFinite(weight))) throw new Error(`${where}: weight must be a finite number, got ${r?.weight}`);
    if (r?.name !== undefined && !(typeof r.name === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(r.name))) {
      throw new Error(`${where}: name must be an identifier (letters, digits, _), got ${JSON.stringify(r.name)}: TRL logs it as rewards/<name>/mean`);
    }
    if (r?.kind === 'oracle') return { kind: 'oracle', name: r.name ?? 'oracle', weight };
    if (r?.kind === 'reward-model') {
      if (typeof r.path !== 'string' || r.path === '') throw new Error(`${where}: a reward-model reward needs path, the reward model's folder (saveRewardModel's)`);
      return { kind: 'reward-model', path: resolve(r.path), name: r.name ?? 'reward_model', weight };
    }
    throw new Error(`${where}: kind must be "oracle" or "reward-model", got ${JSON.stringify(r?.kind)}`);
  });
  const names = out.map((r) => r.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new Error(`exportTrlRecipe: grpo.rewards: two rewards are named "${twice}"; give each its own name`);
  if (!out.some((r) => r.weight !== 0)) throw new Error('exportTrlRecipe: grpo.rewards: every weight is 0, so nothing would be trained on');
  return out;
}

/** The settings a workbook GRPO run with `train` and `grpo` (and `lora`) trains with; throws naming a field the trainer would refuse. */
export function workbookGrpoSettings(train: TrainConfig, grpo: GrpoRecipeConfig, lora: LoraConfig | undefined, resolve: (p: string) => string): WorkbookGrpoSettings {
  if (!grpo || typeof grpo !== 'object') throw new Error('exportTrlRecipe: a GRPO recipe needs grpo: {promptsPerStep, rewards, ...}');
  positiveInteger(grpo.promptsPerStep, 'grpo.promptsPerStep');
  if (grpo.promptsPerStep === undefined) throw new Error('exportTrlRecipe: grpo.promptsPerStep is required');
  const groupSize = grpo.groupSize ?? 8;
  if (!(Number.isInteger(groupSize) && groupSize >= 2)) throw new Error(`exportTrlRecipe: grpo.groupSize must be an integer >= 2 (advantages compare replies within a group), got ${grpo.groupSize}`);
  // The micro-batch is promptsPerStep groups of replies: the rows a step trains on.
  const common = workbookTrainSettings(train, { batchSize: grpo.promptsPerStep * groupSize, accumulation: grpo.accumulation, seed: grpo.seed }, 'grpo', lora);
  positiveInteger(grpo.maxNewTokens, 'grpo.maxNewTokens');
  positiveInteger(grpo.iterations, 'grpo.iterations');
  positiveInteger(grpo.topK, 'grpo.topK');
  const temperature = grpo.temperature ?? 1;
  if (!(temperature > 0)) throw new Error(`exportTrlRecipe: grpo.temperature must be > 0, got ${grpo.temperature}`);
  const topP = grpo.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new Error(`exportTrlRecipe: grpo.topP must be in (0, 1], got ${grpo.topP}`);
  const scaleRewards = grpo.scaleRewards ?? 'group';
  if (!['group', 'batch', 'none'].includes(scaleRewards)) throw new Error(`exportTrlRecipe: grpo.scaleRewards must be "group", "batch" or "none", got ${JSON.stringify(grpo.scaleRewards)}`);
  const maxNewTokens = grpo.maxNewTokens ?? 48;
  let loss: ReturnType<typeof checkPolicyLossOptions>;
  try {
    loss = checkPolicyLossOptions({ lossType: grpo.lossType, epsilon: grpo.epsilon, epsilonHigh: grpo.epsilonHigh, beta: grpo.beta, maxCompletionLength: maxNewTokens });
  } catch (e) {
    throw new Error(`exportTrlRecipe: grpo: ${(e as Error).message.replace(/^policyLoss: /, '')}`);
  }
  if (!(loss.beta >= 0)) throw new Error(`exportTrlRecipe: grpo.beta must be >= 0, got ${grpo.beta}`);
  return {
    ...common,
    promptsPerStep: grpo.promptsPerStep,
    groupSize,
    maxNewTokens,
    temperature,
    topK: grpo.topK ?? null,
    topP,
    scaleRewards,
    iterations: grpo.iterations ?? 1,
    lossType: loss.type,
    epsilon: loss.epsLow,
    epsilonHigh: loss.epsHigh,
    beta: loss.beta,
    rewards: checkRewards(grpo.rewards, resolve),
  };
}

/** GRPOConfig's arguments for the same run, by TRL / transformers name (TrainingArguments' first). */
export function trlGrpoConfig(s: WorkbookGrpoSettings): Record<string, unknown> {
  return {
    ...trainingArguments(s),
    // A step trains on promptsPerStep groups of groupSize replies per
    // micro-batch; train.py sets per_device_train_batch_size to that many
    // rows over the processes, and TRL generates once per update (its
    // steps_per_generation defaults to the accumulation), sampling
    // promptsPerStep prompts per micro-batch as ours does.
    num_generations: s.groupSize,
    max_completion_length: s.maxNewTokens,
    temperature: s.temperature,
    top_p: s.topP,
    // TRL's 0 (and ours left out) samples from the whole vocabulary.
    top_k: s.topK ?? 0,
    num_iterations: s.iterations,
    // policy_loss.ts follows TRL's loss types and clipping; both default to
    // dapo and ε = 0.2, and ε_high to ε.
    loss_type: s.lossType,
    epsilon: s.epsilon,
    epsilon_high: s.epsilonHigh,
    // The k3 KL to the reference, per token; 0 loads no reference in either.
    beta: s.beta,
    scale_rewards: s.scaleRewards,
    reward_weights: s.rewards.map((r) => r.weight),
    // A reply that hits the budget still trains, in both.
    mask_truncated_completions: false,
    // As for DPO: dropout stays on only where the run has LoRA dropout.
    disable_dropout: !(s.lora && s.lora.dropout > 0),
  };
}

/** Where TRL's GRPO run cannot repeat ours exactly; written into recipe.json and the README. */
export function grpoMappingNotes(s: WorkbookGrpoSettings): string[] {
  const notes = trainingNotes(s).filter((n) => !n.startsWith('data order'));
  notes.push('sampling: both sample replies at the same temperature from the same weights, but with different random streams, so the rollouts (and every figure that follows from them) differ run to run; only the rewards of the same reply are the same');
  notes.push('prompts: ours draws promptsPerStep prompts per micro-batch at random from all prompts; TRL goes through the shuffled dataset in order, epoch by epoch');
  if (s.rewards.some((r) => r.kind === 'reward-model')) {
    notes.push('reward model: train.py scores a reply at its end-of-turn token, rendering the prompt and reply with chat_template.jinja as the workbook does (TRL\'s own reward-model path would read the score after the template\'s trailing newline), one row at a time');
  }
  return notes;
}
