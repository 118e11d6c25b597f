// exportTrlRecipe: a workbook SFT, DPO or GRPO run written out as a folder
// that Hugging Face TRL runs on GPUs (accelerate) or on one device. The folder
// holds the records the run trained on and their exact tokens (and SFT's loss
// masks; GRPO's prompts and the world's oracle as oracle_reward.js), the
// tokenizer and chat template, every setting (recipe.json: ours and TRL's,
// mapped in trl_settings.ts and trl_{dpo,grpo}_settings.ts), the script
// (train.py, from trl_train.py beside this file), an accelerate config and a
// README. It is written into a hidden sibling folder and renamed into place,
// so a killed export never leaves half a recipe.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PreferencePair } from '../data/records';
import type { LoraConfig } from '../model/lora_state';
import { recoverCheckpointFolder } from '../model/atomic_folder';
import { writeFileSynced } from '../runtime/files';
import type { BpeTokenizer } from '../text/bpe_tokenizer';
import type { ChatTemplate } from '../text/chat_types';
import type { PromptSource } from '../eval/replies';
import { saveTokenizer } from '../text/tokenizer_json';
import type { EncodedPair } from '../train/preference_batch';
import type { SftConfig, SftExampleOf, SftRecord } from '../train/sft';
import type { TrainConfig } from '../train/trainer';
import { bundleOracle } from './oracle_bundle';
import type { GrpoRecipeConfig, WorkbookGrpoSettings } from './trl_grpo_settings';
import type { DpoRecipeConfig, WorkbookDpoSettings } from './trl_dpo_settings';
import { accelerateYaml, defaultProcesses, recipeReadme } from './trl_folder';
import { checkRecipeTrainer, peftLoraConfig, type RecipeTrainer, type WorkbookSftSettings } from './trl_settings';
import { dpoData, grpoData, sftData, type GrpoPrompt, type RecipeData } from './trl_trainer_data';

export type { GrpoPrompt } from './trl_trainer_data';

/** What every recipe needs: the base model, tokenizer, template, loop settings and where to write. */
interface RecipeOptionsBase {
  /** The folder to write; an existing one is replaced whole. */
  out: string;
  /** The base model: a Hugging Face folder (config.json and safetensors), as saveCheckpoint writes. */
  baseModel: string;
  /** Copy the base model's files into model/ (default false: recipe.json names the folder by its absolute path). */
  copyModel?: boolean;
  tokenizer: BpeTokenizer;
  /** The chat template; it must carry its Jinja source (ChatTemplate.jinja). */
  template: ChatTemplate;
  train: TrainConfig;
  /** LoRA adapters; left out: full fine-tuning. */
  lora?: LoraConfig;
  /** GPUs in accelerate.yaml (default: the largest count up to 8 that divides the batch size). */
  processes?: number;
}

/** An SFT run: TRL's SFTTrainer. */
export interface SftRecipeOptions extends RecipeOptionsBase {
  trainer: 'sft';
  /** The records the run trains on, in order: conversations, or prompt-completion records (one kind). */
  records: SftRecord[];
  sft: SftConfig;
}

/** A DPO run: TRL's DPOTrainer, the reference being the base model (the frozen copy, or the model without its adapters). */
export interface DpoRecipeOptions extends RecipeOptionsBase {
  trainer: 'dpo';
  /** The preference pairs the run trains on, in order. */
  records: PreferencePair[];
  dpo: DpoRecipeConfig;
}

/** A GRPO run: TRL's GRPOTrainer, sampling its own replies to the prompts and scoring them with the recipe's rewards. */
export interface GrpoRecipeOptions extends RecipeOptionsBase {
  trainer: 'grpo';
  /** The prompts: conversations (the final reply left out; world tasks, for the oracle), preference pairs' prompts, or message lists. */
  records: PromptSource[];
  grpo: GrpoRecipeConfig;
}

/** What exportTrlRecipe needs: the run's data, tokenizer, template and settings, and where to write. */
export type TrlRecipeOptions = SftRecipeOptions | DpoRecipeOptions | GrpoRecipeOptions;

/** recipe.json: what train.py reads. */
export interface TrlRecipe {
  format: 'workbook-trl-recipe';
  version: 1;
  trainer: RecipeTrainer;
  model: {
    /** Absolute path of the base model folder, or 'model' when copied into the recipe. */
    path: string;
    copied: boolean;
    /** The dtype train.py loads the weights in (mixed precision autocasts on top). */
    dtype: 'float32';
  };
  data: {
    format: 'conversational' | 'prompt-completion' | 'preference' | 'prompt-only';
    records: number;
    /** TRL's record format (messages; prompt / completion; prompt / chosen / rejected). */
    file: string;
    /** The workbook's tokens: input_ids and labels (-100: not a target) for SFT; prompt_ids, chosen_ids, rejected_ids for DPO; none for GRPO (TRL tokenizes its prompts to sample). */
    tokenized: string | null;
    /** Tokens with a loss over the file: SFT's targets (position 0 excluded), DPO's reply tokens of both sides; GRPO: 0 (its replies are sampled). */
    trained_tokens: number;
    tokens: number;
    longest: number;
    /** DPO: ids of the pairs left out for length (dpo.tooLong 'drop'), as the workbook's run leaves them out. */
    dropped?: string[];
  };
  tokenizer: {
    /** The folder of tokenizer.json and tokenizer_config.json, relative to the recipe. */
    path: string;
    chat_template: string;
    template_name: string;
    pad_token: string | null;
    eos_token: string | null;
    end_of_turn: string;
  };
  /** Rows (SFT; GRPO: prompts x group size) or pairs (DPO) per optimizer micro-batch over all processes; train.py divides it among them. */
  batch_size: number;
  /** bf16 autocast on GPUs that support it (train.py); float32 on the CPU. */
  mixed_precision: 'bf16';
  /** The run as the workbook trains it (every default filled in). */
  workbook: WorkbookSftSettings | WorkbookDpoSettings | WorkbookGrpoSettings;
  /** trl.SFTConfig's arguments for the same run (see trl_settings.ts); SFT recipes only. */
  sft_config?: Record<string, unknown>;
  /** trl.DPOConfig's arguments for the same run (see trl_dpo_settings.ts); DPO recipes only. */
  dpo_config?: Record<string, unknown>;
  /** trl.GRPOConfig's arguments for the same run (see trl_grpo_settings.ts); GRPO recipes only. */
  grpo_config?: Record<string, unknown>;
  /** GRPO: the rewards train.py builds, in order (their weights are grpo_config.reward_weights); the oracle's script, when one is the oracle. */
  rewards?: WorkbookGrpoSettings['rewards'];
  oracle?: string;
  /** peft.LoraConfig's arguments; null for full fine-tuning. */
  peft: Record<string, unknown> | null;
  /** Where TRL's run cannot repeat ours exactly. */
  notes: string[];
}

export interface TrlRecipeExport<E = SftExampleOf | EncodedPair | GrpoPrompt> {
  /** The folder written. */
  dir: string;
  recipe: TrlRecipe;
  /**
   * What ours trains on, in the file's order: SFT's tokenized records
   * (sftBatch / sftBatches of these), or DPO's encoded pairs (attach the
   * reference's log-probabilities with referenceLogps, then preferenceBatches),
   * or GRPO's prompts with the records they came from.
   */
  examples: E[];
  /** Files written, relative to dir. */
  files: string[];
}

/** Where a recipe's Python file is (trl_train.py by default): beside this file in the sources, or back in the sources from build/kernel-lib/recipes (tsc copies no .py). */
export function trlScriptPath(name = 'trl_train.py'): string {
  const candidates = [path.join(__dirname, name), path.join(__dirname, '..', '..', '..', 'kernel-lib', 'recipes', name)];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`exportTrlRecipe: the recipe's ${name} is missing (looked for ${candidates.join(' and ')})`);
  return found;
}

/** Checks the base model is a Hugging Face model folder, and that its vocabulary covers the tokenizer; returns its absolute path. */
export function checkBaseModel(folder: string, tokenizer: BpeTokenizer): string {
  if (typeof folder !== 'string' || folder === '') throw new Error('exportTrlRecipe: baseModel must name the base model folder');
  const dir = path.resolve(folder);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new Error(`exportTrlRecipe: baseModel ${dir} does not exist (a Hugging Face model folder, as saveCheckpoint writes, was expected)`);
  }
  if (!stat.isDirectory()) throw new Error(`exportTrlRecipe: baseModel ${dir} is not a folder`);
  const configFile = path.join(dir, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`exportTrlRecipe: baseModel ${dir} has no config.json (a Hugging Face model folder, as saveCheckpoint writes, was expected)`);
  if (!fs.existsSync(path.join(dir, 'model.safetensors')) && !fs.existsSync(path.join(dir, 'model.safetensors.index.json'))) {
    throw new Error(`exportTrlRecipe: baseModel ${dir} has no model.safetensors or model.safetensors.index.json`);
  }
  let config: { vocab_size?: unknown };
  try {
    config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  } catch (e) {
    throw new Error(`exportTrlRecipe: ${configFile}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof config.vocab_size === 'number' && tokenizer.vocabSize > config.vocab_size) {
    throw new Error(`exportTrlRecipe: the tokenizer has ${tokenizer.vocabSize} tokens but ${configFile} has vocab_size ${config.vocab_size}; ids past the embedding cannot train`);
  }
  return dir;
}

function checkTemplate(template: ChatTemplate): string {
  if (!template || typeof template.render !== 'function') throw new Error('exportTrlRecipe: template must be a ChatTemplate (builtinTemplate, jinjaTemplate, ...)');
  if (typeof template.jinja !== 'string' || template.jinja.trim() === '') {
    throw new Error(`exportTrlRecipe: chat template "${template.name}" has no Jinja source (ChatTemplate.jinja), so chat_template.jinja cannot be written; use a built-in template or one made from Jinja (jinjaTemplate, templateFromTokenizerConfig)`);
  }
  return template.jinja;
}

/** Copies the regular files of a model folder (HF folders are flat) into `to`. */
function copyModelFiles(from: string, to: string): void {
  fs.mkdirSync(to);
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    if (!fs.statSync(source).isFile()) continue;
    fs.copyFileSync(source, path.join(to, entry.name), fs.constants.COPYFILE_FICLONE);
  }
}

/**
 * Builds the folder in a hidden sibling `.<name>.<pid>.<ms>.tmp` (the names
 * model/atomic_folder.ts uses, so its recovery cleans what a killed export
 * leaves), then renames it into place, replacing a previous one.
 */
function writeFolderAtomically(dir: string, fill: (tmp: string) => void): void {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  recoverCheckpointFolder(dir);
  const stamp = `${process.pid}.${Date.now()}`;
  const tmp = path.join(parent, `.${path.basename(dir)}.${stamp}.tmp`);
  const old = path.join(parent, `.${path.basename(dir)}.${stamp}.old`);
  fs.mkdirSync(tmp);
  try {
    fill(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const existed = fs.existsSync(dir);
  if (existed) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  if (existed) fs.rmSync(old, { recursive: true, force: true });
}

function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`])).sort();
}

/**
 * Writes a TRL recipe folder for an SFT, DPO or GRPO run (see the file's
 * header and the folder's README). Everything that can be wrong is checked before a
 * file is written: the trainer, the records (and every check sftExamples or
 * encodeDpoPairs makes, naming the record), the template's Jinja source, the
 * base model folder, the settings. Returns the recipe and what a workbook run
 * of the same recipe trains on (the tokenized examples, or the encoded pairs).
 */
export function exportTrlRecipe(options: SftRecipeOptions): TrlRecipeExport<SftExampleOf>;
export function exportTrlRecipe(options: DpoRecipeOptions): TrlRecipeExport<EncodedPair>;
export function exportTrlRecipe(options: GrpoRecipeOptions): TrlRecipeExport<GrpoPrompt>;
export function exportTrlRecipe(options: TrlRecipeOptions): TrlRecipeExport;
export function exportTrlRecipe(options: TrlRecipeOptions): TrlRecipeExport {
  const trainer = checkRecipeTrainer(options.trainer);
  if (typeof options.out !== 'string' || options.out === '') throw new Error('exportTrlRecipe: out must name the folder to write');
  const dir = path.resolve(options.out);
  const jinja = checkTemplate(options.template);
  const data: RecipeData<SftExampleOf | EncodedPair | GrpoPrompt> =
    trainer === 'sft' ? sftData(options as SftRecipeOptions) : trainer === 'dpo' ? dpoData(options as DpoRecipeOptions) : grpoData(options as GrpoRecipeOptions);
  const oracle = data.config.rewards?.some((r) => r.kind === 'oracle') ? bundleOracle() : null;
  const baseModel = checkBaseModel(options.baseModel, options.tokenizer);
  if (dir === baseModel) throw new Error(`exportTrlRecipe: out ${dir} is the base model folder; the recipe needs a folder of its own`);
  const settings = data.settings;
  const processes = options.processes ?? defaultProcesses(settings.batchSize);
  if (!(Number.isInteger(processes) && processes >= 1 && settings.batchSize % processes === 0)) {
    throw new Error(`exportTrlRecipe: processes must be a positive integer dividing ${trainer}.batchSize ${settings.batchSize} (each process takes an equal share of a batch), got ${processes}`);
  }
  const tok = options.tokenizer;
  const recipe: TrlRecipe = {
    format: 'workbook-trl-recipe',
    version: 1,
    trainer,
    model: { path: options.copyModel ? 'model' : baseModel, copied: Boolean(options.copyModel), dtype: 'float32' },
    data: {
      format: data.format,
      records: data.examples.length,
      file: 'data/train.jsonl',
      tokenized: data.tokenizedRows ? 'data/train.tokenized.jsonl' : null,
      trained_tokens: data.trained,
      tokens: data.tokens.reduce((a, b) => a + b, 0),
      longest: Math.max(...data.tokens),
      ...(data.dropped ? { dropped: data.dropped } : {}),
    },
    tokenizer: {
      path: '.',
      chat_template: 'chat_template.jinja',
      template_name: options.template.name,
      pad_token: tok.spec.padToken ?? null,
      eos_token: tok.spec.eosToken ?? null,
      end_of_turn: options.template.endOfTurn,
    },
    batch_size: settings.batchSize,
    mixed_precision: 'bf16',
    workbook: settings,
    ...data.config,
    ...(oracle ? { oracle: 'oracle_reward.js' } : {}),
    peft: settings.lora ? peftLoraConfig(settings.lora) : null,
    notes: data.notes,
  };
  const script = fs.readFileSync(trlScriptPath(), 'utf8');
  const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

  writeFolderAtomically(dir, (tmp) => {
    fs.mkdirSync(path.join(tmp, 'data'));
    writeFileSynced(path.join(tmp, 'data', 'train.jsonl'), jsonl(data.trlRows));
    if (data.tokenizedRows) writeFileSynced(path.join(tmp, 'data', 'train.tokenized.jsonl'), jsonl(data.tokenizedRows));
    if (oracle) writeFileSynced(path.join(tmp, 'oracle_reward.js'), oracle);
    if (trainer === 'grpo') writeFileSynced(path.join(tmp, 'rewards.py'), fs.readFileSync(trlScriptPath('trl_rewards.py'), 'utf8'));
    saveTokenizer(tmp, tok, { chatTemplate: jinja });
    writeFileSynced(path.join(tmp, 'chat_template.jinja'), jinja);
    writeFileSynced(path.join(tmp, 'recipe.json'), JSON.stringify(recipe, null, 2) + '\n');
    writeFileSynced(path.join(tmp, 'train.py'), script);
    fs.chmodSync(path.join(tmp, 'train.py'), 0o755);
    writeFileSynced(path.join(tmp, 'accelerate.yaml'), accelerateYaml(processes, settings.batchSize));
    writeFileSynced(path.join(tmp, 'README.md'), recipeReadme(recipe, processes));
    if (options.copyModel) copyModelFiles(baseModel, path.join(tmp, 'model'));
  });
  return { dir, recipe, examples: data.examples, files: listFiles(dir) };
}
