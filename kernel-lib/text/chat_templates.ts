// The built-in chat template families, each written to give the text of the
// family's published Hugging Face chat_template (the variant is named above
// each), with its Jinja equivalent beside it. This file holds the families
// whose turn markers are special tokens; chat_inst.ts has the [INST] families
// and chat_plain.ts the plain-text ones.

import { JINJA_ALTERNATION_CHECK, JINJA_ROLE_CHECKS, familyTemplate, jinjaSystemSplit, type FamilySpec } from './chat_family';
import { LLAMA2, MISTRAL } from './chat_inst';
import { alpacaSpec, plainSpec } from './chat_plain';
import { TemplateError, type ChatTemplate } from './chat_types';

// ChatML, as in Qwen2-Instruct and transformers' chat-template docs:
//   <|im_start|>{role}\n{content}<|im_end|>\n for every message;
// generation prompt <|im_start|>assistant\n. No BOS; content is written as given.
const CHATML: FamilySpec = {
  name: 'chatml',
  specialTokens: ['<|im_start|>', '<|im_end|>'],
  eosToken: '<|im_end|>',
  endOfTurn: '<|im_end|>',
  generationPrompt: '<|im_start|>assistant\n',
  supportsSystem: true,
  alternates: false,
  systemInFirstUser: false,
  write({ system, turns }, w) {
    if (system) w.write(`<|im_start|>system\n${system.content}<|im_end|>\n`);
    for (const turn of turns) {
      w.write(`<|im_start|>${turn.role}\n`);
      if (turn.role === 'user') {
        w.write(`${turn.content}<|im_end|>\n`);
      } else {
        w.reply(turn, turn.content, '<|im_end|>');
        w.write('\n');
      }
    }
  },
  jinja: JINJA_ROLE_CHECKS + String.raw`
{%- for message in messages %}
    {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}`,
};

// Llama-3.0 instruct, as in Meta-Llama-3-8B-Instruct's tokenizer_config.json:
//   <|begin_of_text|><|start_header_id|>{role}<|end_header_id|>\n\n{content stripped}<|eot_id|> ...
// No newline between turns; BOS only when there is a message. EOS is
// <|eot_id|>, as in the updated config (the first release named <|end_of_text|>).
const LLAMA3: FamilySpec = {
  name: 'llama3',
  specialTokens: ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
  bosToken: '<|begin_of_text|>',
  eosToken: '<|eot_id|>',
  endOfTurn: '<|eot_id|>',
  generationPrompt: '<|start_header_id|>assistant<|end_header_id|>\n\n',
  supportsSystem: true,
  alternates: false,
  systemInFirstUser: false,
  write({ system, turns }, w) {
    const header = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;
    if (system || turns.length > 0) w.write('<|begin_of_text|>');
    if (system) w.write(`${header('system')}${system.content.trim()}<|eot_id|>`);
    for (const turn of turns) {
      w.write(header(turn.role));
      if (turn.role === 'user') w.write(`${turn.content.trim()}<|eot_id|>`);
      else w.reply(turn, turn.content.trim(), '<|eot_id|>');
    }
  },
  jinja: JINJA_ROLE_CHECKS + String.raw`
{%- for message in messages %}
    {%- if loop.first %}
        {{- bos_token }}
    {%- endif %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + (message['content'] | trim) + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}`,
};

// Zephyr-7b-beta (HuggingFaceH4), as in its tokenizer_config.json:
//   <|{role}|>\n{content}</s>\n for every message; generation prompt <|assistant|>\n.
// The published source adds the generation prompt inside the loop, on the
// last message; this one adds it after the loop (same text unless there are
// no messages). The role tags are plain text in Zephyr's tokenizer.
const ZEPHYR: FamilySpec = {
  name: 'zephyr',
  specialTokens: ['</s>'],
  eosToken: '</s>',
  endOfTurn: '</s>',
  generationPrompt: '<|assistant|>\n',
  supportsSystem: true,
  alternates: false,
  systemInFirstUser: false,
  write({ system, turns }, w) {
    if (system) w.write(`<|system|>\n${system.content}</s>\n`);
    for (const turn of turns) {
      w.write(`<|${turn.role}|>\n`);
      if (turn.role === 'user') {
        w.write(`${turn.content}</s>\n`);
      } else {
        w.reply(turn, turn.content, '</s>');
        w.write('\n');
      }
    }
  },
  jinja: JINJA_ROLE_CHECKS + String.raw`
{%- for message in messages %}
    {{- '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|assistant|>\n' }}
{%- endif %}`,
};

// Gemma 3 instruct (text), as in google/gemma-3-1b-it's tokenizer_config.json:
//   <bos><start_of_turn>user\n{system}\n\n{user stripped}<end_of_turn>\n<start_of_turn>model\n{reply stripped}<end_of_turn>\n
// No system role: the system text (not stripped) and a blank line open the
// first user turn. The assistant role is written "model". (Gemma 1 and 2
// refuse a system message instead.)
const GEMMA: FamilySpec = {
  name: 'gemma',
  specialTokens: ['<bos>', '<eos>', '<start_of_turn>', '<end_of_turn>'],
  bosToken: '<bos>',
  eosToken: '<eos>',
  endOfTurn: '<end_of_turn>',
  generationPrompt: '<start_of_turn>model\n',
  supportsSystem: false,
  alternates: true,
  systemInFirstUser: true,
  write({ system, turns }, w) {
    w.write('<bos>');
    turns.forEach((turn, k) => {
      if (turn.role === 'user') {
        const merged = system && k === 0 ? `${system.content}\n\n` : '';
        w.write(`<start_of_turn>user\n${merged}${turn.content.trim()}<end_of_turn>\n`);
      } else {
        w.write('<start_of_turn>model\n');
        w.reply(turn, turn.content.trim(), '<end_of_turn>');
        w.write('\n');
      }
    });
  },
  jinja: JINJA_ROLE_CHECKS + jinjaSystemSplit(true) + String.raw`
{{- bos_token }}
{%- for message in loop_messages %}` + JINJA_ALTERNATION_CHECK + String.raw`
    {%- set role = 'model' if message['role'] == 'assistant' else message['role'] %}
    {%- set merged = system_message + '\n\n' if loop.first and system_message is defined else '' %}
    {{- '<start_of_turn>' + role + '\n' + merged + (message['content'] | trim) + '<end_of_turn>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<start_of_turn>model\n' }}
{%- endif %}`,
};

// Phi-3-mini instruct, as in microsoft/Phi-3-mini-4k-instruct's
// tokenizer_config.json (mid-2024 revision):
//   <|{role}|>\n{content}<|end|>\n for every message, then <|endoftext|> when
//   the conversation is rendered without the generation prompt.
// That closing EOS sits after the last turn only, so a conversation ending
// before a user turn is not a prefix of the longer one (chat_checks reports it).
// The BOS <s> is not written by the template.
const PHI3: FamilySpec = {
  name: 'phi3',
  specialTokens: ['<|system|>', '<|user|>', '<|assistant|>', '<|end|>', '<|endoftext|>'],
  eosToken: '<|endoftext|>',
  endOfTurn: '<|end|>',
  generationPrompt: '<|assistant|>\n',
  supportsSystem: true,
  alternates: false,
  systemInFirstUser: false,
  closing: '<|endoftext|>',
  write({ system, turns }, w) {
    if (system) w.write(`<|system|>\n${system.content}<|end|>\n`);
    for (const turn of turns) {
      w.write(`<|${turn.role}|>\n`);
      if (turn.role === 'user') {
        w.write(`${turn.content}<|end|>\n`);
      } else {
        w.reply(turn, turn.content, '<|end|>');
        w.write('\n');
      }
    }
  },
  jinja: JINJA_ROLE_CHECKS + String.raw`
{%- for message in messages %}
    {{- '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|assistant|>\n' }}
{%- else %}
    {{- eos_token }}
{%- endif %}`,
};

export const BUILTIN_TEMPLATES = ['chatml', 'llama3', 'llama2', 'mistral', 'zephyr', 'gemma', 'phi3', 'alpaca', 'plain'] as const;
export type BuiltinTemplateName = (typeof BUILTIN_TEMPLATES)[number];

const SPECS: Record<BuiltinTemplateName, () => FamilySpec> = {
  chatml: () => CHATML,
  llama3: () => LLAMA3,
  llama2: () => LLAMA2,
  mistral: () => MISTRAL,
  zephyr: () => ZEPHYR,
  gemma: () => GEMMA,
  phi3: () => PHI3,
  alpaca: () => alpacaSpec(),
  plain: () => plainSpec(),
};

/** A built-in family by name (alpacaTemplate and plainTemplate take options). */
export function builtinTemplate(name: BuiltinTemplateName): ChatTemplate {
  if (!(BUILTIN_TEMPLATES as readonly string[]).includes(name)) {
    throw new TemplateError(`builtinTemplate: unknown template '${name}'; expected one of ${BUILTIN_TEMPLATES.join(', ')}`);
  }
  return familyTemplate(SPECS[name]());
}
