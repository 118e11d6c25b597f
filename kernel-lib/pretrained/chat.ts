// One reply from a loaded model, rendered with its own chat template and
// stopped by its own stop tokens, streamed: each new piece of text is handed
// over as soon as its bytes form whole characters.
import { generate, type SamplingOptions } from '../model';
import type { ChatMessage } from '../text';
import type { Pretrained } from './load';

export interface ChatReplyOptions extends SamplingOptions {
  /** Token budget of the reply (default 64). */
  maxNewTokens?: number;
  seed?: number;
  /** Called with each new piece of the reply's text. */
  onText?: (piece: string) => void;
}

export interface ChatReply {
  text: string;
  tokens: number[];
  /** 'stop' when a stop token ended it, 'length' when the budget did. */
  finishReason: 'stop' | 'length';
  tokensPerSecond: number;
}

/** The model's reply to `messages` (the template's generation prompt appended). */
export async function chatReply(pre: Pretrained, messages: ChatMessage[], options: ChatReplyOptions = {}): Promise<ChatReply> {
  const { model, tokenizer, template, info } = pre;
  if (!template) throw new Error(`${info.folder}: the model has no chat template; give it one (loadPretrained reads tokenizer_config.json's chat_template or chat_template.jinja)`);
  const maxNewTokens = options.maxNewTokens ?? 64;
  const prompt = tokenizer.encode(template.render(messages, { addGenerationPrompt: true }).text, { addSpecialTokens: false });
  if (prompt.length + maxNewTokens > model.config.max_position_embeddings) {
    throw new Error(`chatReply: ${prompt.length} prompt tokens plus maxNewTokens ${maxNewTokens} exceed the model's max_position_embeddings (${model.config.max_position_embeddings})`);
  }
  const tokens: number[] = [];
  let shown = '';
  const started = Date.now();
  const result = await generate(model, [prompt], {
    ...options,
    maxNewTokens,
    stopTokens: info.stopIds,
    padTokenId: tokenizer.padId ?? 0,
    onToken: ({ token }) => {
      tokens.push(token);
      if (!options.onText || info.stopIds.includes(token)) return;
      // Decode everything so far: a character split across byte tokens shows once complete.
      const text = tokenizer.decode(tokens.filter((t) => !info.stopIds.includes(t)));
      if (text.length > shown.length && !text.endsWith('\uFFFD')) {
        options.onText(text.slice(shown.length));
        shown = text;
      }
    },
  });
  const seconds = (Date.now() - started) / 1000;
  const reply = result.tokens[0];
  const text = tokenizer.decode(reply.filter((t) => !info.stopIds.includes(t)));
  if (options.onText && text.length > shown.length) options.onText(text.slice(shown.length));
  return { text, tokens: reply, finishReason: result.finishReason[0], tokensPerSecond: seconds > 0 ? reply.length / seconds : 0 };
}
