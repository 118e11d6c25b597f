// The oracle judge: reads any prompt the world writes back into its task and
// scores any reply by the stated rules, so generated replies get exact win
// rates. Scores:
//   1.0  the checker accepts the reply (the reference or a harmless variant);
//   0.7  it does once the filler sentences (FILLERS) around it are removed: padded;
//   0.4  formatting tasks only: the right content in another format;
//   0.1  the same, padded;
//   0    anything else: a wrong answer, an empty reply, a made-up answer to an
//        unanswerable request, a refusal of an answerable one.
// A system message does not change the rules.
import { replyText, type Conversation, type Message, type PreferencePair } from '../records';
import { buildFacts, type WorldFacts } from './facts';
import { familyNamed } from './families';
import type { Params } from './family';
import { DEFAULT_WORLD_SEED } from './options';
import { parsePrompt, type WorldTask } from './task';

export const FILLERS = [
  'Sure!', 'Of course.', 'Here is the answer.', 'Great question!', 'I hope this helps.',
  'Let me know if you need anything else.', 'That is an easy one.', 'Happy to help!', 'Thanks for asking.',
] as const;

export const SCORES = { exact: 1, padded: 0.7, otherFormat: 0.4, paddedOtherFormat: 0.1, wrong: 0 } as const;
export type Verdict = keyof typeof SCORES;

export interface Judgement {
  score: number;
  verdict: Verdict;
  task: WorldTask;
  /** The checker's reason when the reply is not exact. */
  reason?: string;
}

export type JudgePrompt = string | Message[] | Conversation | PreferencePair;
export type JudgeReply = string | Message[];

export interface WorldJudge {
  facts: WorldFacts;
  /** The task a prompt asks for; throws when no family's template reads it. */
  task(prompt: JudgePrompt): WorldTask;
  judge(prompt: JudgePrompt, reply: JudgeReply): Judgement;
  score(prompt: JudgePrompt, reply: JudgeReply): number;
  /** Which reply the rules prefer, or 'tie' when they score the same. */
  compare(prompt: JudgePrompt, a: JudgeReply, b: JudgeReply): 'a' | 'b' | 'tie';
}

// One pattern per filler: its words, any case, with or without its closing mark.
const FILLER_PATTERNS = FILLERS.map((f) => f.replace(/[.!]$/, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+'));
const LEADING = FILLER_PATTERNS.map((p) => new RegExp(`^\\s*${p}\\s*[.!,]?(?=\\s|$)`, 'i'));
const TRAILING = FILLER_PATTERNS.map((p) => new RegExp(`(?<=^|\\s)${p}\\s*[.!]?\\s*$`, 'i'));

/** The reply without filler sentences at its start and end, and whether any were there. */
export function stripFillers(reply: string): { core: string; padded: boolean } {
  let core = reply.trim();
  let padded = false;
  for (let changed = true; changed;) {
    changed = false;
    for (const re of [...LEADING, ...TRAILING]) {
      const next = core.replace(re, '').trim();
      if (next !== core) {
        core = next;
        padded = changed = true;
      }
    }
  }
  return { core, padded };
}

/** The user's request in a prompt: the last user message before the first reply. */
export function promptText(prompt: JudgePrompt): string {
  const users = promptMessages(prompt).filter((m) => m.role === 'user');
  if (users.length === 0) throw new Error('world judge: the prompt has no user message');
  return users[users.length - 1].content;
}

function promptMessages(prompt: JudgePrompt): Message[] {
  if (typeof prompt === 'string') return [{ role: 'user', content: prompt }];
  if (Array.isArray(prompt)) return prompt;
  if (prompt.kind === 'preference') return prompt.prompt;
  const firstReply = prompt.messages.findIndex((m) => m.role === 'assistant');
  return firstReply < 0 ? prompt.messages : prompt.messages.slice(0, firstReply);
}

/** Scores a reply to a task by the rules above. */
export function judgeTask(task: { family: string; params: Params }, reply: string): Omit<Judgement, 'task'> {
  const fam = familyNamed(task.family);
  const direct = fam.check(task.params, reply);
  if (direct.correct) return { score: SCORES.exact, verdict: 'exact' };
  const { core, padded } = stripFillers(reply);
  if (padded && core && fam.check(task.params, core).correct) return { score: SCORES.padded, verdict: 'padded', reason: direct.reason };
  if (core && fam.sameContent?.(task.params, core)) {
    const verdict: Verdict = padded ? 'paddedOtherFormat' : 'otherFormat';
    return { score: SCORES[verdict], verdict, reason: direct.reason };
  }
  return { score: SCORES.wrong, verdict: 'wrong', reason: direct.reason };
}

export function createJudge(world: WorldFacts | number): WorldJudge {
  const facts = typeof world === 'number' ? buildFacts(world) : world;
  const task = (prompt: JudgePrompt): WorldTask => {
    const text = promptText(prompt);
    const t = parsePrompt(facts, text);
    if (!t) throw new Error(`world judge: not a task of the world (seed ${facts.seed}): ${JSON.stringify(text)}`);
    return t;
  };
  const judge = (prompt: JudgePrompt, reply: JudgeReply): Judgement => {
    const t = task(prompt);
    return { ...judgeTask(t, typeof reply === 'string' ? reply : replyText(reply)), task: t };
  };
  return {
    facts,
    task,
    judge,
    score: (prompt, reply) => judge(prompt, reply).score,
    compare(prompt, a, b) {
      const t = task(prompt);
      const text = (r: JudgeReply) => (typeof r === 'string' ? r : replyText(r));
      const [sa, sb] = [judgeTask(t, text(a)).score, judgeTask(t, text(b)).score];
      return sa > sb ? 'a' : sb > sa ? 'b' : 'tie';
    },
  };
}

let defaultJudge: WorldJudge | null = null;

/** The judge of the default world (DEFAULT_WORLD_SEED), the one committed in data/world/; made on first use. */
export const oracleJudge: WorldJudge = {
  get facts() { return ensure().facts; },
  task: (prompt) => ensure().task(prompt),
  judge: (prompt, reply) => ensure().judge(prompt, reply),
  score: (prompt, reply) => ensure().score(prompt, reply),
  compare: (prompt, a, b) => ensure().compare(prompt, a, b),
};

function ensure(): WorldJudge {
  return (defaultJudge ??= createJudge(DEFAULT_WORLD_SEED));
}
