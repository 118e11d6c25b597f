// The [INST] families, Llama-2-chat and Mistral-Instruct. Their generation
// prompt is empty: a user turn already ends with [/INST], and the reply
// follows after a space, which the span includes.

import { JINJA_ALTERNATION_CHECK, JINJA_ROLE_CHECKS, jinjaSystemSplit, type FamilySpec } from './chat_family';

// Llama-2-chat, as in meta-llama/Llama-2-7b-chat-hf's tokenizer_config.json:
//   <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {reply} </s><s>[INST] {user} [/INST] ...
// BOS before every user turn; the system block opens the first user turn and
// the whole turn is stripped; a reply is ' ' + stripped + ' </s>'.
export const LLAMA2: FamilySpec = {
  name: 'llama2',
  specialTokens: ['<s>', '</s>'],
  bosToken: '<s>',
  eosToken: '</s>',
  endOfTurn: '</s>',
  generationPrompt: '',
  supportsSystem: true,
  alternates: true,
  systemInFirstUser: true,
  write({ system, turns }, w) {
    for (const turn of turns) {
      if (turn.role === 'user') {
        const content = system && turn === turns[0] ? `<<SYS>>\n${system.content}\n<</SYS>>\n\n${turn.content}` : turn.content;
        w.write(`<s>[INST] ${content.trim()} [/INST]`);
      } else {
        w.reply(turn, ` ${turn.content.trim()}`, ' </s>');
      }
    }
  },
  jinja: JINJA_ROLE_CHECKS + jinjaSystemSplit(true) + String.raw`
{%- for message in loop_messages %}` + JINJA_ALTERNATION_CHECK + String.raw`
    {%- if loop.first and system_message is defined %}
        {%- set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}
    {%- else %}
        {%- set content = message['content'] %}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {{- bos_token + '[INST] ' + content.strip() + ' [/INST]' }}
    {%- else %}
        {{- ' ' + content.strip() + ' ' + eos_token }}
    {%- endif %}
{%- endfor %}`,
};

// Mistral-7B-Instruct v0.1/v0.2 and Mixtral-8x7B-Instruct (tokenizer v1), as
// in their 2024 tokenizer_config.json:
//   <s> [INST] {system}\n\n{user} [/INST] {reply}</s> [INST] {user} [/INST] ...
// There is no system role: the system text opens the first user turn, followed
// by a blank line. Content is written as given (no stripping).
export const MISTRAL: FamilySpec = {
  name: 'mistral',
  specialTokens: ['<s>', '</s>'],
  bosToken: '<s>',
  eosToken: '</s>',
  endOfTurn: '</s>',
  generationPrompt: '',
  supportsSystem: false,
  alternates: true,
  systemInFirstUser: true,
  write({ system, turns }, w) {
    w.write('<s>');
    for (const turn of turns) {
      if (turn.role === 'user') {
        const merged = system && turn === turns[0] ? `${system.content}\n\n` : '';
        w.write(` [INST] ${merged}${turn.content} [/INST]`);
      } else {
        w.reply(turn, ` ${turn.content}`, '</s>');
      }
    }
  },
  jinja: JINJA_ROLE_CHECKS + jinjaSystemSplit(true) + String.raw`
{{- bos_token }}
{%- for message in loop_messages %}` + JINJA_ALTERNATION_CHECK + String.raw`
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\n\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- else %}
        {{- ' ' + message['content'] + eos_token }}
    {%- endif %}
{%- endfor %}`,
};
