// An open model from a Hugging Face folder (config.json, model.safetensors
// or shards with their index, tokenizer.json, tokenizer_config.json with its
// chat_template, or chat_template.jinja beside it): the decoder, the
// tokenizer and the chat template, checked against each other before any
// weight is read, with what it costs in memory.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint, parameterCount, readSafetensorsHeader, type Decoder } from '../model';
import { loadTokenizer, templateFromTokenizerConfig, type BpeTokenizer, type ChatTemplate } from '../text';
import { unsupportedArchitecture } from './architecture';
import { checkConsistency } from './consistency';

export interface PretrainedInfo {
  folder: string;
  architecture: string;
  parameters: number;
  /** Bytes the weights take here (float32), and on disk (as stored: bf16, f16 or f32). */
  weightBytes: number;
  fileBytes: number;
  /** The dtypes the checkpoint stores its tensors in. */
  storedAs: string[];
  layers: number;
  hiddenSize: number;
  heads: number;
  kvHeads: number;
  intermediateSize: number;
  vocabSize: number;
  tokenizerSize: number;
  maxPositions: number;
  tiedEmbeddings: boolean;
  /** The chat template's name and end-of-turn marker; null for a model without one. */
  template: { name: string; endOfTurn: string; source: string } | null;
  bos: string | null;
  eos: string | null;
  pad: string | null;
  /** Token ids that end generation. */
  stopIds: number[];
  notes: string[];
  /** Tensors in the files that the decoder does not use (e.g. rotary caches). */
  ignoredTensors: string[];
  loadSeconds: number;
  /** Resident memory of this process after loading (bytes). */
  rssAfterLoad: number;
}

export interface Pretrained {
  model: Decoder;
  tokenizer: BpeTokenizer;
  template: ChatTemplate | null;
  info: PretrainedInfo;
}

/** A folder's chat template: tokenizer_config.json's chat_template, else chat_template.jinja (transformers 4.43+ saves it there). */
function readTemplate(folder: string, tokenizerConfig: Record<string, unknown>): { template: ChatTemplate; source: string } | null {
  const jinjaFile = path.join(folder, 'chat_template.jinja');
  const jsonFile = path.join(folder, 'chat_template.json');
  let config = tokenizerConfig;
  let source = 'tokenizer_config.json';
  if (config.chat_template === undefined || config.chat_template === null) {
    if (fs.existsSync(jinjaFile)) {
      config = { ...tokenizerConfig, chat_template: fs.readFileSync(jinjaFile, 'utf8') };
      source = 'chat_template.jinja';
    } else if (fs.existsSync(jsonFile)) {
      const parsed = readJson(jsonFile) as { chat_template?: unknown };
      config = { ...tokenizerConfig, chat_template: parsed.chat_template };
      source = 'chat_template.json';
    } else {
      return null;
    }
  }
  const name = path.basename(path.resolve(folder));
  try {
    return { template: templateFromTokenizerConfig(config as Parameters<typeof templateFromTokenizerConfig>[0], { name }), source };
  } catch (err) {
    throw new Error(`${path.join(folder, source)}: ${(err as Error).message}`);
  }
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as Error).message})`);
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
    return v;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

function safetensorsFiles(folder: string): string[] {
  return fs.readdirSync(folder).filter((f) => f.endsWith('.safetensors')).map((f) => path.join(folder, f));
}

function storedDtypes(files: string[]): string[] {
  const dtypes = new Set<string>();
  for (const file of files) for (const t of readSafetensorsHeader(file).tensors.values()) dtypes.add(t.dtype);
  return [...dtypes].sort();
}

/**
 * Loads a Hugging Face model folder. Everything that can be checked without
 * the weights is checked first (architecture, config fields, tokenizer,
 * template, their agreement), and every disagreement is named in one error.
 */
export function loadPretrained(folder: string): Pretrained {
  const started = Date.now();
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) throw new Error(`${folder}: not a folder (a Hugging Face model folder was expected)`);
  const configFile = path.join(folder, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`${folder}: missing config.json (a Hugging Face model folder was expected)`);
  const config = readJson(configFile);
  const unsupported = unsupportedArchitecture(config, configFile);
  if (unsupported) throw new Error(unsupported);
  const generationFile = path.join(folder, 'generation_config.json');
  const generation = fs.existsSync(generationFile) ? readJson(generationFile) : {};
  const tokenizer = loadTokenizer(folder);
  const tokenizerConfigFile = path.join(folder, 'tokenizer_config.json');
  const tokenizerConfig = fs.existsSync(tokenizerConfigFile) ? readJson(tokenizerConfigFile) : {};
  const found = readTemplate(folder, tokenizerConfig);
  const template = found?.template ?? null;
  const consistency = checkConsistency(folder, config, generation, tokenizer, template);
  if (consistency.errors.length) throw new Error(`${folder}: the model's files disagree:\n- ${consistency.errors.join('\n- ')}`);

  const { model, ignored } = loadCheckpoint(folder);
  const files = safetensorsFiles(folder);
  const c = model.config;
  const parameters = parameterCount(c);
  const token = (id: number | undefined) => (id === undefined ? null : tokenizer.idToToken(id));
  const notes = [...consistency.notes];
  if (!template) notes.push('no chat template (tokenizer_config.json chat_template or chat_template.jinja): a base model; give a template to fine-tune it on conversations');
  const info: PretrainedInfo = {
    folder,
    architecture: Array.isArray(config.architectures) ? String(config.architectures[0]) : 'LlamaForCausalLM',
    parameters,
    weightBytes: [...model.weights.values()].reduce((a, w) => a + w.size * 4, 0),
    fileBytes: files.reduce((a, f) => a + fs.statSync(f).size, 0),
    storedAs: storedDtypes(files),
    layers: c.num_hidden_layers,
    hiddenSize: c.hidden_size,
    heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads,
    intermediateSize: c.intermediate_size,
    vocabSize: c.vocab_size,
    tokenizerSize: tokenizer.vocabSize,
    maxPositions: c.max_position_embeddings,
    tiedEmbeddings: c.tie_word_embeddings,
    template: found ? { name: found.template.name, endOfTurn: found.template.endOfTurn, source: found.source } : null,
    bos: token(tokenizer.bosId),
    eos: token(tokenizer.eosId),
    pad: token(tokenizer.padId),
    stopIds: consistency.stopIds,
    notes,
    ignoredTensors: ignored,
    loadSeconds: (Date.now() - started) / 1000,
    rssAfterLoad: process.memoryUsage().rss,
  };
  return { model, tokenizer, template, info };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 2 ** 24 ? 1 : 0)} MiB`;

/** A few lines a notebook prints about a loaded model. */
export function describePretrained(info: PretrainedInfo): string {
  const millions = (info.parameters / 1e6).toFixed(info.parameters < 1e7 ? 2 : 1);
  return [
    `${info.architecture} from ${info.folder}: ${millions} M parameters, ${info.layers} layers, hidden ${info.hiddenSize}, ${info.heads} heads (${info.kvHeads} key/value), MLP ${info.intermediateSize}, ${info.tiedEmbeddings ? 'tied' : 'untied'} embeddings, up to ${info.maxPositions} positions`,
    `weights: ${mib(info.weightBytes)} here (float32), ${mib(info.fileBytes)} on disk (${info.storedAs.join(', ')}); loaded in ${info.loadSeconds.toFixed(1)} s, process memory ${mib(info.rssAfterLoad)}`,
    `tokenizer: ${info.tokenizerSize} ids (vocab_size ${info.vocabSize}); bos ${info.bos ?? 'none'}, eos ${info.eos ?? 'none'}, pad ${info.pad ?? 'none'}; stops at ids ${info.stopIds.join(', ')}`,
    info.template ? `chat template: ${info.template.name} (${info.template.source}), turns end with ${info.template.endOfTurn}` : 'chat template: none',
    ...info.notes.map((n) => `note: ${n}`),
  ].join('\n');
}
