// Where each assistant reply lies in a Jinja template's rendering of the whole
// conversation, for templates without {% generation %} blocks. Nothing is
// rendered a prefix at a time: templates such as Qwen3's render an earlier
// turn differently once a later user turn exists (they drop its reasoning), so
// a prefix rendered alone is not part of the whole text.
//
// A reply is what the model writes after the assistant header (the generation
// prompt) up to and including its end-of-turn marker, as the whole
// conversation's text shows it. Its content is found by rendering the whole
// conversation once more with invisible sentinels around each assistant
// message's content; the header before it and the end of turn after it are
// then searched for in the text. A template that renders the marked
// conversation differently (it tests or reshapes the content in a way the
// sentinels disturb) is refused with a hint to add {% generation %} blocks.

import { describeDifference } from './chat_checks';
import { TemplateError, type AssistantSpan, type ChatMessage } from './chat_types';

// Private-use code points: assistant message k's content opens with
// START + k and closes with END + k, so each one names its message.
const START = 0xe100;
const END = 0xe900;
const MAX_TRACKED = END - START;
const SENTINELS = /[\uE100-\uF0FF]/;

/** What span tracking needs from a Jinja template. */
export interface SpanSource {
  name: string;
  endOfTurn: string;
  /** The assistant header, what add_generation_prompt appends; '' for templates whose user turn already ends the prompt. */
  generationPrompt: string;
  /** The whole conversation rendered with the caller's options, {% generation %} sentinels removed. */
  render(messages: ChatMessage[]): string;
  /** For an empty generation prompt: what the template writes right before a reply's content (e.g. the space after [/INST]); undefined when unknown. */
  lead(): string | undefined;
}

/** Where each tracked content starts and ends in the whole text (either may be missing). */
interface Marks {
  start: (number | undefined)[];
  end: (number | undefined)[];
}

// Whitespace-only content is left unmarked: a sentinel would make it truthy
// for the template (Qwen3 writes a newline before tool calls only after content).
const trackable = (m: ChatMessage) => m.role === 'assistant' && m.content.trim() !== '';

/**
 * The conversation with sentinels around each assistant content: outside its
 * leading and trailing whitespace (for templates that write content verbatim),
 * or inside it (for templates that strip it, which a sentinel would block).
 */
function marked(messages: ChatMessage[], placement: 'outer' | 'inner'): ChatMessage[] {
  let k = 0;
  return messages.map((m) => {
    if (!trackable(m)) return m;
    const open = String.fromCharCode(START + k);
    const close = String.fromCharCode(END + k);
    k++;
    if (placement === 'outer') return { ...m, content: open + m.content + close };
    const core = m.content.trim();
    const lead = m.content.slice(0, m.content.indexOf(core));
    const trail = m.content.slice(lead.length + core.length);
    return { ...m, content: lead + open + core + close + trail };
  });
}

function marks(name: string, raw: string, tracked: number): Marks {
  const found: Marks = { start: new Array(tracked).fill(undefined), end: new Array(tracked).fill(undefined) };
  let at = 0;
  for (const ch of raw) {
    const code = ch.charCodeAt(0);
    if (ch.length === 1 && code >= START && code < END + MAX_TRACKED) {
      const [list, k] = code >= END ? [found.end, code - END] : [found.start, code - START];
      if (list[k] !== undefined) throw new TemplateError(`${name}: the template writes the content of an assistant message twice, so its reply cannot be located; add {% generation %} blocks around each reply`);
      list[k] = at;
    } else {
      at += ch.length;
    }
  }
  return found;
}

/** The content marks in the whole text, from whichever placement leaves the text unchanged. */
function contentMarks(source: SpanSource, messages: ChatMessage[], full: string): Marks {
  const tracked = messages.filter(trackable).length;
  if (tracked > MAX_TRACKED) throw new TemplateError(`${source.name}: ${tracked} assistant messages; span tracking handles at most ${MAX_TRACKED}`);
  if (SENTINELS.test(full)) {
    throw new TemplateError(`${source.name}: the rendered text contains characters U+E100..U+F0FF, which mark assistant replies while their spans are found; remove them from the messages and variables`);
  }
  let stripped = '';
  for (const placement of ['outer', 'inner'] as const) {
    const raw = source.render(marked(messages, placement));
    stripped = raw.replace(new RegExp(SENTINELS.source, 'g'), '');
    if (stripped === full) return marks(source.name, raw, tracked);
  }
  throw new TemplateError(
    `${source.name}: cannot locate the assistant replies: the template renders differently when each assistant content is marked (it tests or reshapes the content); ${describeDifference(stripped, full)}; add {% generation %} blocks around each reply`,
  );
}

/** The assistant spans of `full` (the whole conversation as rendered); `cut` ends a continued final reply. */
export function trackedSpans(source: SpanSource, messages: ChatMessage[], full: string, cut: number, continuing: boolean): AssistantSpan[] {
  const { name, endOfTurn, generationPrompt: header } = source;
  const found = contentMarks(source, messages, full);
  const last = messages.length - 1;
  const assistants = messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
  let k = 0;
  const marksOf = assistants.map((i) => (trackable(messages[i]) ? { start: found.start[k], end: found.end[k++] } : undefined));

  const spans: AssistantSpan[] = [];
  let bound = 0;
  assistants.forEach((i, a) => {
    const mark = marksOf[a];
    if (mark && mark.end === undefined) {
      throw new TemplateError(`${name}: message ${i}: the template does not write this assistant message's content (${JSON.stringify(messages[i].content.slice(0, 60))}), so its reply cannot be located; add {% generation %} blocks around each reply`);
    }
    // The next reply's content bounds this one's end-of-turn search.
    const next = marksOf.slice(a + 1).find((m) => m !== undefined);
    const limit = next ? (next.start ?? next.end!) : full.length;

    let start: number;
    let contentEnd: number;
    if (header !== '') {
      // The header is searched backwards from the content, so text before it
      // (a user quoting the header) cannot be taken for it.
      const anchor = mark ? (mark.start ?? mark.end!) : full.indexOf(header, bound) + header.length;
      const at = anchor < header.length ? -1 : full.lastIndexOf(header, anchor - header.length);
      if (at < bound) {
        const shown = full.slice(bound, Math.max(bound, anchor)).slice(-80);
        throw new TemplateError(`${name}: message ${i}: no assistant header ${JSON.stringify(header)} opens this reply in the rendered text (before it: ${JSON.stringify(shown)}); add {% generation %} blocks around each reply`);
      }
      start = at + header.length;
      contentEnd = mark ? mark.end! : start;
    } else {
      const lead = source.lead();
      if (!mark || mark.start === undefined || lead === undefined) {
        throw new TemplateError(`${name}: message ${i}: the template has no generation prompt and the start of this reply cannot be told from the text; add {% generation %} blocks around each reply`);
      }
      start = mark.start - lead.length;
      if (start < bound || full.slice(start, mark.start) !== lead) {
        throw new TemplateError(`${name}: message ${i}: the reply's content is not preceded by ${JSON.stringify(lead)}, as it is in a one-turn conversation; add {% generation %} blocks around each reply`);
      }
      contentEnd = mark.end!;
    }
    if (start > cut) return;

    let end = contentEnd;
    if (continuing && i === last) {
      spans.push({ start, end: cut, messageIndex: i, open: true });
      return;
    }
    if (endOfTurn) {
      const at = full.indexOf(endOfTurn, contentEnd);
      if (at < 0 || at + endOfTurn.length > limit) {
        const shown = full.slice(start, Math.min(limit, contentEnd + 40));
        throw new TemplateError(`${name}: message ${i}: the assistant turn as rendered (${JSON.stringify(shown)}) has no end-of-turn marker ${endOfTurn}`);
      }
      end = at + endOfTurn.length;
    }
    spans.push({ start, end, messageIndex: i, open: false });
    bound = end;
  });
  return spans;
}
