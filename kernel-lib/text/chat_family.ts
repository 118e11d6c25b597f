// The renderer shared by the built-in families. A family describes its markers
// and writes its turns through a ChatWriter; the writer records each reply's
// span as the reply is written, so spans are exact by construction (nothing is
// searched for afterwards).

import { CHAT_ROLES, checkRenderInput, continuedLength } from './chat_rules';
import { TemplateError, type AssistantSpan, type ChatMessage, type ChatTemplate, type RenderOptions, type RenderedChat } from './chat_types';

/** A message kept with its index in the caller's list, so errors and spans can name it. */
export interface Turn {
  role: 'user' | 'assistant';
  content: string;
  index: number;
}

/** A conversation checked against the family's rules: the leading system message apart, then the turns. */
export interface PreparedChat {
  system?: { content: string; index: number };
  turns: Turn[];
}

/** The rendered text so far and the spans of the replies in it. */
export class ChatWriter {
  text = '';
  readonly spans: AssistantSpan[] = [];
  // Once a continued reply is written the text ends there, as transformers
  // cuts it after the final message's content.
  private ended = false;

  constructor(private readonly continueIndex: number) {}

  write(piece: string): void {
    if (!this.ended) this.text += piece;
  }

  /**
   * A reply: `body` is the reply as the family renders it (any space it puts
   * before the reply included) and `endOfTurn` what closes it; both lie in the span.
   */
  reply(turn: Turn, body: string, endOfTurn: string): void {
    if (this.ended) return;
    const start = this.text.length;
    if (turn.index === this.continueIndex) {
      // The body always holds the content it was made from, so the cut is found.
      this.text += body.slice(0, continuedLength(body, turn.content) ?? body.length);
      this.spans.push({ start, end: this.text.length, messageIndex: turn.index, open: true });
      this.ended = true;
      return;
    }
    this.text += body + endOfTurn;
    this.spans.push({ start, end: this.text.length, messageIndex: turn.index, open: false });
  }
}

/** A built-in family: its markers and rules, how it writes turns, and its Jinja equivalent. */
export interface FamilySpec
  extends Pick<ChatTemplate, 'name' | 'specialTokens' | 'bosToken' | 'eosToken' | 'endOfTurn' | 'generationPrompt' | 'supportsSystem'> {
  /** User and assistant turns must alternate, starting with user (after the system message). */
  alternates: boolean;
  /** The system text is written inside the first user turn, so that turn must exist. */
  systemInFirstUser: boolean;
  /** Written after the last turn when the text ends a finished conversation (no generation prompt, no continued reply). */
  closing?: string;
  jinja: string;
  write(chat: PreparedChat, w: ChatWriter): void;
}

/** Checks the conversation against the family's rules; the warnings say what was accepted but changed. */
export function prepareChat(spec: FamilySpec, messages: ChatMessage[], options: RenderOptions): { chat: PreparedChat; warnings: string[] } {
  const name = spec.name;
  checkRenderInput(name, messages, options);
  const chat: PreparedChat = { turns: [] };
  const warnings: string[] = [];
  messages.forEach((message, index) => {
    const { role, content } = message;
    if (!(CHAT_ROLES as readonly string[]).includes(role)) {
      throw new TemplateError(`${name}: message ${index} has role '${role}'; expected 'system', 'user' or 'assistant'`);
    }
    if (role === 'system') {
      if (index !== 0) throw new TemplateError(`${name}: message ${index} is a system message; only the first message may be one`);
      chat.system = { content, index };
    } else {
      chat.turns.push({ role: role as Turn['role'], content, index });
    }
  });
  if (spec.alternates) {
    chat.turns.forEach((turn, k) => {
      const expected = k % 2 === 0 ? 'user' : 'assistant';
      if (turn.role !== expected) {
        throw new TemplateError(`${name}: message ${turn.index} has role '${turn.role}' where '${expected}' was expected; ${name} needs user and assistant turns to alternate, starting with user`);
      }
    });
  }
  if (chat.system && spec.systemInFirstUser && chat.turns.length === 0) {
    throw new TemplateError(`${name}: message 0 is a system message with no user turn after it; ${name} writes the system text inside the first user turn`);
  }
  if (chat.system && !spec.supportsSystem) {
    const what = `${name} has no system role: message 0 is a system message`;
    if (options.system === 'error') throw new TemplateError(`${what} (options.system is 'error'; use 'merge' to fold it into the first user turn)`);
    warnings.push(`${what}; it was merged into the first user turn (message ${chat.turns[0].index})`);
  }
  return { chat, warnings };
}

export function familyTemplate(spec: FamilySpec): ChatTemplate {
  return {
    name: spec.name,
    specialTokens: [...spec.specialTokens],
    bosToken: spec.bosToken,
    eosToken: spec.eosToken,
    endOfTurn: spec.endOfTurn,
    generationPrompt: spec.generationPrompt,
    supportsSystem: spec.supportsSystem,
    jinja: spec.jinja,
    render(messages: ChatMessage[], options: RenderOptions = {}): RenderedChat {
      const { chat, warnings } = prepareChat(spec, messages, options);
      const w = new ChatWriter(options.continueFinalMessage ? messages.length - 1 : -1);
      spec.write(chat, w);
      if (options.addGenerationPrompt) w.write(spec.generationPrompt);
      else if (spec.closing !== undefined) w.write(spec.closing);
      return { text: w.text, assistantSpans: options.spans === false ? [] : w.spans, warnings, template: spec.name };
    },
  };
}

// Pieces of the families' Jinja sources, so each source enforces what
// prepareChat enforces: the same conversations are refused by both.

/** Roles limited to system/user/assistant, system only first. */
export const JINJA_ROLE_CHECKS = String.raw`{%- for message in messages %}
    {%- if message['role'] not in ['system', 'user', 'assistant'] %}
        {{- raise_exception('message ' ~ loop.index0 ~ ' has role ' ~ message['role'] ~ '; expected system, user or assistant') }}
    {%- elif message['role'] == 'system' and not loop.first %}
        {{- raise_exception('message ' ~ loop.index0 ~ ' is a system message; only the first message may be one') }}
    {%- endif %}
{%- endfor %}`;

/** Sets system_message (if any), loop_messages and first_index (the index of loop_messages[0] in messages). */
export function jinjaSystemSplit(needsUserTurn: boolean): string {
  const lone = needsUserTurn
    ? String.raw`
{%- if system_message is defined and (loop_messages | length) == 0 %}
    {{- raise_exception('message 0 is a system message with no user turn after it') }}
{%- endif %}`
    : '';
  return String.raw`
{%- if (messages | length) > 0 and messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
    {%- set first_index = 1 %}
{%- else %}
    {%- set loop_messages = messages %}
    {%- set first_index = 0 %}
{%- endif %}` + lone;
}

/** Goes inside a loop over loop_messages. */
export const JINJA_ALTERNATION_CHECK = String.raw`
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('message ' ~ (loop.index0 + first_index) ~ ' has role ' ~ message['role'] ~ '; user and assistant turns must alternate, starting with user') }}
    {%- endif %}`;

/** A Jinja string literal for `text`. */
export function jinjaQuote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}
