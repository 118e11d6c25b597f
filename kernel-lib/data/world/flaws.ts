// The flaws of the SFT training demonstrations: the world's labelling pool is
// of mixed quality, as real SFT data is. A stated, seeded share of each
// family's demonstrations is written with a flaw; the preference pairs reject
// replies written by the same functions, and the judge's replyFlaws() flags
// them in any reply, so a notebook can count what imitation picked up and what
// preference tuning removed.
import type { Conversation } from '../records';
import type { WorldFacts } from './facts';
import { familyNamed } from './families';
import type { Params } from './family';
import { FILLERS } from './judge';
import type { SftFlawShares } from './options';
import { makeRng, type Rng } from './rng';

export const SFT_FLAWS = ['padded', 'made_up', 'wrong_format'] as const;
export type SftFlaw = (typeof SFT_FLAWS)[number];

/** Which option share each flaw takes, and which families it applies to. */
export const FLAW_PLAN: Record<SftFlaw, { share: keyof SftFlawShares; families: (name: string) => boolean }> = {
  padded: { share: 'padded', families: () => true },
  made_up: { share: 'madeUp', families: (f) => f === 'refusal' },
  wrong_format: { share: 'wrongFormat', families: (f) => f === 'formatting' },
};

/** The chatty labeller's habit: the opener of every padded demonstration and the closer of half of them. */
export const CHATTY_OPENER = 'Sure!';
export const CHATTY_CLOSER = 'I hope this helps.';

/** Filler sentences around a reply: on their own lines for multi-line replies, a full stop added to a bare answer that a sentence follows. */
function wrap(reference: string, before: string[], after: string[]): string {
  const multiline = reference.includes('\n');
  const sep = multiline ? '\n' : ' ';
  const core = after.length && !multiline && !/[.!?]$/.test(reference) ? `${reference}.` : reference;
  return [...before, core, ...after].join(sep);
}

/** The reference with one or two filler sentences (any of FILLERS) before and/or after it. */
export function pad(reference: string, rng: Rng): string {
  const where = rng.pick(['before', 'after', 'both'] as const);
  const before = where !== 'after' ? [rng.pick(FILLERS)] : [];
  const after = where !== 'before' ? [rng.pick(FILLERS.filter((f) => f !== before[0]))] : [];
  return wrap(reference, before, after);
}

/**
 * The reference as the chatty labeller pads it: always the same opener, and
 * the closer half the time. One fixed opener (rather than any of nine fillers)
 * is what an imitating model can pick up as a habit: it is one likely first
 * token, not nine unlikely ones.
 */
export function padChatty(reference: string, rng: Rng): string {
  return wrap(reference, [CHATTY_OPENER], rng.chance(0.5) ? [CHATTY_CLOSER] : []);
}

/** The flaws of a world record's meta (empty when clean). */
export function recordFlaws(record: { meta?: Record<string, unknown> }): SftFlaw[] {
  const f = record.meta?.flaws;
  return Array.isArray(f) ? (f as SftFlaw[]) : [];
}

/** Exactly round(share * n) of the indices 0..n-1, chosen by a seeded shuffle. */
function chosen(n: number, share: number, rng: Rng): Set<number> {
  return new Set(rng.shuffle([...Array(n).keys()]).slice(0, Math.round(share * n)));
}

/**
 * One family's clean training demonstrations with the flaws written in: the
 * assistant reply changed and meta.flaws listing them in SFT_FLAWS order.
 * meta.answer keeps the clean reference. Each flaw draws from its own stream,
 * so changing one share leaves the others' choices as they were.
 */
export function applySftFlaws(demos: Conversation[], family: string, facts: WorldFacts, shares: SftFlawShares): Conversation[] {
  const fam = familyNamed(family);
  const picks = SFT_FLAWS.map((flaw) => {
    const plan = FLAW_PLAN[flaw];
    const on = plan.families(family) ? chosen(demos.length, shares[plan.share], makeRng(facts.seed, `flaws:${flaw}:${family}`)) : new Set<number>();
    return { flaw, on, rng: makeRng(facts.seed, `flaws:${flaw}:${family}:replies`) };
  });
  return demos.map((demo, i) => {
    const flaws = picks.filter((p) => p.on.has(i));
    if (flaws.length === 0) return demo;
    const params = demo.meta!.params as Params;
    let reply = String(demo.meta!.answer);
    // Content flaws first, so padding wraps the made-up answer or the other format.
    for (const { flaw, rng } of flaws) {
      if (flaw === 'made_up') reply = fam.wrong(params, facts, rng);
      if (flaw === 'wrong_format') {
        if (!fam.otherFormat) throw new Error(`world: ${family} has no other format for a wrong_format demonstration`);
        reply = fam.otherFormat(params, rng);
      }
    }
    const padded = flaws.find((p) => p.flaw === 'padded');
    if (padded) reply = padChatty(reply, padded.rng);
    const messages = demo.messages.map((m, j) => (j === demo.messages.length - 1 ? { role: m.role, content: reply } : m));
    return { ...demo, messages, meta: { ...demo.meta, flaws: flaws.map((p) => p.flaw) } };
  });
}
