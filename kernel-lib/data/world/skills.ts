// Skill paragraphs for the pre-training corpus: the operations the task
// families ask about (sums, reversed words, sorted lists, counts, lists in a
// format), stated as plain sentences the way a textbook or a web page states
// them, never as requests. Real base models meet arithmetic, lists and spelled
// words in their pre-training text; a model that has only read stories about
// people and animals has nothing to start SFT's algorithmic families from
// (it cannot even copy a word from the prompt). Every statement draws its
// parameters from the family's training keys, so the held-out tasks stay unseen.
import type { KeyPlan, Params, TaskFamily } from './family';
import { FAMILIES } from './families';
import type { Rng } from './rng';
import { fill } from './template';

/** Statement templates per family and operation: the family's slots plus {answer}, its reference reply. */
const STATEMENTS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  arithmetic: {
    add: ['{a} plus {b} is {answer}.', '{a} + {b} = {answer}.', 'Adding {a} and {b} gives {answer}.'],
    sub: ['{a} minus {b} is {answer}.', '{a} - {b} = {answer}.', 'Taking {b} from {a} leaves {answer}.'],
  },
  string_edit: {
    reverse: ['The word "{word}" backwards is "{answer}".', 'Spelled backwards, "{word}" is "{answer}".'],
    upper: ['In capital letters, "{word}" is "{answer}".', 'The word "{word}" in upper case is "{answer}".'],
    first: ['The first letter of "{word}" is "{answer}".', 'The word "{word}" starts with "{answer}".'],
    last: ['The last letter of "{word}" is "{answer}".', 'The word "{word}" ends with "{answer}".'],
  },
  counting: {
    count: ['In the list {items}, the word "{item}" appears {answer} times.', 'Count "{item}" in {items} and you get {answer}.'],
  },
  sorting: {
    up: ['From smallest to largest, {items} are {answer}.', 'In increasing order, {items} read {answer}.'],
    down: ['From largest to smallest, {items} are {answer}.', 'In decreasing order, {items} read {answer}.'],
    alpha: ['In alphabetical order, {items} are {answer}.', 'Sorted alphabetically, {items} read {answer}.'],
  },
  comparison: {
    bigger: ['Of {a} and {b}, the bigger is {answer}.'],
    smaller: ['Of {a} and {b}, the smaller is {answer}.'],
    older: ['Of {a} and {b}, the older is {answer}.'],
    younger: ['Of {a} and {b}, the younger is {answer}.'],
  },
  sequence: {
    next_number: ['After {item} comes {answer}.', 'The number after {item} is {answer}.'],
    prev_number: ['Before {item} comes {answer}.', 'The number before {item} is {answer}.'],
    next_day: ['The day after {item} is {answer}.'],
    prev_day: ['The day before {item} is {answer}.'],
    next_letter: ['The letter after "{item}" is "{answer}".'],
    prev_letter: ['The letter before "{item}" is "{answer}".'],
  },
  formatting: {
    bullets: ['The words {items} as a bulleted list:\n{answer}'],
    numbered: ['The words {items} as a numbered list:\n{answer}'],
    commas: ['The words {words} joined with commas: {answer}.'],
    animal_kv: ['The facts about {an}:\n{answer}'],
    person_kv: ['The facts about {name}:\n{answer}'],
  },
};

/** The families the corpus states skills for (the lookups and refusals are stated as facts elsewhere). */
export const SKILL_FAMILIES: readonly string[] = Object.keys(STATEMENTS);

function statement(fam: TaskFamily, params: Params, rng: Rng): string {
  const texts = STATEMENTS[fam.name]?.[params.op];
  if (!texts) throw new Error(`world: no skill statement for ${fam.name} "${params.op}"`);
  return fill(rng.pick(texts), { ...fam.slots(params), answer: fam.reference(params) });
}

/** `n` paragraphs, each two to four statements of one family, parameters drawn from its training keys. */
export function makeSkillParagraphs(plans: ReadonlyMap<string, KeyPlan<Params>>, n: number, rng: Rng): string[] {
  const families = FAMILIES.filter((f) => SKILL_FAMILIES.includes(f.name));
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const fam = rng.pick(families);
    const plan = plans.get(fam.name);
    if (!plan) throw new Error(`world: no key plan for ${fam.name}`);
    const parts = Array.from({ length: rng.int(2, 4) }, () => statement(fam, plan.draw(rng, 'train'), rng));
    out.push(parts.join(fam.name === 'formatting' ? '\n' : ' '));
  }
  return out;
}
