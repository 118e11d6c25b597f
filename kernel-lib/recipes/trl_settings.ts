// The one place where a workbook run's settings become TRL's. Every option
// of TrainConfig, SftConfig and LoraConfig is resolved to the value the
// workbook's trainer would use (its defaults filled in), then mapped to the
// transformers TrainingArguments, SFTConfig and peft LoraConfig arguments
// that reproduce it, with a comment saying why where the names or the
// meaning differ. recipe.json carries both halves, so a reader can check the
// mapping without this file. DPO's own options are in trl_dpo_settings.ts.
import type { LoraConfig } from '../model/lora_state';
import type { SftConfig } from '../train/sft';
import type { TrainConfig } from '../train/trainer';

/** The trainers a recipe can name: TRL's SFTTrainer, DPOTrainer and GRPOTrainer. */
export const RECIPE_TRAINERS = ['sft', 'dpo', 'grpo'] as const;
export type RecipeTrainer = (typeof RECIPE_TRAINERS)[number];

/** The trainers a later version may add; naming one now gets an error that says so. */
const PLANNED_TRAINERS = ['rloo'];

/** What every trainer's run shares, with every default filled in: the loop, AdamW, the schedule, the batch, LoRA. */
export interface WorkbookTrainSettings {
  steps: number;
  lr: number;
  warmupSteps: number;
  minLr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 0: no clipping. */
  clipNorm: number;
  /** Rows (conversations, packed rows, or preference pairs) per micro-batch, over all devices together. */
  batchSize: number;
  accumulation: number;
  /** Seeds dropout (train) and the per-epoch shuffle (data). */
  seed: number;
  dataSeed: number;
  /** Training checkpoints every N steps; null: none. */
  checkpointEvery: number | null;
  /** null: full fine-tuning. */
  lora: LoraConfig | null;
}

/** A workbook SFT run's settings with every default filled in, as its trainer uses them. */
export interface WorkbookSftSettings extends WorkbookTrainSettings {
  /** Longest row in model inputs (a conversation of n tokens takes n - 1); null: no limit. */
  maxLength: number | null;
  truncate: boolean;
  packing: boolean;
  assistantOnlyLoss: boolean;
  completionOnlyLoss: boolean;
}

/** Throws naming the trainer, and what is supported, unless it is one a recipe can be written for. */
export function checkRecipeTrainer(trainer: unknown): RecipeTrainer {
  if ((RECIPE_TRAINERS as readonly unknown[]).includes(trainer)) return trainer as RecipeTrainer;
  const planned = typeof trainer === 'string' && PLANNED_TRAINERS.includes(trainer.toLowerCase());
  throw new Error(
    `exportTrlRecipe: trainer ${JSON.stringify(trainer)} is not supported; expected one of ${RECIPE_TRAINERS.map((t) => `"${t}"`).join(', ')}` +
      (planned ? ` (${String(trainer).toUpperCase()} recipes are planned but not written yet)` : ''),
  );
}

export function positiveInteger(value: number | undefined, field: string): void {
  if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new Error(`exportTrlRecipe: ${field} must be a positive integer, got ${value}`);
}

/**
 * What every trainer's run shares, resolved as train() and AdamW resolve it:
 * `batch` names the config the batch size and data seed come from (for
 * errors). Throws naming the field for a value the trainer would refuse.
 */
export function workbookTrainSettings(
  train: TrainConfig,
  batch: { batchSize: number; accumulation?: number; seed?: number },
  batchField: string,
  lora?: LoraConfig,
): WorkbookTrainSettings {
  positiveInteger(train.steps, 'train.steps');
  if (train.steps === undefined) throw new Error('exportTrlRecipe: train.steps is required (the number of update steps)');
  if (!(train.lr > 0)) throw new Error(`exportTrlRecipe: train.lr must be > 0, got ${train.lr}`);
  if (batch.batchSize === undefined) throw new Error(`exportTrlRecipe: ${batchField}.batchSize is required`);
  positiveInteger(batch.batchSize, `${batchField}.batchSize`);
  positiveInteger(train.accumulation, 'train.accumulation');
  positiveInteger(batch.accumulation, `${batchField}.accumulation`);
  if (train.accumulation !== undefined && batch.accumulation !== undefined && train.accumulation !== batch.accumulation) {
    throw new Error(`exportTrlRecipe: train.accumulation (${train.accumulation}) and ${batchField}.accumulation (${batch.accumulation}) differ; the run accumulates train.accumulation micro-batches`);
  }
  if (lora) {
    positiveInteger(lora.rank, 'lora.rank');
    if (!(lora.dropout >= 0 && lora.dropout < 1)) throw new Error(`exportTrlRecipe: lora.dropout must be in [0, 1), got ${lora.dropout}`);
    if (!Array.isArray(lora.targets) || lora.targets.length === 0) throw new Error('exportTrlRecipe: lora.targets must name at least one projection (e.g. ["q_proj", "v_proj"])');
  }
  for (const [field, value] of [['train.warmupSteps', train.warmupSteps], ['train.weightDecay', train.weightDecay], ['train.clipNorm', train.clipNorm], ['train.minLr', train.minLr]] as const) {
    if (value !== undefined && !(value >= 0)) throw new Error(`exportTrlRecipe: ${field} must be >= 0, got ${value}`);
  }
  return {
    steps: train.steps,
    lr: train.lr,
    // As train() and warmupCosine fill them in (trainer.ts, schedule.ts).
    warmupSteps: train.warmupSteps ?? Math.min(100, Math.floor(train.steps / 10)),
    minLr: train.minLr ?? train.lr / 10,
    // AdamW's defaults (adamw.ts); the trainer's weight decay default is 0.1.
    beta1: train.beta1 ?? 0.9,
    beta2: train.beta2 ?? 0.95,
    eps: train.eps ?? 1e-8,
    weightDecay: train.weightDecay ?? 0.1,
    clipNorm: train.clipNorm ?? 1,
    batchSize: batch.batchSize,
    accumulation: train.accumulation ?? batch.accumulation ?? 1,
    seed: train.seed ?? 0,
    dataSeed: batch.seed ?? 0,
    checkpointEvery: train.checkpointEvery ?? null,
    lora: lora ? { rank: lora.rank, alpha: lora.alpha, dropout: lora.dropout, targets: [...lora.targets] } : null,
  };
}

/**
 * The settings a workbook SFT run with `train` and `sft` (and `lora`) trains
 * with: the trainer's and AdamW's defaults where an option is left out.
 * Throws naming the field for a value the trainer would refuse.
 */
export function workbookSftSettings(train: TrainConfig, sft: SftConfig, lora?: LoraConfig): WorkbookSftSettings {
  if (!sft || typeof sft !== 'object') throw new Error('exportTrlRecipe: an SFT recipe needs sft: {batchSize, ...}');
  const common = workbookTrainSettings(train, sft, 'sft', lora);
  positiveInteger(sft.maxLength, 'sft.maxLength');
  if (sft.packing && sft.maxLength === undefined) throw new Error('exportTrlRecipe: sft.packing needs sft.maxLength (the row length)');
  return {
    ...common,
    maxLength: sft.maxLength ?? null,
    truncate: sft.truncate ?? false,
    packing: sft.packing ?? false,
    assistantOnlyLoss: sft.assistantOnlyLoss ?? true,
    completionOnlyLoss: sft.completionOnlyLoss ?? true,
  };
}

/**
 * transformers TrainingArguments for the loop every trainer shares, by name.
 * Left out on purpose, set by train.py: output_dir,
 * per_device_train_batch_size (the recipe's batch_size divided by the number
 * of processes), bf16 (on a GPU) and the sampler (--sequential).
 */
export function trainingArguments(s: WorkbookTrainSettings): Record<string, unknown> {
  return {
    max_steps: s.steps,
    learning_rate: s.lr,
    // Our schedule is a linear warm-up, then a cosine from lr down to minLr
    // over the remaining steps; transformers' cosine_with_min_lr is the same
    // cosine with the same floor. The warm-ups differ by one step: ours gives
    // lr * (step + 1) / warmup at 0-based step `step`, transformers'
    // lr * step / warmup (so its first step has lr 0). With warmup_steps 0
    // the two schedules are equal at every step.
    lr_scheduler_type: 'cosine_with_min_lr',
    lr_scheduler_kwargs: { min_lr: s.minLr },
    warmup_steps: s.warmupSteps,
    // Both are AdamW with decoupled decay and bias correction (torch's formula
    // equals adamw.ts). Our beta2 defaults to 0.95, transformers' to 0.999, so
    // it is always written out. Decay: ours decays every matrix (rank >= 2:
    // embeddings, projections, LoRA A and B) and no norm weight;
    // transformers decays every parameter but biases and norms. A Llama has
    // no biases, so the same tensors are decayed.
    optim: 'adamw_torch',
    adam_beta1: s.beta1,
    adam_beta2: s.beta2,
    adam_epsilon: s.eps,
    weight_decay: s.weightDecay,
    // Clip to a global norm; 0 turns clipping off in both.
    max_grad_norm: s.clipNorm,
    gradient_accumulation_steps: s.accumulation,
    // TRL has one seed; ours seeds dropout (LoRA's) and, separately, the data
    // order. Neither stream is the same as torch's, so only a run without
    // dropout, with the data in a fixed order (--sequential), repeats ours.
    seed: s.seed,
    // One log line per step, as our trainer's history.
    logging_steps: 1,
    save_strategy: s.checkpointEvery === null ? 'no' : 'steps',
    ...(s.checkpointEvery === null ? {} : { save_steps: s.checkpointEvery }),
    report_to: 'none',
  };
}

/** SFTConfig's arguments for the same run, by TRL / transformers name (TrainingArguments' first). */
export function trlSftConfig(s: WorkbookSftSettings, format: 'conversational' | 'prompt-completion'): Record<string, unknown> {
  return {
    ...trainingArguments(s),
    // Our maxLength counts model inputs (a conversation of n tokens needs
    // n - 1 of them); TRL's max_length counts the tokens of a sequence. The
    // exported tokens are already cut to maxLength + 1 when truncate is on.
    max_length: s.maxLength === null ? null : s.maxLength + 1,
    // Packing: TRL's best-fit decreasing ("bfd", padding-free rows whose
    // sequences TRL keeps apart under a FlashAttention implementation) packs
    // the same tokens and labels, but groups them into rows itself, so the
    // batches of a step differ from ours.
    packing: s.packing,
    ...(s.packing ? { packing_strategy: 'bfd' } : {}),
    // Which tokens train is already in the tokenized data's labels; these two
    // apply only when TRL tokenizes the records itself (--from-messages).
    // Ours are per kind of record (assistantOnlyLoss for conversations,
    // completionOnlyLoss for prompt-completion records); TRL refuses
    // assistant_only_loss on a dataset that is not conversational.
    assistant_only_loss: format === 'conversational' && s.assistantOnlyLoss,
    completion_only_loss: format === 'prompt-completion' ? s.completionOnlyLoss : null,
  };
}

/** peft.LoraConfig's arguments: the same adapters (scale alpha / r, PEFT's default init). */
export function peftLoraConfig(lora: LoraConfig): Record<string, unknown> {
  return {
    r: lora.rank,
    lora_alpha: lora.alpha,
    lora_dropout: lora.dropout,
    target_modules: [...lora.targets],
    bias: 'none',
    task_type: 'CAUSAL_LM',
  };
}

/** Where any TRL run cannot repeat ours exactly: the warm-up's step, the data order, dropout masks. */
export function trainingNotes(s: WorkbookTrainSettings): string[] {
  const notes: string[] = [
    `warm-up (${s.warmupSteps} step${s.warmupSteps === 1 ? '' : 's'} here): ours gives lr * (step + 1) / warmup at 0-based step \`step\`, transformers' lr * step / warmup, so each warm-up step of TRL's run is one step behind ours (its first has lr 0); with no warm-up the two schedules are equal`,
  ];
  notes.push('data order: ours shuffles per epoch with its own generator; TRL samples with torch\'s. --sequential keeps the file\'s order instead (ours too, if the run fed its batches in that order)');
  if (s.lora && s.lora.dropout > 0) notes.push('LoRA dropout draws different masks here and in torch');
  return notes;
}

/** What a reader should know where TRL's SFT run cannot repeat ours exactly; written into recipe.json and the README. */
export function mappingNotes(s: WorkbookSftSettings): string[] {
  const notes = trainingNotes(s);
  if (s.packing) {
    notes.push('packing: TRL packs the same tokens and labels into rows of its own choosing, so the batches of a step differ from ours; TRL keeps packed sequences apart under a FlashAttention implementation (attn_implementation), where ours always does');
  }
  return notes;
}
