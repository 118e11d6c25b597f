// Checks that a template trains and generates consistently. Each returns a list
// of problems (empty when all is well), each naming the template, the message
// index and what was expected; a conversation the template refuses outright
// still throws its TemplateError.

import { TemplateError, type ChatMessage, type ChatTemplate, type RenderOptions } from './chat_types';

/** Where two texts first differ, with a little of each around that point. */
export function describeDifference(a: string, b: string): string {
  let d = 0;
  while (d < a.length && d < b.length && a[d] === b[d]) d++;
  const around = (s: string) => `${d > 20 ? '…' : ''}${JSON.stringify(s.slice(Math.max(0, d - 20), d + 20))}${d + 20 < s.length ? '…' : ''}`;
  if (d === a.length) return `the first text (${a.length} chars) is a prefix of the second (${b.length} chars)`;
  if (d === b.length) return `the first text (${a.length} chars) runs on past the end of the second (${b.length} chars) at character ${d}: ${around(a)}`;
  return `first difference at character ${d}: ${around(a)} vs ${around(b)}`;
}

function renderOrProblem(template: ChatTemplate, messages: ChatMessage[], options: RenderOptions): { text?: string; problem?: string } {
  try {
    return { text: template.render(messages, options).text };
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
    return { problem: e.message };
  }
}

/**
 * Whether rendering the conversation before each message k (with the
 * generation prompt when message k is an assistant turn) gives a prefix of the
 * whole conversation's text. Reports the first k where it does not; later ones
 * usually follow from it. Masks do not need it (spans come from one render of
 * the whole conversation) and Qwen3's template is not (it drops the reasoning
 * of turns before the last user message); it matters to code that extends a
 * rendered chat turn by turn, such as a KV cache kept across turns. Whether
 * training matches generation is checkTrainGenerateMatch's question.
 */
export function checkPrefixPreserving(template: ChatTemplate, messages: ChatMessage[]): string[] {
  const full = template.render(messages, { spans: false }).text;
  for (let k = 1; k < messages.length; k++) {
    const addGenerationPrompt = messages[k].role === 'assistant';
    const { text, problem } = renderOrProblem(template, messages.slice(0, k), { addGenerationPrompt, spans: false });
    const what = `${template.name}: message ${k}: the conversation before it (messages 0..${k - 1}${addGenerationPrompt ? ', with the generation prompt' : ''})`;
    if (problem !== undefined) return [`${what} does not render: ${problem}`];
    if (!full.startsWith(text!)) return [`${what} is not a prefix of the whole conversation's text; ${describeDifference(text!, full)}`];
  }
  return [];
}

/**
 * A prompt meant for generation must end with the template's generation
 * prompt; the classic mistake is rendering it without addGenerationPrompt, so
 * the model continues the user's turn. Families with an empty generation
 * prompt ([INST]) check instead that the prompt does not end a finished reply.
 */
export function checkGenerationPrompt(template: ChatTemplate, promptText: string): string[] {
  const { name, generationPrompt, endOfTurn } = template;
  const tail = JSON.stringify(promptText.slice(-40));
  if (generationPrompt !== '') {
    if (promptText.endsWith(generationPrompt)) return [];
    return [`${name}: the prompt ends with ${tail} but a prompt for generation must end with the generation prompt ${JSON.stringify(generationPrompt)} (render it with addGenerationPrompt: true)`];
  }
  if (endOfTurn !== '' && promptText.trimEnd().endsWith(endOfTurn)) {
    return [`${name}: the prompt ends with ${tail}, the end of a finished reply (${JSON.stringify(endOfTurn)}); a prompt for generation must end with a user turn`];
  }
  return [];
}

/**
 * The text the model sees when generating reply i, render(messages before i,
 * addGenerationPrompt), must equal the training text up to the start of reply
 * i's span; otherwise the model is trained on one context and asked in another.
 * Checked for every assistant turn, the final one included.
 */
export function checkTrainGenerateMatch(template: ChatTemplate, messages: ChatMessage[]): string[] {
  const training = template.render(messages);
  const problems: string[] = [];
  for (const span of training.assistantSpans) {
    const i = span.messageIndex;
    const { text, problem } = renderOrProblem(template, messages.slice(0, i), { addGenerationPrompt: true, spans: false });
    const what = `${template.name}: message ${i}: the generation prompt for this reply (messages 0..${i - 1}, with the generation prompt)`;
    if (problem !== undefined) problems.push(`${what} does not render: ${problem}`);
    else if (text !== training.text.slice(0, span.start)) {
      problems.push(`${what} differs from the training text before the reply (characters 0..${span.start}); ${describeDifference(text!, training.text.slice(0, span.start))}`);
    }
  }
  return problems;
}

/** A system message given to a family without a system role (it gets merged into the first user turn). */
export function checkSystemRole(template: ChatTemplate, messages: ChatMessage[]): string[] {
  const i = messages.findIndex((m) => m.role === 'system');
  if (i < 0 || template.supportsSystem) return [];
  return [`${template.name} has no system role: message ${i} is a system message; it is merged into the first user turn (or refused with system: 'error')`];
}

/** The checks above that bear on training: the system role, and training text against generation prompts. */
export function checkConversation(template: ChatTemplate, messages: ChatMessage[]): string[] {
  return [...checkSystemRole(template, messages), ...checkTrainGenerateMatch(template, messages)];
}
