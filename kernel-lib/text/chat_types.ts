// What a chat template takes and gives: messages in; the text, plus where each
// assistant reply sits in it, out. The reply spans are what assistant masks are
// built from, so a template computes them while it writes the text.

export interface ChatMessage {
  role: string;
  content: string;
  [extra: string]: unknown;
}

export interface RenderOptions {
  /** transformers' add_generation_prompt: end with the header of an assistant turn, for generation. */
  addGenerationPrompt?: boolean;
  /** transformers' continue_final_message: the last (assistant) message is left open, without its end of turn. */
  continueFinalMessage?: boolean;
  /** A system message in a family without a system role: merged into the first user turn (default, with a warning) or an error. */
  system?: 'merge' | 'error';
  /**
   * Compute assistantSpans (default true). With false none are returned, and a
   * Jinja template without {% generation %} blocks renders once instead of
   * two or three times (the extra renders locate the replies).
   */
  spans?: boolean;
  /** Extra names for Jinja templates (bos_token, eos_token, date_string, ...); the built-in families ignore them. */
  variables?: Record<string, unknown>;
}

/** [start, end) in UTF-16 code units of RenderedChat.text */
export interface AssistantSpan {
  start: number;
  end: number;
  /** Index into the messages given to render (system message included). */
  messageIndex: number;
  /** The reply was continued (continueFinalMessage): no end-of-turn marker follows it. */
  open: boolean;
}

export interface RenderedChat {
  text: string;
  /** One per assistant message rendered, in order: the reply as rendered plus its end-of-turn marker. */
  assistantSpans: AssistantSpan[];
  warnings: string[];
  /** Name of the template that rendered it. */
  template: string;
}

export interface ChatTemplate {
  name: string;
  /** marker strings the tokenizer must keep as single special tokens, e.g. ['<|im_start|>', '<|im_end|>'] */
  specialTokens: string[];
  /** What the family renders at the very start, if anything. */
  bosToken?: string;
  eosToken?: string;
  /** The marker the model must emit to end a reply (e.g. '<|im_end|>', '<|eot_id|>', '</s>'). */
  endOfTurn: string;
  /** Exactly what addGenerationPrompt appends ('' for families whose user turn already ends the prompt). */
  generationPrompt: string;
  /** Whether a system message is accepted as such (families without one merge it into the first user turn). */
  supportsSystem: boolean;
  /** The equivalent Hugging Face chat_template source, for a tokenizer_config.json. */
  jinja?: string;
  render(messages: ChatMessage[], options?: RenderOptions): RenderedChat;
}

/** Every chat template problem: the message names the template, the message index, role or option at fault, and what was expected. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}
