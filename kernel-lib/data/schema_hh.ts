// Anthropic's HH-RLHF transcripts: each of `chosen` and `rejected` is the
// whole dialogue as one string, "\n\nHuman: ...\n\nAssistant: ...", the two
// identical up to the final Assistant reply.
import type { Role } from './records';

export type HhTurn = { role: Extract<Role, 'user' | 'assistant'>; content: string };

// A turn marker opens the text or follows a blank line; the space after the
// colon is part of the marker, not of the message.
const MARKER = /(?:^|\n\n)(Human|Assistant):[ \t]?/g;

/** The turns of a transcript, or why it does not parse. Texts are trimmed of the whitespace around them. */
export function parseHhTranscript(text: string): { turns: HhTurn[] } | { problem: string } {
  const turns: HhTurn[] = [];
  let match: RegExpExecArray | null;
  MARKER.lastIndex = 0;
  let previous: { role: HhTurn['role']; start: number } | undefined;
  while ((match = MARKER.exec(text)) !== null) {
    if (previous) turns.push({ role: previous.role, content: text.slice(previous.start, match.index).trim() });
    else if (text.slice(0, match.index).trim() !== '') {
      return { problem: `text before the first "Human:" turn: ${JSON.stringify(text.slice(0, Math.min(match.index, 40)))}` };
    }
    previous = { role: match[1] === 'Human' ? 'user' : 'assistant', start: MARKER.lastIndex };
  }
  if (!previous) return { problem: 'no "\\n\\nHuman:" / "\\n\\nAssistant:" turns found; expected an HH-RLHF transcript' };
  turns.push({ role: previous.role, content: text.slice(previous.start).trim() });
  if (turns[0].role !== 'user') return { problem: 'the transcript opens with an "Assistant:" turn; expected "\\n\\nHuman:" first' };
  if (turns[turns.length - 1].role !== 'assistant') return { problem: 'the transcript ends with a "Human:" turn; expected it to end with the "Assistant:" reply' };
  return { turns };
}
