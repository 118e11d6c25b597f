// Preference pairs whose preference follows a stated rule (meta.rule):
//   correct_over_wrong       the reference beats a reply in the same format with a wrong answer;
//   concise_over_padded      the reference beats the same reply wrapped in filler sentences (half
//                            of them padded as the flawed SFT demonstrations are, half with any fillers);
//   asked_format_over_other  (formatting) the asked format beats the same content in another format;
//   refusal_over_made_up     (refusal) the refusal beats a made-up answer about an unknown subject;
//   answer_over_refusal      (lookups) the answer beats a refusal of an answerable question.
// The rejected replies of the middle three are written by the same functions as
// the flawed SFT demonstrations (flaws.ts), so the pairs reject exactly what
// imitation of those demonstrations picks up. Every pair is checked against the
// oracle judge when it is made.
import type { PreferencePair } from '../records';
import type { WorldFacts } from './facts';
import type { KeyPlan, Params, Split, TaskFamily } from './family';
import { FAMILIES } from './families';
import { pad, padChatty } from './flaws';
import { createJudge } from './judge';
import type { Rng } from './rng';
import { WORLD_SOURCE, requestMessages } from './sft';
import { renderTask, taskMeta, type WorldTask } from './task';
import { REFUSAL } from './tasks/refusal';

export const PREFERENCE_RULES = [
  'correct_over_wrong', 'concise_over_padded', 'asked_format_over_other', 'refusal_over_made_up', 'answer_over_refusal',
] as const;
export type PreferenceRule = (typeof PREFERENCE_RULES)[number];

/** How often each rule is drawn, and from which families. */
const RULES: Record<PreferenceRule, { weight: number; families: (name: string) => boolean }> = {
  correct_over_wrong: { weight: 35, families: (f) => f !== 'refusal' },
  concise_over_padded: { weight: 25, families: () => true },
  asked_format_over_other: { weight: 15, families: (f) => f === 'formatting' },
  refusal_over_made_up: { weight: 15, families: (f) => f === 'refusal' },
  answer_over_refusal: { weight: 10, families: (f) => f === 'animal_lookup' || f === 'person_lookup' },
};

function rejectedReply(rule: PreferenceRule, fam: TaskFamily, task: WorldTask, facts: WorldFacts, rng: Rng): string {
  switch (rule) {
    case 'correct_over_wrong':
    case 'refusal_over_made_up':
      return fam.wrong(task.params, facts, rng);
    case 'concise_over_padded':
      return rng.chance(0.5) ? padChatty(task.reference, rng) : pad(task.reference, rng);
    case 'asked_format_over_other':
      if (!fam.otherFormat) throw new Error(`world: ${fam.name} has no other format`);
      return fam.otherFormat(task.params, rng);
    case 'answer_over_refusal':
      return REFUSAL;
  }
}

export function makePreferencePairs(
  facts: WorldFacts, plans: Map<string, KeyPlan<Params>>, split: Split, n: number, rng: Rng, systemShare: number,
): PreferencePair[] {
  const judge = createJudge(facts);
  const total = PREFERENCE_RULES.reduce((s, r) => s + RULES[r].weight, 0);
  const out: PreferencePair[] = [];
  for (let i = 0; i < n; i++) {
    let x = rng.next() * total;
    const rule = PREFERENCE_RULES.find((r) => (x -= RULES[r].weight) < 0) ?? PREFERENCE_RULES[0];
    const fam = rng.pick(FAMILIES.filter((f) => RULES[rule].families(f.name)));
    const task = renderTask(fam, plans.get(fam.name)!.draw(rng, split), rng);
    const prompt = requestMessages(task, rng, systemShare);
    const rejected = rejectedReply(rule, fam, task, facts, rng);
    if (judge.compare(prompt, task.reference, rejected) !== 'a') {
      throw new Error(`world: pair ${i} (${rule}, ${fam.name}) breaks its rule: ${JSON.stringify(task.prompt)} chosen ${JSON.stringify(task.reference)} rejected ${JSON.stringify(rejected)}`);
    }
    const { split: s, ...rest } = taskMeta(task, split);
    out.push({
      kind: 'preference',
      prompt,
      chosen: [{ role: 'assistant', content: task.reference }],
      rejected: [{ role: 'assistant', content: rejected }],
      source: WORLD_SOURCE,
      id: `pref-${split}-${String(i).padStart(5, '0')}`,
      category: fam.name,
      meta: { split: s, rule, ...rest },
    });
  }
  return out;
}
