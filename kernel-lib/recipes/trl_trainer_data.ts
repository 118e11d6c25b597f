// The data half of each kind of recipe: the records checked and written in
// TRL's format, our tokens for them, their counts, and the settings of the
// TRL trainer that reads them (SFT, DPO, GRPO). exportTrlRecipe
// (trl_recipe.ts) writes what these return into the folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PromptSource } from '../eval/replies';
import type { ChatMessage } from '../text/chat_types';
import { encodeDpoPairs } from '../train/dpo';
import type { EncodedPair } from '../train/preference_batch';
import { sftExamples, type SftExampleOf } from '../train/sft';
import { checkPreferenceRecords, checkPromptRecords, checkRecipeRecords, tokenizedPair, tokenizedRecord, trlPreferenceRecord, trlPromptRecord, trlRecord } from './trl_data';
import { dpoMappingNotes, trlDpoConfig, workbookDpoSettings, type WorkbookDpoSettings } from './trl_dpo_settings';
import { grpoMappingNotes, trlGrpoConfig, workbookGrpoSettings, type WorkbookGrpoSettings } from './trl_grpo_settings';
import type { DpoRecipeOptions, GrpoRecipeOptions, SftRecipeOptions, TrlRecipe } from './trl_recipe';
import { mappingNotes, trlSftConfig, workbookSftSettings, type WorkbookSftSettings } from './trl_settings';

/** A GRPO prompt as the recipe holds it, with the record it came from. */
export interface GrpoPrompt {
  prompt: ChatMessage[];
  record: PromptSource;
}

/** The data half of a recipe: TRL's records, our tokens, their counts, and the settings of the trainer that reads them. */
export interface RecipeData<E> {
  format: TrlRecipe['data']['format'];
  examples: E[];
  trlRows: Record<string, unknown>[];
  /** null: no tokenized file (GRPO). */
  tokenizedRows: Record<string, unknown>[] | null;
  trained: number;
  tokens: number[];
  dropped?: string[];
  settings: WorkbookSftSettings | WorkbookDpoSettings | WorkbookGrpoSettings;
  config: Pick<TrlRecipe, 'sft_config' | 'dpo_config' | 'grpo_config' | 'rewards'>;
  notes: string[];
}

export function sftData(options: SftRecipeOptions): RecipeData<SftExampleOf> {
  const format = checkRecipeRecords(options.records);
  const settings = workbookSftSettings(options.train, options.sft, options.lora);
  const examples = sftExamples(options.records, options.tokenizer, options.template, options.sft);
  const tokenized = examples.map(tokenizedRecord);
  let trained = 0;
  for (const r of tokenized) for (let t = 1; t < r.labels.length; t++) if (r.labels[t] !== -100) trained++;
  return {
    format, examples, settings, trained,
    trlRows: options.records.map(trlRecord),
    tokenizedRows: tokenized,
    tokens: tokenized.map((r) => r.input_ids.length),
    config: { sft_config: trlSftConfig(settings, format) },
    notes: mappingNotes(settings),
  };
}

export function dpoData(options: DpoRecipeOptions): RecipeData<EncodedPair> {
  const format = checkPreferenceRecords(options.records);
  const settings = workbookDpoSettings(options.train, options.dpo, options.lora);
  const { pairs, dropped } = encodeDpoPairs(options.records, options.tokenizer, options.template, { maxLength: options.dpo.maxLength, tooLong: options.dpo.tooLong });
  if (pairs.length === 0) throw new Error(`exportTrlRecipe: every one of the ${options.records.length} pairs is over dpo.maxLength ${options.dpo.maxLength}; there is nothing to train on`);
  const kept = new Set(pairs.map((p) => p.id));
  const tokenized = pairs.map(tokenizedPair);
  return {
    format, settings,
    examples: pairs,
    trlRows: options.records.filter((r) => kept.has(r.id)).map(trlPreferenceRecord),
    tokenizedRows: tokenized,
    trained: tokenized.reduce((n, r) => n + r.chosen_ids.length + r.rejected_ids.length, 0),
    tokens: pairs.flatMap((p) => [p.chosen.length, p.rejected.length]),
    dropped: dropped.map((d) => d.id),
    config: { dpo_config: trlDpoConfig(settings) },
    notes: dpoMappingNotes(settings),
  };
}

export function grpoData(options: GrpoRecipeOptions): RecipeData<GrpoPrompt> {
  const settings = workbookGrpoSettings(options.train, options.grpo, options.lora, (p) => path.resolve(p));
  const oracle = settings.rewards.some((r) => r.kind === 'oracle');
  for (const r of settings.rewards) if (r.kind === 'reward-model') checkRewardModel(r.path, r.name);
  const prompts = checkPromptRecords(options.records, oracle);
  const tokens = prompts.map((p) => options.tokenizer.encode(options.template.render(p, { addGenerationPrompt: true }).text, { addSpecialTokens: false }).length);
  return {
    format: 'prompt-only',
    settings,
    examples: prompts.map((prompt, i) => ({ prompt, record: options.records[i] })),
    trlRows: prompts.map((p, i) => trlPromptRecord(p, options.records[i], oracle)),
    tokenizedRows: null,
    trained: 0,
    tokens,
    config: { grpo_config: trlGrpoConfig(settings), rewards: settings.rewards },
    notes: grpoMappingNotes(settings),
  };
}

/** A reward model folder: a LlamaForSequenceClassification with one label, as saveRewardModel writes. */
function checkRewardModel(folder: string, name: string): void {
  const configFile = path.join(folder, 'config.json');
  let config: { architectures?: unknown };
  try {
    config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  } catch (e) {
    throw new Error(`exportTrlRecipe: reward "${name}": ${configFile} cannot be read as JSON (${(e as Error).message}); a reward model folder, as saveRewardModel writes, was expected`);
  }
  const architectures = Array.isArray(config.architectures) ? config.architectures : [];
  if (!architectures.some((a) => typeof a === 'string' && a.endsWith('ForSequenceClassification'))) {
    throw new Error(`exportTrlRecipe: reward "${name}": ${configFile} is a ${architectures.join(', ') || 'model without architectures'}, not a sequence classifier (a reward model, as saveRewardModel writes)`);
  }
}
