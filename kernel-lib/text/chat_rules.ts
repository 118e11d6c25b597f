// Rules every template follows, built-in or Jinja, so both refuse, and cut,
// the same way: what a message must look like, the option combinations
// transformers refuses, and where a continued final message ends.

import { TemplateError, type ChatMessage, type RenderOptions } from './chat_types';

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;

/** Messages must be {role: string, content: string}; transformers' option rules hold. */
export function checkRenderInput(name: string, messages: ChatMessage[], options: RenderOptions): void {
  if (!Array.isArray(messages)) throw new TemplateError(`${name}: messages must be an array of {role, content}, got ${typeof messages}`);
  messages.forEach((message, i) => {
    if (typeof message !== 'object' || message === null) throw new TemplateError(`${name}: message ${i} must be an object {role, content}, got ${message === null ? 'null' : typeof message}`);
    if (typeof message.role !== 'string') throw new TemplateError(`${name}: message ${i}: role must be a string, got ${typeof message.role}`);
    if (typeof message.content !== 'string') throw new TemplateError(`${name}: message ${i} (${message.role}): content must be a string, got ${typeof message.content}`);
  });
  if (options.addGenerationPrompt && options.continueFinalMessage) {
    throw new TemplateError(`${name}: options addGenerationPrompt and continueFinalMessage cannot both be set (the first opens a new assistant turn, the second continues the last one)`);
  }
  if (options.continueFinalMessage) {
    const last = messages.length - 1;
    if (last < 0) throw new TemplateError(`${name}: continueFinalMessage needs a final assistant message to continue, got no messages`);
    if (messages[last].role !== 'assistant') {
      throw new TemplateError(`${name}: continueFinalMessage: the last message (${last}) has role '${messages[last].role}'; expected 'assistant'`);
    }
  }
}

/**
 * Where transformers 4 cuts a chat rendered for continue_final_message: after
 * the last occurrence of the final message's stripped content, keeping its
 * trailing whitespace only when the template kept the content verbatim.
 * Undefined when the stripped content does not occur in `text`.
 * (transformers 5 instead appends a marker to the content and cuts at it; the
 * two differ only when the final message starts or ends with whitespace.)
 */
export function continuedLength(text: string, content: string): number | undefined {
  const stripped = content.trim();
  const at = text.lastIndexOf(stripped);
  if (at < 0) return undefined;
  const leftStripped = content.trimStart();
  const verbatim = text.slice(at, at + leftStripped.length) === content;
  return at + (verbatim ? leftStripped.length : stripped.length);
}
