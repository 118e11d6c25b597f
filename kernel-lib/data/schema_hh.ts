// Anthropic's HH-RLHF transcripts: each of `chosen` and `rejected` is the
// whole dialogue as one string, "\n\nHuman: ...\n\nAssistant: ...", the two
// identical up to the final Assistant reply.
//
// Which bytes are whose: a turn marker is "\n\nHuman:" or "\n\nAssistant:"
// (at the very start of a transcript the blank line may be missing) plus the
// one space after the colon when there is one. Everything between one marker
// and the next is the turn's text, byte for byte: nothing is trimmed, so
// "\n\nHuman: Hi \n\nAssistant: Yo" is the user turn "Hi " and the reply "Yo",
// and "\n\nHuman:  Hi" (two spaces) keeps one of them.
//
// The final reply is free text: the model that wrote it sometimes wrote a
// "\n\nHuman: " of its own. As in TRL's extraction of the dataset, the prompt
// ends at the last "\n\nAssistant:" marker that chosen and rejected share, and
// everything after it is the reply, markers and all.
import type { Role } from './records';

export type HhTurn = { role: Extract<Role, 'user' | 'assistant'>; content: string };

const MARKER = /(?:^|\n\n)(Human|Assistant):( ?)/g;
const ASSISTANT = '\n\nAssistant:';

interface Marker {
  role: HhTurn['role'];
  /** Where the marker starts (its blank line included) and where the turn's text starts. */
  at: number;
  text: number;
}

function markers(text: string): Marker[] {
  MARKER.lastIndex = 0;
  return [...text.matchAll(MARKER)].map((m) => ({ role: m[1] === 'Human' ? 'user' : 'assistant', at: m.index!, text: m.index! + m[0].length }));
}

/** The turns of a transcript (or of its opening), or why they do not parse. */
function turnsOf(text: string): { turns: HhTurn[] } | { problem: string } {
  const found = markers(text);
  if (found.length === 0) return { problem: 'no "\\n\\nHuman:" / "\\n\\nAssistant:" turns found; expected an HH-RLHF transcript' };
  if (found[0].at !== 0) return { problem: `text before the first "Human:" turn: ${JSON.stringify(text.slice(0, Math.min(found[0].at, 40)))}` };
  if (found[0].role !== 'user') return { problem: 'the transcript opens with an "Assistant:" turn; expected "\\n\\nHuman:" first' };
  return { turns: found.map((m, k) => ({ role: m.role, content: text.slice(m.text, k + 1 < found.length ? found[k + 1].at : text.length) })) };
}

/** The turns of one whole transcript, byte for byte, or why it does not parse. */
export function parseHhTranscript(text: string): { turns: HhTurn[] } | { problem: string } {
  const parsed = turnsOf(text);
  if ('problem' in parsed) return parsed;
  if (parsed.turns[parsed.turns.length - 1].role !== 'assistant') {
    return { problem: 'the transcript ends with a "Human:" turn; expected it to end with the "Assistant:" reply' };
  }
  return parsed;
}

export interface HhPair {
  /** The shared dialogue before the final reply: it opens and ends with a Human turn. */
  prompt: HhTurn[];
  chosen: string;
  rejected: string;
}

/** Which field a problem lies in, and what it is. */
export type HhProblem = { field: 'chosen' | 'rejected'; problem: string };

/**
 * Splits a chosen/rejected pair into the shared prompt and the two final
 * replies: the prompt ends at the last "\n\nAssistant:" marker the two share.
 * A reply may contain "\n\nHuman:"; a shared text that runs on past the reply
 * into a later Human turn means the two dialogues differ before their final
 * replies, and is refused.
 */
export function splitHhPair(chosen: string, rejected: string): HhPair | HhProblem {
  for (const [field, text] of [['chosen', chosen], ['rejected', rejected]] as const) {
    const parsed = turnsOf(text);
    if ('problem' in parsed) return { field, problem: parsed.problem };
    if (!parsed.turns.some((t) => t.role === 'assistant')) return { field, problem: 'the transcript ends with a "Human:" turn; expected it to end with the "Assistant:" reply' };
  }
  let shared = 0;
  while (shared < chosen.length && shared < rejected.length && chosen[shared] === rejected[shared]) shared++;
  const at = chosen.lastIndexOf(ASSISTANT, shared - ASSISTANT.length);
  if (at < 0) return { field: 'rejected', problem: 'chosen and rejected share no "\\n\\nAssistant:" turn; expected one dialogue whose final Assistant replies differ' };
  const opening = turnsOf(chosen.slice(0, at));
  if ('problem' in opening) return { field: 'chosen', problem: opening.problem };
  const replyStart = (text: string) => at + ASSISTANT.length + (text[at + ASSISTANT.length] === ' ' ? 1 : 0);
  const sharedReply = chosen.slice(replyStart(chosen), shared);
  if (sharedReply.includes('\n\nHuman:')) {
    return { field: 'chosen', problem: 'chosen and rejected differ before their final Assistant reply (they share a later "\\n\\nHuman:" turn); expected one shared dialogue' };
  }
  return { prompt: opening.turns, chosen: chosen.slice(replyStart(chosen)), rejected: rejected.slice(replyStart(rejected)) };
}
