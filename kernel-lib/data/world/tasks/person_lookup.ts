// Where a person of the world lives, how old they are, the colour of their
// thing, which animals they keep and how many; the reply is a sentence
// ("Mia lives in Oakton."). Held out: a share of the (person, attribute) facts.
import { findPerson, petOf, type Person, type WorldFacts } from '../facts';
import { listedPlan, no, ok, type TaskFamily } from '../family';
import type { Rng } from '../rng';
import { quote } from '../text';
import {
  LOOKUP_SLOTS, PERSON_ATTRS, PERSON_TEMPLATES, personForms, personSentence, saysLookup, type PersonAttr,
} from './lookup_text';

export interface PersonLookupParams {
  op: PersonAttr;
  name: string;
  thing: string;
  animals: string;
  value: string;
  [k: string]: string;
}

export function personValue(facts: WorldFacts, p: Person, op: PersonAttr): string {
  switch (op) {
    case 'town': return p.town;
    case 'age': return String(p.age);
    case 'colour': return p.colour;
    case 'pet': return petOf(facts, p).plural;
    case 'count': return String(p.pets);
  }
}

function lookup(facts: WorldFacts, op: PersonAttr, p: Person): PersonLookupParams {
  return {
    op,
    name: p.name,
    thing: op === 'colour' ? p.thing : '',
    animals: op === 'count' ? petOf(facts, p).plural : '',
    value: personValue(facts, p, op),
  };
}

/** A value of the same attribute that is not this person's: another person's, or a nearby number. */
export function otherValue(facts: WorldFacts, op: PersonAttr, truth: string, rng: Rng): string {
  const pool = new Set<string>(facts.people.map((q) => personValue(facts, q, op)));
  if (op === 'colour') facts.colours.forEach((c) => pool.add(c));
  if (op === 'town') facts.towns.forEach((t) => pool.add(t));
  if (op === 'age') [Number(truth) - 1, Number(truth) + 1].forEach((n) => pool.add(String(n)));
  if (op === 'count') ['2', '3', '4', '5', '6'].forEach((n) => pool.add(n));
  return rng.pick([...pool].filter((v) => v !== truth));
}

export const personLookup: TaskFamily<PersonLookupParams> = {
  name: 'person_lookup',
  description: "Where a person lives, their age, the colour of their thing, which animals they keep, how many; reply with a sentence (\"Mia lives in Oakton.\") or the bare fact.",
  heldOut: '20% of the (person, attribute) facts: a test fact is never asked in train; it is stated only in the corpus.',
  templates: PERSON_TEMPLATES,
  slotPatterns: LOOKUP_SLOTS,
  plan(facts, rng) {
    const all = facts.people.flatMap((p) => PERSON_ATTRS.map((op) => lookup(facts, op, p)));
    return listedPlan(all, personLookup.key, 0.2, rng);
  },
  key: (p) => `${p.name}:${p.op}`,
  slots: (p) => ({ name: p.name, thing: p.thing, animals: p.animals }),
  fromSlots(op, s, facts) {
    const person = findPerson(facts, s.name);
    if (!person || !(PERSON_ATTRS as readonly string[]).includes(op)) return null;
    const p = lookup(facts, op as PersonAttr, person);
    // A question about a thing or animals the person does not have is not answerable here.
    if (s.thing !== undefined && s.thing !== p.thing) return null;
    if (s.animals !== undefined && s.animals !== p.animals) return null;
    return p;
  },
  reference: (p) => personSentence(p.op, p, p.value),
  check(p, reply) {
    const sentence = personSentence(p.op, p, p.value);
    return saysLookup(reply, sentence, personForms(p.op, p, p.value)) ? ok : no(`expected ${quote(sentence)}, got ${quote(reply)}`);
  },
  wrong: (p, facts, rng) => personSentence(p.op, p, otherValue(facts, p.op, p.value, rng)),
};
