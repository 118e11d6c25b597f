// Formats written in plain text, for models trained from scratch here: the
// Alpaca instruction/response blocks and a minimal "User:/Assistant:" format
// for tiny models with a byte tokenizer. Only the end-of-reply marker needs to
// be a special token.

import { JINJA_ALTERNATION_CHECK, JINJA_ROLE_CHECKS, familyTemplate, jinjaQuote, jinjaSystemSplit, type FamilySpec } from './chat_family';
import type { ChatTemplate } from './chat_types';

export const ALPACA_PREAMBLE = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.';

// Stanford Alpaca's prompt without input, "### Response:" followed by a newline
// as in the Alpaca README (and alpaca-lora):
//   {preamble}\n\n### Instruction:\n{user}\n\n### Response:\n{reply}</s>
// Multi-turn repeats the two blocks; each reply ends with EOS so the model
// learns to stop. A system message replaces the standard preamble. No BOS is
// written: a tokenizer that wants one adds it.
export function alpacaSpec(eosToken = '</s>'): FamilySpec {
  return {
    name: 'alpaca',
    specialTokens: [eosToken],
    eosToken,
    endOfTurn: eosToken,
    generationPrompt: '\n\n### Response:\n',
    supportsSystem: true,
    alternates: true,
    systemInFirstUser: false,
    write({ system, turns }, w) {
      w.write(system ? system.content : ALPACA_PREAMBLE);
      for (const turn of turns) {
        if (turn.role === 'user') {
          w.write(`\n\n### Instruction:\n${turn.content}`);
        } else {
          w.write('\n\n### Response:\n');
          w.reply(turn, turn.content, eosToken);
        }
      }
    },
    jinja: JINJA_ROLE_CHECKS + jinjaSystemSplit(false) + String.raw`
{%- if system_message is defined %}
    {{- system_message }}
{%- else %}
    {{- ${jinjaQuote(ALPACA_PREAMBLE)} }}
{%- endif %}
{%- for message in loop_messages %}` + JINJA_ALTERNATION_CHECK + String.raw`
    {%- if message['role'] == 'user' %}
        {{- '\n\n### Instruction:\n' + message['content'] }}
    {%- else %}
        {{- '\n\n### Response:\n' + message['content'] + eos_token }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '\n\n### Response:\n' }}
{%- endif %}`,
  };
}

/** Alpaca with another end-of-reply marker (e.g. '<|eos|>' for the byte tokenizer). */
export function alpacaTemplate(options: { eosToken?: string } = {}): ChatTemplate {
  return familyTemplate(alpacaSpec(options.eosToken));
}

export interface PlainTemplateOptions {
  system?: string;
  user?: string;
  assistant?: string;
  /** Ends every reply; the byte tokenizer's '<|eos|>' by default. */
  eosToken?: string;
  /** Written at the very start when given (e.g. '<|bos|>'). */
  bosToken?: string;
}

// One line per turn, "{Label}: {content}\n"; a reply ends with EOS before its
// newline:
//   System: {system}\nUser: {user}\nAssistant: {reply}<|eos|>\n
// The generation prompt is "Assistant:" and the reply span starts with its
// space: a BPE tokenizer writes " word" as one token, so a prompt ending in a
// space would cut that token in two at generation time but not in training.
// Turns need not alternate.
export function plainSpec(options: PlainTemplateOptions = {}): FamilySpec {
  const { system = 'System', user = 'User', assistant = 'Assistant', eosToken = '<|eos|>', bosToken } = options;
  const labels: Record<string, string> = { system, user, assistant };
  const label = (role: string) => `${labels[role]}: `;
  return {
    name: 'plain',
    specialTokens: bosToken === undefined ? [eosToken] : [bosToken, eosToken],
    bosToken,
    eosToken,
    endOfTurn: eosToken,
    generationPrompt: label('assistant').trimEnd(),
    supportsSystem: true,
    alternates: false,
    systemInFirstUser: false,
    write({ system: sys, turns }, w) {
      if (bosToken !== undefined) w.write(bosToken);
      if (sys) w.write(`${label('system')}${sys.content}\n`);
      for (const turn of turns) {
        if (turn.role === 'user') {
          w.write(`${label(turn.role)}${turn.content}\n`);
        } else {
          w.write(label(turn.role).trimEnd());
          w.reply(turn, ` ${turn.content}`, eosToken);
          w.write('\n');
        }
      }
    },
    jinja: (bosToken === undefined ? '' : '{{- bos_token }}\n') + JINJA_ROLE_CHECKS + String.raw`
{%- for message in messages %}
    {%- if message['role'] == 'system' %}
        {{- ${jinjaQuote(label('system'))} + message['content'] + '\n' }}
    {%- elif message['role'] == 'user' %}
        {{- ${jinjaQuote(label('user'))} + message['content'] + '\n' }}
    {%- else %}
        {{- ${jinjaQuote(label('assistant').trimEnd())} + ' ' + message['content'] + eos_token + '\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- ${jinjaQuote(label('assistant').trimEnd())} }}
{%- endif %}`,
  };
}

/** The plain format with other labels or markers. */
export function plainTemplate(options: PlainTemplateOptions = {}): ChatTemplate {
  return familyTemplate(plainSpec(options));
}
