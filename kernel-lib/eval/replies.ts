// Replies of a chat model to a list of prompts, the way it is used: each
// prompt rendered by the chat template with the generation prompt, continued
// (greedy by default, batched, KV-cached) until the template's end-of-turn
// token, the tokenizer's EOS or a token budget. Whether a reply ended with the
// end-of-turn token is kept: stopping is the first thing instruction tuning
// teaches, and a base model rarely does it.
import { generate, type Decoder, type SamplingOptions } from '../model';
import type { ChatMessage, ChatTemplate, RenderOptions } from '../text';
import { EvalError } from './errors';
import { progressLine } from '../viz';

/** What evaluation needs of a tokenizer; BpeTokenizer (trained here or loaded from tokenizer.json) has it. */
export interface ChatTokenizer {
  readonly vocabSize: number;
  readonly eosId?: number;
  readonly padId?: number;
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: ArrayLike<number>, options?: { skipSpecial?: boolean }): string;
  tokenToId(token: string): number | undefined;
  isSpecial?(id: number): boolean;
}

/** A prompt: messages, a conversation record (its final assistant reply is dropped) or a preference pair (its prompt). */
export type PromptSource = ChatMessage[] | { messages: ChatMessage[]; id?: string } | { prompt: ChatMessage[]; id?: string };

/** How a reply ended: the template's end-of-turn token, the tokenizer's EOS (when it is another token), or the token budget. */
export type ReplyFinish = 'end_of_turn' | 'eos' | 'length';

export interface GeneratedReply {
  /** The reply's text, without the stop token. */
  text: string;
  /** Every generated token id, the stop token included. */
  tokens: number[];
  /** tokens.length: what the model produced, its stop token counted. */
  tokenCount: number;
  /** The most tokens this reply was allowed: maxNewTokens, or less with fitContext for a long prompt. */
  budget: number;
  finish: ReplyFinish;
  stoppedAtEndOfTurn: boolean;
  /** The rendered prompt's ids (teacher-forced KL reads them again). */
  promptIds: number[];
}

export interface ReplyProgress {
  /** Prompts answered so far, and in all. */
  done: number;
  total: number;
  /** Tokens generated so far. */
  tokens: number;
  seconds: number;
}

export interface GenerateRepliesOptions extends SamplingOptions {
  /** Token budget per reply (default 64). */
  maxNewTokens?: number;
  /**
   * A prompt too long for its whole budget within max_position_embeddings
   * gets what room is left (reply.budget says how much) instead of an error.
   * Default false.
   */
  fitContext?: boolean;
  /** Prompts per generate call (default 16). Prompts are grouped by length first, so a batch pads little. */
  batchSize?: number;
  /** Seeds sampling when temperature > 0 (greedy ignores it); the same seed and batchSize give the same replies. */
  seed?: number;
  /** Let the tokenizer's post-processor add its tokens (default false: the template writes BOS, as transformers' apply_chat_template assumes). */
  addSpecialTokens?: boolean;
  /** Extra render options (e.g. Jinja variables); addGenerationPrompt is always on. */
  render?: Omit<RenderOptions, 'addGenerationPrompt' | 'continueFinalMessage'>;
  /** Drop special tokens from the reply text (default false: a stray marker in a reply is part of what the model said). */
  skipSpecial?: boolean;
  /** Called after every batch. */
  onProgress?: (progress: ReplyProgress) => void;
  /** Names the model in errors (default 'model'). */
  label?: string;
}

/** The messages a model answers: everything before the source's final assistant reply(s). */
export function promptMessages(source: PromptSource, where = 'prompt'): ChatMessage[] {
  const messages = Array.isArray(source) ? source : 'messages' in source ? source.messages : source.prompt;
  if (!Array.isArray(messages)) throw new EvalError(`${where}: expected messages, a conversation ({messages}) or a preference pair ({prompt})`);
  let end = messages.length;
  while (end > 0 && messages[end - 1].role === 'assistant') end--;
  if (!messages.slice(0, end).some((m) => m.role === 'user')) throw new EvalError(`${where}: no user message before the reply`);
  return messages.slice(0, end);
}

/** The id of the template's end-of-turn token; an EvalError when the tokenizer would split it into ordinary tokens. */
export function endOfTurnId(tokenizer: ChatTokenizer, template: ChatTemplate, where = 'eval'): number {
  const id = tokenizer.tokenToId(template.endOfTurn);
  if (id === undefined) {
    throw new EvalError(
      `${where}: the tokenizer has no token ${JSON.stringify(template.endOfTurn)}, the end of turn of template ${template.name}, so a reply could never be seen to stop; use a tokenizer with the template's markers (${template.specialTokens.join(' ')}) as special tokens`,
    );
  }
  if (tokenizer.isSpecial && !tokenizer.isSpecial(id)) {
    throw new EvalError(
      `${where}: ${JSON.stringify(template.endOfTurn)} (template ${template.name}'s end of turn) is an ordinary token of this tokenizer, not a special one, so rendered text would split it; add it as a special token`,
    );
  }
  return id;
}

function sourceName(source: PromptSource, i: number): string {
  return !Array.isArray(source) && typeof source.id === 'string' ? `prompt ${i} (${source.id})` : `prompt ${i}`;
}

/** Renders and encodes each prompt with the generation prompt; checks every id against the model. */
export function encodePrompts(model: Decoder, tokenizer: ChatTokenizer, template: ChatTemplate, sources: PromptSource[], options: GenerateRepliesOptions = {}): number[][] {
  const label = options.label ?? 'model';
  const where = `generateReplies (${label})`;
  const maxNewTokens = options.maxNewTokens ?? 64;
  const vocab = model.config.vocab_size;
  if (tokenizer.vocabSize > vocab) {
    throw new EvalError(`${where}: the tokenizer has ${tokenizer.vocabSize} ids but the model's vocab_size is ${vocab}; is this the model's own tokenizer?`);
  }
  return sources.map((source, i) => {
    const name = `${where}: ${sourceName(source, i)}`;
    const text = template.render(promptMessages(source, name), { ...options.render, spans: false, addGenerationPrompt: true }).text;
    const ids = tokenizer.encode(text, { addSpecialTokens: options.addSpecialTokens ?? false });
    if (ids.length === 0) throw new EvalError(`${name}: renders to no tokens`);
    const room = model.config.max_position_embeddings;
    if (ids.length + (options.fitContext ? 1 : maxNewTokens) > room) {
      throw new EvalError(
        `${name}: ${ids.length} prompt tokens plus ${options.fitContext ? 'one new token' : `maxNewTokens ${maxNewTokens}`} exceed the model's max_position_embeddings (${room})${options.fitContext ? '' : '; pass fitContext: true to give long prompts the room that is left'}`,
      );
    }
    return ids;
  });
}

/**
 * The model's reply to every prompt, in the order given. Prompts are sorted
 * by length into batches (less padding), generated with stop tokens
 * [end of turn, EOS], and put back in order.
 */
export async function generateReplies(
  model: Decoder,
  tokenizer: ChatTokenizer,
  template: ChatTemplate,
  sources: PromptSource[],
  options: GenerateRepliesOptions = {},
): Promise<GeneratedReply[]> {
  const { maxNewTokens = 64, batchSize = 16 } = options;
  const where = `generateReplies (${options.label ?? 'model'})`;
  if (!(Number.isInteger(maxNewTokens) && maxNewTokens >= 1)) throw new EvalError(`${where}: maxNewTokens must be an integer >= 1, got ${maxNewTokens}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new EvalError(`${where}: batchSize must be an integer >= 1, got ${batchSize}`);
  const eot = endOfTurnId(tokenizer, template, where);
  const eos = tokenizer.eosId;
  const stopTokens = eos === undefined || eos === eot ? [eot] : [eot, eos];
  const prompts = encodePrompts(model, tokenizer, template, sources, options);
  const room = model.config.max_position_embeddings;
  const budgets = prompts.map((p) => (options.fitContext ? Math.min(maxNewTokens, room - p.length) : maxNewTokens));
  // Batches of prompts sorted by length (little padding) that share one budget, so a reply's budget never depends on its batch.
  const order = prompts.map((_, i) => i).sort((a, b) => prompts[a].length - prompts[b].length || a - b);
  const batches: number[][] = [];
  for (const i of order) {
    const last = batches[batches.length - 1];
    if (last && last.length < batchSize && budgets[last[0]] === budgets[i]) last.push(i);
    else batches.push([i]);
  }
  const replies: GeneratedReply[] = new Array(prompts.length);
  const started = Date.now();
  let tokens = 0;
  let done = 0;
  for (const rows of batches) {
    const budget = budgets[rows[0]];
    const out = await generate(
      model,
      rows.map((i) => prompts[i]),
      { maxNewTokens: budget, stopTokens, padTokenId: tokenizer.padId ?? 0, temperature: options.temperature, topK: options.topK, topP: options.topP, seed: (options.seed ?? 0) + done },
    );
    rows.forEach((i, r) => {
      const ids = out.tokens[r];
      const last = ids[ids.length - 1];
      const finish: ReplyFinish = out.finishReason[r] === 'length' ? 'length' : last === eot ? 'end_of_turn' : 'eos';
      const body = finish === 'length' ? ids : ids.slice(0, -1);
      replies[i] = {
        text: tokenizer.decode(body, { skipSpecial: options.skipSpecial ?? false }),
        tokens: ids,
        tokenCount: ids.length,
        budget,
        finish,
        stoppedAtEndOfTurn: finish === 'end_of_turn',
        promptIds: prompts[i],
      };
      tokens += ids.length;
    });
    done += rows.length;
    options.onProgress?.({ done, total: order.length, tokens, seconds: (Date.now() - started) / 1000 });
  }
  return replies;
}

/**
 * An onProgress for notebooks and logs: in a notebook one line updated in
 * place, elsewhere a line about every tenth of the run (or every 15 s).
 */
export function progressLines(label: string): (progress: ReplyProgress) => void {
  const line = progressLine();
  let lastPrinted = 0;
  let lastTime = 0;
  return (p) => {
    const rate = p.seconds > 0 ? ` · ${Math.round(p.tokens / p.seconds)} tok/s` : '';
    const detail = `replies · ${p.tokens} tokens${rate} · ${p.seconds.toFixed(1)} s`;
    if (line) {
      const eta = p.done > 0 ? (p.seconds / p.done) * (p.total - p.done) : null;
      line.update({ label, done: p.done, total: p.total, detail, etaSeconds: eta, finished: p.done >= p.total });
      return;
    }
    const now = Date.now();
    if (p.done < p.total && p.done - lastPrinted < p.total / 10 && now - lastTime < 15000) return;
    lastPrinted = p.done;
    lastTime = now;
    console.log(`${label} ${p.done}/${p.total} ${detail}`);
  };
}
