// From a rendered conversation to token ids and a loss mask. The template
// reports, while it writes the text, the character span of every assistant
// reply (content plus the end-of-turn marker the model must learn to emit);
// the tokenizer reports the character span of every token. A token is
// trainable when its span overlaps a selected reply span. Nothing is guessed
// from token ids, so the same code serves every template and tokenizer.
import type { BpeTokenizer, Encoding } from './bpe_tokenizer';
import type { AssistantSpan, ChatMessage, ChatTemplate, RenderOptions } from './chat_types';

/** Which replies to train on: every assistant turn, or only the last one. */
export type AssistantTurns = 'all' | 'last';

/** Per-token 1/0: does the token overlap a selected assistant span? Tokens with an empty span (added by the post-processor) are 0. */
export function assistantMask(encoding: Pick<Encoding, 'offsets'>, spans: AssistantSpan[], turns: AssistantTurns = 'all'): number[] {
  const chosen = turns === 'last' ? spans.slice(-1) : spans;
  return encoding.offsets.map(([s, e]) => (e > s && chosen.some((span) => s < span.end && e > span.start) ? 1 : 0));
}

export interface SftExample {
  /** The rendered conversation. */
  text: string;
  ids: number[];
  /** 1 where the token belongs to a selected assistant reply. */
  mask: number[];
  offsets: [number, number][];
  special: boolean[];
  spans: AssistantSpan[];
  /** What the template noted (e.g. a system message merged into the first user turn). */
  warnings: string[];
}

export interface SftExampleOptions {
  turns?: AssistantTurns;
  render?: RenderOptions;
  /** Let the tokenizer's post-processor add its tokens (e.g. BOS). Default false: the template writes them, as transformers' apply_chat_template assumes. */
  addSpecialTokens?: boolean;
  /** Run the checks in checkSftExample and throw on the first problem (default true). */
  check?: boolean;
  /** Names the example in errors, e.g. 'train.jsonl line 12'. */
  source?: string;
}

/** A conversation as one training example: rendered by `template`, tokenized, with the assistant mask. */
export function buildSftExample(tokenizer: BpeTokenizer, template: ChatTemplate, messages: ChatMessage[], options: SftExampleOptions = {}): SftExample {
  const rendered = template.render(messages, options.render);
  const enc = tokenizer.encodeWithOffsets(rendered.text, { addSpecialTokens: options.addSpecialTokens ?? false });
  const example: SftExample = {
    text: rendered.text,
    ids: enc.ids,
    mask: assistantMask(enc, rendered.assistantSpans, options.turns ?? 'all'),
    offsets: enc.offsets,
    special: enc.special,
    spans: rendered.assistantSpans,
    warnings: rendered.warnings,
  };
  if (options.check ?? true) {
    const problems = checkSftExample(tokenizer, template, example);
    if (problems.length) throw new SftExampleError(`${options.source ?? 'conversation'} (template ${template.name}): ${problems.join('; ')}`);
  }
  return example;
}

/** A training example that would teach the wrong thing; the message says which and why. */
export class SftExampleError extends Error {
  override readonly name = 'SftExampleError';
}

/**
 * The mistakes that make instruction tuning silently fail, on one example:
 * BOS or EOS twice (template and tokenizer both add it), a reply whose
 * end-of-turn token is outside the mask (the model never learns to stop), a
 * mask with no token at all (training on nothing). Returns the problems found.
 */
export function checkSftExample(tokenizer: BpeTokenizer, template: ChatTemplate, example: SftExample): string[] {
  const problems: string[] = [];
  const { ids } = example;
  // The template's BOS (or the tokenizer's) written by the template and added
  // again by the tokenizer's post-processor: the same special token twice in a row.
  const bosIds = new Set([tokenizer.bosId, template.bosToken === undefined ? undefined : tokenizer.tokenToId(template.bosToken)]);
  if (ids.length >= 2 && ids[0] === ids[1] && bosIds.has(ids[0])) {
    problems.push(
      `BOS ${JSON.stringify(tokenizer.idToToken(ids[0]))} appears twice at the start: the template writes it and the tokenizer adds it again; encode with addSpecialTokens: false`,
    );
  }
  const eosIds = new Set([tokenizer.eosId, template.eosToken === undefined ? undefined : tokenizer.tokenToId(template.eosToken)]);
  const n = ids.length;
  if (n >= 2 && ids[n - 1] === ids[n - 2] && eosIds.has(ids[n - 1])) {
    problems.push(`EOS ${JSON.stringify(tokenizer.idToToken(ids[n - 1]))} appears twice at the end: the template writes it and something appends it again`);
  }
  const eot = tokenizer.tokenToId(template.endOfTurn);
  if (eot === undefined || !tokenizer.isSpecial(eot)) {
    problems.push(
      `the end-of-turn marker ${JSON.stringify(template.endOfTurn)} is not a special token of this tokenizer, so it is split into ordinary tokens; add the template's markers (${template.specialTokens.join(' ')}) as special tokens`,
    );
  } else {
    for (const span of example.spans) {
      if (span.open) continue;
      // Token positions inside the reply span; a reply the caller chose not to train on (turns: 'last') has none masked in.
      const inSpan = example.offsets.flatMap(([s, e], i) => (s >= span.start && e <= span.end ? [i] : []));
      const closing = inSpan.filter((i) => ids[i] === eot);
      const trained = inSpan.some((i) => example.mask[i] === 1);
      if (closing.length === 0) {
        problems.push(`assistant message ${span.messageIndex}: its reply span has no end-of-turn token ${JSON.stringify(template.endOfTurn)}, so the model would never learn to stop`);
      } else if (trained && closing.some((i) => example.mask[i] !== 1)) {
        problems.push(`assistant message ${span.messageIndex}: the end-of-turn token ${JSON.stringify(template.endOfTurn)} is masked out, so the model would never learn to stop`);
      }
    }
  }
  if (!example.mask.some((m) => m === 1)) {
    problems.push(
      example.spans.length === 0
        ? 'no assistant reply in the conversation: the loss mask is all zeros, and the example would train on nothing'
        : 'the loss mask is all zeros (every assistant token was cut or masked), and the example would train on nothing',
    );
  }
  return problems;
}

/**
 * Problems with a tokenizer for a template, before any data: markers that
 * are not special tokens, no PAD token, and PAD equal to EOS or the
 * end-of-turn token (code that masks labels where input == PAD then masks
 * every end of turn too, and the model never learns to stop).
 */
export function checkTokenizerForTemplate(tokenizer: BpeTokenizer, template: ChatTemplate): string[] {
  const problems: string[] = [];
  for (const marker of template.specialTokens) {
    const id = tokenizer.tokenToId(marker);
    if (id === undefined || !tokenizer.isSpecial(id)) problems.push(`template ${template.name}: marker ${JSON.stringify(marker)} is not a special token of the tokenizer`);
  }
  if (tokenizer.padId === undefined) {
    problems.push('the tokenizer has no PAD token: batches of different lengths cannot be padded');
  } else {
    const eot = tokenizer.tokenToId(template.endOfTurn);
    for (const [what, id] of [['EOS', tokenizer.eosId], [`the end-of-turn token ${template.endOfTurn}`, eot]] as const) {
      if (id !== undefined && id === tokenizer.padId) {
        problems.push(
          `PAD equals ${what} (${JSON.stringify(tokenizer.idToToken(id))}): masking labels where input == PAD would also mask every end of turn, and the model would never learn to stop; use a distinct pad token`,
        );
      }
    }
  }
  return problems;
}
