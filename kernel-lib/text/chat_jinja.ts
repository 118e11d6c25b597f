// Chat templates written in Jinja, as Hugging Face tokenizers carry them,
// rendered with @huggingface/jinja under transformers' rules: the same names
// (messages, add_generation_prompt, bos_token, eos_token, raise_exception),
// lstrip_blocks and trim_blocks, and continue_final_message done by cutting the
// text after the final message's content.
//
// Assistant spans come from {% generation %} blocks when the source has them
// (transformers' convention for assistant masks), else from tracking each
// assistant message's content through one render of the whole conversation
// (chat_jinja_spans.ts). Neither needs the template to be prefix-preserving.

import { Environment, Interpreter, parse, tokenize } from '@huggingface/jinja';
import { JINJA_GLOBALS } from './chat_jinja_globals';
import { trackedSpans, type SpanSource } from './chat_jinja_spans';
import { checkRenderInput, continuedLength } from './chat_rules';
import { TemplateError, type AssistantSpan, type ChatMessage, type ChatTemplate, type RenderOptions, type RenderedChat } from './chat_types';

export interface JinjaTemplateInfo {
  name?: string;
  bosToken?: string;
  eosToken?: string;
  /**
   * Ends each reply span (templates without {% generation %} blocks). Without
   * it: the first well-known marker the source names (<|im_end|>, <|eot_id|>,
   * <end_of_turn>, <|end|>), else the EOS when the source writes eos_token,
   * else none and the span ends with the reply's content.
   */
  endOfTurn?: string;
  specialTokens?: string[];
  /** What add_generation_prompt appends; worked out from a one-message render when not given. */
  generationPrompt?: string;
}

// Private-use characters the rewritten {% generation %} tags emit around each
// block's output; stripped from the text, their positions give the spans.
const BLOCK_START = '\uE000';
const BLOCK_END = '\uE001';
const GENERATION_TAG = /\{%(-?)\s*(end)?generation\s*(-?)%\}/g;

// Names render sets itself; options.variables may not replace them.
const RESERVED = ['messages', 'add_generation_prompt', 'raise_exception', 'namespace'];

type Program = ReturnType<typeof parse>;

// Only the unambiguous end-of-turn markers of well-known families, first match wins.
const KNOWN_END_OF_TURN = ['<|im_end|>', '<|eot_id|>', '<end_of_turn>', '<|end|>'];

/** The end-of-turn marker a source implies: a well-known marker it names, else EOS when it writes eos_token. */
function impliedEndOfTurn(source: string, eosToken: string | undefined): string | undefined {
  return KNOWN_END_OF_TURN.find((m) => source.includes(m)) ?? (eosToken && source.includes('eos_token') ? eosToken : undefined);
}

/**
 * Rewrites each generation tag as an always-true if-block around a sentinel,
 * so the tag keeps its whitespace handling ('-', lstrip_blocks, trim_blocks).
 * @huggingface/jinja would otherwise drop the tags silently.
 */
function compile(name: string, source: string): { program: Program; generationBlocks: boolean } {
  if (typeof source !== 'string') throw new TemplateError(`${name}: the chat template must be a string, got ${typeof source}`);
  if (source.includes(BLOCK_START) || source.includes(BLOCK_END)) {
    throw new TemplateError(`${name}: the chat template contains U+E000 or U+E001, which are reserved to mark {% generation %} blocks`);
  }
  let generationBlocks = false;
  const rewritten = source.replace(GENERATION_TAG, (_tag, left: string, end: string | undefined, right: string) => {
    generationBlocks = true;
    return `{%${left} if true %}${end ? BLOCK_END : BLOCK_START}{% endif ${right}%}`;
  });
  try {
    return { program: parse(tokenize(rewritten, { lstrip_blocks: true, trim_blocks: true })), generationBlocks };
  } catch (e) {
    // An unclosed block makes the parser fail with a TypeError rather than a SyntaxError.
    const hint = e instanceof SyntaxError ? '' : ' (often an unclosed {% if %} or {% for %})';
    throw new TemplateError(`${name}: the chat template does not parse${hint}: ${(e as Error).message}`);
  }
}

function hasSentinel(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(BLOCK_START) || value.includes(BLOCK_END);
  if (Array.isArray(value)) return value.some(hasSentinel);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(hasSentinel);
  return false;
}

/** The text without sentinels, and the [start, end) of each generation block in it. */
function stripBlocks(name: string, raw: string): { text: string; blocks: [number, number][] } {
  let text = '';
  let open = -1;
  const blocks: [number, number][] = [];
  for (const piece of raw.split(/([\uE000\uE001])/)) {
    if (piece === BLOCK_START) {
      if (open >= 0) throw new TemplateError(`${name}: a {% generation %} block opens inside another (at character ${text.length})`);
      open = text.length;
    } else if (piece === BLOCK_END) {
      if (open < 0) throw new TemplateError(`${name}: {% endgeneration %} without an open block (at character ${text.length})`);
      blocks.push([open, text.length]);
      open = -1;
    } else {
      text += piece;
    }
  }
  if (open >= 0) throw new TemplateError(`${name}: a {% generation %} block is not closed (opened at character ${open})`);
  return { text, blocks };
}

export function jinjaTemplate(source: string, info: JinjaTemplateInfo = {}): ChatTemplate {
  const name = info.name ?? 'jinja';
  const { program, generationBlocks } = compile(name, source);
  const endOfTurn = info.endOfTurn ?? impliedEndOfTurn(source, info.eosToken) ?? '';
  const markers = [info.bosToken, info.eosToken, endOfTurn, ...(info.specialTokens ?? [])].filter((t): t is string => !!t);

  /** The template's output, sentinels included. */
  function run(messages: ChatMessage[], addGenerationPrompt: boolean, variables: Record<string, unknown> = {}): string {
    const names: Record<string, unknown> = { ...JINJA_GLOBALS };
    if (info.bosToken !== undefined) names.bos_token = info.bosToken;
    if (info.eosToken !== undefined) names.eos_token = info.eosToken;
    for (const [key, value] of Object.entries(variables)) {
      if (RESERVED.includes(key)) throw new TemplateError(`${name}: options.variables.${key} is not allowed; render sets '${key}' itself`);
      names[key] = value;
    }
    if (generationBlocks && (hasSentinel(messages) || hasSentinel(variables) || hasSentinel(names.bos_token) || hasSentinel(names.eos_token))) {
      throw new TemplateError(`${name}: the messages or variables contain U+E000 or U+E001, which mark {% generation %} blocks; remove them`);
    }
    names.messages = messages;
    names.add_generation_prompt = addGenerationPrompt;
    names.raise_exception = (message: unknown) => {
      throw new TemplateError(`${name}: the template raised an exception: ${String(message)}`);
    };
    const env = new Environment();
    for (const [key, value] of Object.entries(names)) env.set(key, value);
    try {
      return String(new Interpreter(env).run(program).value);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      throw new TemplateError(`${name}: rendering failed: ${(e as Error).message}`);
    }
  }

  const withoutBlocks = (raw: string) => (generationBlocks ? stripBlocks(name, raw).text : raw);

  function continuedCut(full: string, messages: ChatMessage[]): number {
    const last = messages.length - 1;
    const cut = continuedLength(full, messages[last].content);
    if (cut === undefined) {
      throw new TemplateError(`${name}: continueFinalMessage: the content of message ${last}, stripped (${JSON.stringify(messages[last].content.trim().slice(0, 60))}), does not occur in the rendered text; the template changes it, so it cannot be continued`);
    }
    return cut;
  }

  /** One block per assistant message, in order; a continued final reply is cut where the text is. */
  function spansFromBlocks(blocks: [number, number][], messages: ChatMessage[], cut: number, continuing: boolean): AssistantSpan[] {
    const assistants = messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
    if (blocks.length !== assistants.length) {
      throw new TemplateError(`${name}: the template's {% generation %} blocks output ${blocks.length} spans for ${assistants.length} assistant messages; expected one block per assistant message`);
    }
    const last = messages.length - 1;
    return blocks
      .map(([start, end], k) => ({ start, end, messageIndex: assistants[k], open: false }))
      .filter((s) => s.start <= cut)
      .map((s) => (continuing && s.messageIndex === last ? { ...s, end: Math.min(s.end, cut), open: true } : s));
  }

  /** What trackedSpans needs: the marked conversation is rendered with the caller's options. */
  function spanSource(options: RenderOptions): SpanSource {
    return {
      name,
      endOfTurn,
      generationPrompt: template.generationPrompt,
      render: (marked) => run(marked, !!options.addGenerationPrompt, options.variables),
      lead: probeLead,
    };
  }

  function render(messages: ChatMessage[], options: RenderOptions = {}): RenderedChat {
    checkRenderInput(name, messages, options);
    const continuing = !!options.continueFinalMessage;
    const wantSpans = options.spans !== false;
    const raw = run(messages, !!options.addGenerationPrompt, options.variables);
    const { text: full, blocks } = generationBlocks ? stripBlocks(name, raw) : { text: raw, blocks: [] };
    const cut = continuing ? continuedCut(full, messages) : full.length;
    const text = full.slice(0, cut);
    let assistantSpans: AssistantSpan[] = [];
    if (wantSpans) {
      assistantSpans = generationBlocks
        ? spansFromBlocks(blocks, messages, cut, continuing)
        : trackedSpans(spanSource(options), messages, full, cut, continuing);
    }
    return { text, assistantSpans, warnings: [], template: name };
  }

  /**
   * What the generation prompt adds to a one-message conversation. The texts
   * may differ before it too (Phi-3 closes a finished conversation with EOS),
   * so the common prefix is backed off to the start of any marker it splits.
   */
  function probeGenerationPrompt(): string {
    const probe = [{ role: 'user', content: 'Hi' }];
    let without: string;
    let withPrompt: string;
    try {
      without = withoutBlocks(run(probe, false));
      withPrompt = withoutBlocks(run(probe, true));
    } catch {
      return '';
    }
    let n = 0;
    while (n < without.length && n < withPrompt.length && without[n] === withPrompt[n]) n++;
    const splitAt = (s: string, marker: string) => {
      const at = s.lastIndexOf(marker, n - 1);
      return at >= 0 && at < n && n < at + marker.length ? at : -1;
    };
    let backedOff = true;
    while (backedOff) {
      backedOff = false;
      for (const marker of markers) {
        for (const s of [without, withPrompt]) {
          const at = splitAt(s, marker);
          if (at >= 0) [n, backedOff] = [at, true];
        }
      }
    }
    return withPrompt.slice(n);
  }

  /**
   * For a template with no generation prompt ([INST] families): what it
   * writes between a one-turn prompt and the reply's content, e.g. the space
   * after [/INST]. Undefined when the prompt is not a prefix of the turn.
   */
  let lead: string | undefined | null = null;
  function probeLead(): string | undefined {
    if (lead !== null) return lead;
    lead = undefined;
    try {
      const prompt = withoutBlocks(run([{ role: 'user', content: 'Hi' }], false));
      const turn = withoutBlocks(run([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '\uE100Hello' }], false));
      const at = turn.indexOf('\uE100');
      if (turn.startsWith(prompt) && at >= prompt.length) lead = turn.slice(prompt.length, at);
    } catch {
      // A template that refuses the probe leaves the lead unknown.
    }
    return lead;
  }

  let generationPrompt = info.generationPrompt;
  let supportsSystem: boolean | undefined;
  const template: ChatTemplate = {
    name,
    specialTokens: info.specialTokens ? [...info.specialTokens] : [...new Set(markers)],
    bosToken: info.bosToken,
    eosToken: info.eosToken,
    endOfTurn,
    get generationPrompt() {
      return (generationPrompt ??= probeGenerationPrompt());
    },
    /** Whether the template accepts a leading system message (it may still merge it). */
    get supportsSystem() {
      if (supportsSystem === undefined) {
        try {
          run([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], false);
          supportsSystem = true;
        } catch {
          supportsSystem = false;
        }
      }
      return supportsSystem;
    },
    jinja: source,
    render,
  };
  return template;
}

/** A special token as tokenizer_config.json writes it: a string, or an AddedToken object. */
type ConfigToken = string | { content: string } | null | undefined;

export interface TokenizerConfigLike {
  chat_template?: string | { name: string; template: string }[];
  bos_token?: ConfigToken;
  eos_token?: ConfigToken;
  added_tokens_decoder?: Record<string, { content: string; special?: boolean }>;
  additional_special_tokens?: ConfigToken[];
  name_or_path?: string;
  [key: string]: unknown;
}

const tokenText = (token: ConfigToken) => (typeof token === 'string' ? token : token?.content);

/**
 * The chat template of a tokenizer_config.json ('default' when it lists named
 * templates). Without info.endOfTurn, the end-of-turn marker is the first
 * well-known one the source mentions, else EOS when the source uses eos_token.
 */
export function templateFromTokenizerConfig(config: TokenizerConfigLike, info: JinjaTemplateInfo = {}): ChatTemplate {
  const name = info.name ?? config.name_or_path ?? 'tokenizer_config';
  const listed = config.chat_template;
  const source = Array.isArray(listed) ? listed.find((t) => t.name === 'default')?.template : listed;
  if (Array.isArray(listed) && source === undefined) {
    throw new TemplateError(`${name}: chat_template lists templates ${listed.map((t) => t.name).join(', ')} but none is named 'default'`);
  }
  if (typeof source !== 'string') throw new TemplateError(`${name}: tokenizer config has no chat_template (expected a string or a list of {name, template})`);
  const bosToken = info.bosToken ?? tokenText(config.bos_token);
  const eosToken = info.eosToken ?? tokenText(config.eos_token);
  const declared = [
    ...Object.values(config.added_tokens_decoder ?? {}).filter((t) => t.special).map((t) => t.content),
    ...(config.additional_special_tokens ?? []).map(tokenText),
  ];
  const endOfTurn = info.endOfTurn ?? impliedEndOfTurn(source, eosToken);
  const specialTokens = info.specialTokens ?? [...new Set([bosToken, eosToken, endOfTurn, ...declared].filter((t): t is string => !!t))];
  return jinjaTemplate(source, { ...info, name, bosToken, eosToken, endOfTurn, specialTokens });
}
