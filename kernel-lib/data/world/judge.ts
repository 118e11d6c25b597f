// The oracle judge: reads any prompt the world writes back into its task and
// scores any reply by the stated rules, so generated replies get exact win
// rates. Scores:
//   1.0  the checker accepts the reply (the reference or a harmless variant);
//   0.7  it does once the filler sentences (FILLERS) around it are removed: padded;
//   0.4  formatting tasks only: the right content in another format;
//   0.1  the same, padded;
//   0    anything else: a wrong answer, an empty reply, a made-up answer to an
//        unanswerable request, a refusal of an answerable one.
// A system message does not change the rules. Next to the score, replyFlaws()
// says which of the SFT demonstrations' flaws a reply shows (padded, made up,
// wrong format) and whether it refused an answerable request, whatever its
// content, so an evaluator can count them in generated replies.
import { replyText, type Conversation, type Message, type PreferencePair } from '../records';
import { buildFacts, type WorldFacts } from './facts';
import { familyNamed } from './families';
import type { Params } from './family';
import { DEFAULT_WORLD_SEED } from './options';
import { parsePrompt, type WorldTask } from './task';
import { isRefusal } from './tasks/refusal';

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

/** What a reply does wrong besides its content (each flag independent of the score). */
export interface ReplyFlaws {
  /** Filler sentences at its start or end. */
  padded: boolean;
  /** The request is unanswerable (refusal family) and the reply, fillers stripped, is something other than a refusal. */
  madeUp: boolean;
  /** A formatting task answered in a layout other than the asked one (bullets, numbered, commas, key: value lines), whatever the items. */
  wrongFormat: boolean;
  /** The request is answerable and the reply, fillers stripped, is a refusal. */
  refused: boolean;
}

export interface WorldJudge {
  facts: WorldFacts;
  /** The task a prompt asks for; throws when no family's template reads it. */
  task(prompt: JudgePrompt): WorldTask;
  judge(prompt: JudgePrompt, reply: JudgeReply): Judgement;
  score(prompt: JudgePrompt, reply: JudgeReply): number;
  /** Which reply the rules prefer, or 'tie' when they score the same. */
  compare(prompt: JudgePrompt, a: JudgeReply, b: JudgeReply): 'a' | 'b' | 'tie';
  /** The flaws a reply shows (see replyFlaws). */
  flaws(prompt: JudgePrompt, reply: JudgeReply): ReplyFlaws;
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

/** The layout of a reply: lines of bullets, of numbers or of "key: value", one line of single words joined by commas, or anything else. */
export type ReplyFormat = 'bullets' | 'numbered' | 'commas' | 'kv' | 'other';

export function replyFormat(reply: string): ReplyFormat {
  const lines = reply.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const all = (re: RegExp) => lines.length > 0 && lines.every((l) => re.test(l));
  if (all(/^[A-Za-z]+\s*:\s*\S/)) return 'kv';
  if (lines.length > 1) return all(/^[-*\u2022]\s+\S/) ? 'bullets' : all(/^\d+[.)]\s+\S/) ? 'numbered' : 'other';
  const items = (lines[0] ?? '').replace(/[.!]+$/, '').split(',').map((x) => x.trim());
  return items.length > 1 && items.every((x) => /^[A-Za-z'-]+$/.test(x)) ? 'commas' : 'other';
}

/** The layout a formatting task asks for. */
const ASKED_FORMAT: Record<string, ReplyFormat> = { bullets: 'bullets', numbered: 'numbered', commas: 'commas', animal_kv: 'kv', person_kv: 'kv' };

/** Which flaws a reply to a task shows; the task is a world record, or its family and parameters. */
export function replyFlaws(task: { family: string; params: Params } | { category?: string; meta?: Record<string, unknown> }, reply: string): ReplyFlaws {
  const family = 'family' in task ? task.family : task.category;
  const params = ('params' in task ? task.params : task.meta?.params) as Params | undefined;
  if (typeof family !== 'string' || !params || typeof params.op !== 'string') {
    throw new Error('world replyFlaws: the task has no family and params (expected a world record or { family, params })');
  }
  familyNamed(family);
  const { core, padded } = stripFillers(reply);
  const unanswerable = family === 'refusal';
  const refusal = core !== '' && isRefusal(core);
  const asked = family === 'formatting' ? ASKED_FORMAT[params.op] : undefined;
  return {
    padded,
    madeUp: unanswerable && core !== '' && !refusal,
    wrongFormat: asked !== undefined && core !== '' && !refusal && replyFormat(core) !== asked,
    refused: !unanswerable && refusal,
  };
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
    flaws: (prompt, reply) => replyFlaws(task(prompt), typeof reply === 'string' ? reply : replyText(reply)),
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
  flaws: (prompt, reply) => ensure().flaws(prompt, reply),
};

function ensure(): WorldJudge {
  return (defaultJudge ??= createJudge(DEFAULT_WORLD_SEED));
}

/** A world record's own task parameters (meta.params), when it carries them. */
export function taskParams(task: Conversation): Params | undefined {
  const params = task.meta?.params as Params | undefined;
  return params && typeof params === 'object' && typeof params.op === 'string' ? params : undefined;
}

/** The oracle's score of a reply to a world record: by the record's own task (meta.params) when it has one, else by reading the prompt back into a task of the default world. */
export function oracleScore(task: Conversation, reply: string): { score: number; verdict: Verdict; reason?: string } {
  const params = taskParams(task);
  if (params && typeof task.category === 'string') return judgeTask({ family: task.category, params }, reply);
  const j = oracleJudge.judge(task, reply);
  return { score: j.score, verdict: j.verdict, reason: j.reason };
}
