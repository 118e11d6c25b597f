// A workbook DPO run's settings as TRL's DPOConfig. The loop, AdamW, the
// schedule and LoRA map as for SFT (trl_settings.ts); this file adds the
// preference loss (every loss type of dpo_loss.ts has TRL's name and
// definition), the reference log-probabilities computed once before training
// (the workbook's referenceLogps, TRL's precompute_ref_log_probs) and the
// pairs' length limit.
import type { LoraConfig } from '../model/lora_state';
import { dpoLossSettings, type DpoLossOptions, type DpoLossType } from '../train/dpo_loss';
import type { TrainConfig } from '../train/trainer';
import { positiveInteger, trainingArguments, trainingNotes, workbookTrainSettings, type WorkbookTrainSettings } from './trl_settings';

/** How a DPO run batches and scores its pairs: the loss (dpoObjective's options) and preferenceBatches' and encodeDpoPairs' settings. */
export interface DpoRecipeConfig extends DpoLossOptions {
  /** Pairs per micro-batch, over all devices together. */
  batchSize: number;
  /** Micro-batches per update (the same as train.accumulation when both are given). */
  accumulation?: number;
  /** Seeds the per-epoch order of the pairs (preferenceBatches' seed; default 0). */
  seed?: number;
  /** Most tokens a sequence (prompt plus reply) may have (encodeDpoPairs' maxLength); default no limit. */
  maxLength?: number;
  /** A pair over maxLength: 'error' (default) refuses it, naming it; 'drop' leaves it out of the recipe, as it is left out of the run. */
  tooLong?: 'error' | 'drop';
}

/** A workbook DPO run's settings with every default filled in. */
export interface WorkbookDpoSettings extends WorkbookTrainSettings {
  lossType: DpoLossType[];
  lossWeights: number[];
  beta: number;
  labelSmoothing: number;
  discopopTau: number;
  maxLength: number | null;
  tooLong: 'error' | 'drop';
}

/** The settings a workbook DPO run with `train` and `dpo` (and `lora`) trains with; throws naming a field the trainer would refuse. */
export function workbookDpoSettings(train: TrainConfig, dpo: DpoRecipeConfig, lora?: LoraConfig): WorkbookDpoSettings {
  if (!dpo || typeof dpo !== 'object') throw new Error('exportTrlRecipe: a DPO recipe needs dpo: {batchSize, beta?, lossType?, ...}');
  const common = workbookTrainSettings(train, dpo, 'dpo', lora);
  positiveInteger(dpo.maxLength, 'dpo.maxLength');
  if (dpo.tooLong !== undefined && dpo.tooLong !== 'error' && dpo.tooLong !== 'drop') throw new Error(`exportTrlRecipe: dpo.tooLong must be "error" or "drop", got ${JSON.stringify(dpo.tooLong)}`);
  let loss: ReturnType<typeof dpoLossSettings>;
  try {
    loss = dpoLossSettings(dpo);
  } catch (e) {
    throw new Error(`exportTrlRecipe: dpo: ${(e as Error).message.replace(/^dpoLoss: /, '')}`);
  }
  return {
    ...common,
    lossType: loss.types,
    lossWeights: loss.weights,
    beta: loss.beta,
    labelSmoothing: loss.eps,
    discopopTau: loss.tau,
    maxLength: dpo.maxLength ?? null,
    tooLong: dpo.tooLong ?? 'error',
  };
}

/** DPOConfig's arguments for the same run, by TRL / transformers name (TrainingArguments' first). */
export function trlDpoConfig(s: WorkbookDpoSettings): Record<string, unknown> {
  return {
    ...trainingArguments(s),
    // TRL's names and definitions (dpo_loss.ts follows them loss by loss).
    loss_type: s.lossType,
    loss_weights: s.lossWeights,
    beta: s.beta,
    label_smoothing: s.labelSmoothing,
    discopop_tau: s.discopopTau,
    // The workbook scores the pairs with the frozen reference once, before
    // the first step (referenceLogps); TRL does the same with this option,
    // so neither keeps a second model in memory while training. With LoRA
    // the reference is the base model (TRL disables the adapters for it).
    precompute_ref_log_probs: true,
    // Both count the tokens of a whole sequence (prompt plus reply). The
    // workbook refuses or drops a longer pair instead of cutting it, so the
    // exported pairs all fit and TRL cuts nothing.
    max_length: s.maxLength,
    // TRL turns dropout off by default for DPO; the workbook trains with the
    // LoRA dropout it was given, so it stays on when there is some.
    disable_dropout: !(s.lora && s.lora.dropout > 0),
  };
}

/** Where TRL's DPO run cannot repeat ours exactly; written into recipe.json and the README. */
export function dpoMappingNotes(s: WorkbookDpoSettings): string[] {
  const notes = trainingNotes(s);
  notes.push('logits/chosen, logits/rejected and entropy: TRL averages them over the batch\'s reply tokens, the workbook over pairs (each pair\'s per-token mean counting once); the losses, rewards and log-probabilities are the same quantities');
  if (s.lossType.some((t) => t === 'aot' || t === 'aot_unpaired')) {
    notes.push('aot / aot_unpaired sort the margins within a batch: under accelerate each process sorts its own share of the pairs, the workbook the whole batch');
  }
  return notes;
}
