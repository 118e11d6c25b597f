// exportTrlRecipe: a workbook SFT run written out as a folder that Hugging
// Face TRL runs on GPUs (accelerate) or on one device. The folder holds the
// records the run trained on and their exact tokens and loss masks, the
// tokenizer and chat template, every setting (recipe.json: ours and TRL's,
// mapped in trl_settings.ts), the script (train.py, from trl_sft.py beside
// this file), an accelerate config and a README. It is written into a
// hidden sibling folder and renamed into place, so a killed export never
// leaves half a recipe.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LoraConfig } from '../model/lora_state';
import { recoverCheckpointFolder } from '../model/atomic_folder';
import { writeFileSynced } from '../runtime/files';
import type { BpeTokenizer } from '../text/bpe_tokenizer';
import type { ChatTemplate } from '../text/chat_types';
import { saveTokenizer } from '../text/tokenizer_json';
import { sftExamples, type SftConfig, type SftExampleOf, type SftRecord } from '../train/sft';
import type { TrainConfig } from '../train/trainer';
import { accelerateYaml, defaultProcesses, recipeReadme } from './trl_folder';
import { checkRecipeTrainer, mappingNotes, peftLoraConfig, trlSftConfig, workbookSftSettings, type RecipeTrainer, type WorkbookSftSettings } from './trl_settings';

/** What exportTrlRecipe needs: the run's data, tokenizer, template and settings, and where to write. */
export interface TrlRecipeOptions {
  /** The folder to write; an existing one is replaced whole. */
  out: string;
  /** The TRL trainer: 'sft' (DPO and GRPO recipes are planned; other names are refused). */
  trainer: RecipeTrainer;
  /** The base model: a Hugging Face folder (config.json and safetensors), as saveCheckpoint writes. */
  baseModel: string;
  /** Copy the base model's files into model/ (default false: recipe.json names the folder by its absolute path). */
  copyModel?: boolean;
  /** The records the run trains on, in order: conversations, or prompt-completion records (one kind). */
  records: SftRecord[];
  tokenizer: BpeTokenizer;
  /** The chat template; it must carry its Jinja source (ChatTemplate.jinja). */
  template: ChatTemplate;
  sft: SftConfig;
  train: TrainConfig;
  /** LoRA adapters; left out: full fine-tuning. */
  lora?: LoraConfig;
  /** GPUs in accelerate.yaml (default: the largest count up to 8 that divides sft.batchSize). */
  processes?: number;
}

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
    format: 'conversational' | 'prompt-completion';
    records: number;
    /** TRL's record format (messages, or prompt / completion). */
    file: string;
    /** input_ids and labels (-100: not a target), as the workbook tokenized and masked them. */
    tokenized: string;
    /** Targets with a loss (labels other than -100, position 0 excluded), and tokens, over the file. */
    trained_tokens: number;
    tokens: number;
    longest: number;
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
  /** Rows per optimizer micro-batch over all processes; train.py divides it among them. */
  batch_size: number;
  /** bf16 autocast on GPUs that support it (train.py); float32 on the CPU. */
  mixed_precision: 'bf16';
  /** The run as the workbook trains it (every default filled in). */
  workbook: WorkbookSftSettings;
  /** trl.SFTConfig's arguments for the same run (see trl_settings.ts). */
  sft_config: Record<string, unknown>;
  /** peft.LoraConfig's arguments; null for full fine-tuning. */
  peft: Record<string, unknown> | null;
  /** Where TRL's run cannot repeat ours exactly. */
  notes: string[];
}

export interface TrlRecipeExport {
  /** The folder written. */
  dir: string;
  recipe: TrlRecipe;
  /** The tokenized records, in the file's order: what ours trains on (sftBatch / sftBatches of these). */
  examples: SftExampleOf[];
  /** Files written, relative to dir. */
  files: string[];
}

/** Where trl_sft.py is: beside this file in the sources, or back in the sources from build/kernel-lib/recipes (tsc copies no .py). */
export function trlScriptPath(): string {
  const candidates = [path.join(__dirname, 'trl_sft.py'), path.join(__dirname, '..', '..', '..', 'kernel-lib', 'recipes', 'trl_sft.py')];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`exportTrlRecipe: the training script trl_sft.py is missing (looked for ${candidates.join(' and ')})`);
  return found;
}

const ROLES = new Set(['system', 'user', 'assistant']);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value !== 'object') return JSON.stringify(value);
  const keys = Object.keys(value as object);
  return `an object with ${keys.length ? keys.slice(0, 6).map((k) => `"${k}"`).join(', ') : 'no fields'}`;
}

function messagesProblem(messages: unknown, field: string): string | null {
  if (!Array.isArray(messages) || messages.length === 0) return `${field} must be a non-empty array of {role, content}, got ${describe(messages)}`;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as { role?: unknown; content?: unknown } | null;
    if (typeof m !== 'object' || m === null || !ROLES.has(m.role as string) || typeof m.content !== 'string') {
      return `${field}[${i}] must be {role: "system" | "user" | "assistant", content: string}, got ${describe(m)}`;
    }
  }
  return null;
}

/** Checks every record is a conversation or a prompt-completion record, all of one kind; returns TRL's name for the kind. */
export function checkRecipeRecords(records: unknown): 'conversational' | 'prompt-completion' {
  if (!Array.isArray(records)) throw new Error(`exportTrlRecipe: records must be an array of conversations or prompt-completion records, got ${describe(records)}`);
  if (records.length === 0) throw new Error('exportTrlRecipe: records is empty; there is nothing to train on');
  let first: { kind: string; index: number } | undefined;
  records.forEach((r: any, i) => {
    const where = `exportTrlRecipe: records[${i}]${r && typeof r === 'object' && r.id !== undefined ? ` (${r.source ?? 'record'} ${r.id})` : ''}`;
    let problem: string | null;
    if (r && r.kind === 'conversation') {
      problem = messagesProblem(r.messages, 'messages');
    } else if (r && r.kind === 'prompt-completion') {
      const text = typeof r.prompt === 'string' && typeof r.completion === 'string';
      problem = text ? null : messagesProblem(r.prompt, 'prompt') ?? messagesProblem(r.completion, 'completion');
    } else {
      problem = `expected a conversation ({kind: "conversation", messages}) or a prompt-completion record ({kind: "prompt-completion", prompt, completion}), got ${describe(r)}`;
    }
    if (problem) throw new Error(`${where}: ${problem}`);
    if (!first) first = { kind: r.kind, index: i };
    else if (first.kind !== r.kind) {
      throw new Error(`${where}: a ${r.kind} record among ${first.kind} records (records[${first.index}] is one); TRL's SFTTrainer takes one format per dataset`);
    }
  });
  return first!.kind === 'conversation' ? 'conversational' : 'prompt-completion';
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

/** One record in TRL's dataset format: only the fields TRL reads. */
function trlRecord(record: SftRecord): Record<string, unknown> {
  const messages = (ms: { role: string; content: string }[]) => ms.map((m) => ({ role: m.role, content: m.content }));
  if (record.kind === 'conversation') return { messages: messages(record.messages) };
  return {
    prompt: typeof record.prompt === 'string' ? record.prompt : messages(record.prompt),
    completion: typeof record.completion === 'string' ? record.completion : messages(record.completion),
  };
}

/** input_ids and labels: the label is the token where our mask trains it, else -100 (position 0 is never a target in either). */
export function tokenizedRecord(example: { ids: ArrayLike<number>; mask: ArrayLike<number> }): { input_ids: number[]; labels: number[] } {
  const input_ids = Array.from(example.ids);
  return { input_ids, labels: input_ids.map((id, t) => (example.mask[t] !== 0 ? id : -100)) };
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
 * Writes a TRL recipe folder for an SFT run (see the file's header and the
 * folder's README). Everything that can be wrong is checked before a file
 * is written: the trainer, the records (and every check sftExamples makes,
 * naming the record), the template's Jinja source, the base model folder,
 * the settings. Returns the recipe and the tokenized examples, which are
 * what a workbook run of the same recipe trains on.
 */
export function exportTrlRecipe(options: TrlRecipeOptions): TrlRecipeExport {
  const trainer = checkRecipeTrainer(options.trainer);
  if (typeof options.out !== 'string' || options.out === '') throw new Error('exportTrlRecipe: out must name the folder to write');
  const dir = path.resolve(options.out);
  const format = checkRecipeRecords(options.records);
  const jinja = checkTemplate(options.template);
  const baseModel = checkBaseModel(options.baseModel, options.tokenizer);
  if (dir === baseModel) throw new Error(`exportTrlRecipe: out ${dir} is the base model folder; the recipe needs a folder of its own`);
  const settings = workbookSftSettings(options.train, options.sft, options.lora);
  const processes = options.processes ?? defaultProcesses(settings.batchSize);
  if (!(Number.isInteger(processes) && processes >= 1 && settings.batchSize % processes === 0)) {
    throw new Error(`exportTrlRecipe: processes must be a positive integer dividing sft.batchSize ${settings.batchSize} (each process takes an equal share of a batch), got ${processes}`);
  }
  const examples = sftExamples(options.records, options.tokenizer, options.template, options.sft);
  const tokenized = examples.map(tokenizedRecord);
  let trained = 0;
  for (const r of tokenized) for (let t = 1; t < r.labels.length; t++) if (r.labels[t] !== -100) trained++;
  const tok = options.tokenizer;
  const recipe: TrlRecipe = {
    format: 'workbook-trl-recipe',
    version: 1,
    trainer,
    model: { path: options.copyModel ? 'model' : baseModel, copied: Boolean(options.copyModel), dtype: 'float32' },
    data: {
      format,
      records: examples.length,
      file: 'data/train.jsonl',
      tokenized: 'data/train.tokenized.jsonl',
      trained_tokens: trained,
      tokens: tokenized.reduce((n, r) => n + r.input_ids.length, 0),
      longest: Math.max(...tokenized.map((r) => r.input_ids.length)),
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
    sft_config: trlSftConfig(settings, format),
    peft: settings.lora ? peftLoraConfig(settings.lora) : null,
    notes: mappingNotes(settings),
  };
  const script = fs.readFileSync(trlScriptPath(), 'utf8');
  const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

  writeFolderAtomically(dir, (tmp) => {
    fs.mkdirSync(path.join(tmp, 'data'));
    writeFileSynced(path.join(tmp, 'data', 'train.jsonl'), jsonl(options.records.map(trlRecord)));
    writeFileSynced(path.join(tmp, 'data', 'train.tokenized.jsonl'), jsonl(tokenized));
    saveTokenizer(tmp, tok, { chatTemplate: jinja });
    writeFileSynced(path.join(tmp, 'chat_template.jinja'), jinja);
    writeFileSynced(path.join(tmp, 'recipe.json'), JSON.stringify(recipe, null, 2) + '\n');
    writeFileSynced(path.join(tmp, 'train.py'), script);
    fs.chmodSync(path.join(tmp, 'train.py'), 0o755);
    writeFileSynced(path.join(tmp, 'accelerate.yaml'), accelerateYaml(processes, settings.batchSize));
    writeFileSynced(path.join(tmp, 'README.md'), recipeReadme(recipe, processes));
    if (options.copyModel) copyModelFiles(baseModel, path.join(tmp, 'model'));
  });
  return { dir, recipe, examples, files: listFiles(dir) };
}
