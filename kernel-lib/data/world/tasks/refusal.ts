// Lookup questions that cannot be answered: about a person or animal that is
// not in the world (or, read back by the judge, about a thing or animals a
// person does not have). The reply is one fixed polite refusal. Held out:
// whole unknown subjects (test names and animals are never asked about in train).
import { findAnimal, findPerson, type WorldFacts } from '../facts';
import { holdOut, no, ok, type TaskFamily } from '../family';
import { quote, tidyLoose, withArticle } from '../text';
import {
  ANIMAL_ATTRS, ANIMAL_TEMPLATES, LOOKUP_SLOTS, PERSON_ATTRS, PERSON_TEMPLATES, animalSentence, isAnimalAttr,
  personSentence, stripArticle, type AnimalAttr, type PersonAttr,
} from './lookup_text';
import { otherValue } from './person_lookup';

/** The one reply to an unanswerable request. */
export const REFUSAL = "Sorry, I don't know that.";

// Accepted spellings of the refusal (compared after tidyLoose).
const REFUSALS = new Set([
  "sorry, i don't know that", 'sorry, i do not know that', "sorry, i don't know", 'sorry, i do not know',
  "i don't know that", 'i do not know that', "i don't know", 'i do not know',
].map((s) => tidyLoose(s)));

export function isRefusal(reply: string): boolean {
  return REFUSALS.has(tidyLoose(reply.replace(/\u2019/g, "'")));
}

export interface RefusalParams {
  op: PersonAttr | AnimalAttr;
  /** The unknown name or animal. */
  subject: string;
  thing: string;
  animals: string;
  [k: string]: string;
}

export const refusal: TaskFamily<RefusalParams> = {
  name: 'refusal',
  description: `A lookup question about a person or animal that is not in the world; reply with the fixed refusal "${REFUSAL}".`,
  heldOut: '20% of the unknown names and of the unknown animals: test subjects are never asked about in train.',
  templates: [...PERSON_TEMPLATES, ...ANIMAL_TEMPLATES],
  slotPatterns: LOOKUP_SLOTS,
  plan(facts, rng) {
    // Whole subjects are held out; the attribute, thing and animals are drawn afresh each time.
    const people = holdOut(facts.unknownPeople, 0.2, rng);
    const animals = holdOut(facts.unknownAnimals, 0.2, rng);
    return {
      draw(r, split): RefusalParams {
        if (r.chance(0.7)) {
          const op = r.pick(PERSON_ATTRS);
          return {
            op,
            subject: r.pick(people[split]),
            thing: op === 'colour' ? r.pick(facts.things) : '',
            animals: op === 'count' ? r.pick(facts.animals).plural : '',
          };
        }
        return { op: r.pick(ANIMAL_ATTRS), subject: r.pick(animals[split]), thing: '', animals: '' };
      },
    };
  },
  key: (p) => p.subject,
  slots: (p): Record<string, string> => (isAnimalAttr(p.op) ? { an: withArticle(p.subject) } : { name: p.subject, thing: p.thing, animals: p.animals }),
  fromSlots(op, s, facts) {
    if (isAnimalAttr(op)) {
      const subject = stripArticle(s.an);
      return findAnimal(facts, subject) ? null : { op, subject, thing: '', animals: '' };
    }
    const person = findPerson(facts, s.name);
    const p: RefusalParams = { op: op as PersonAttr, subject: s.name, thing: s.thing ?? '', animals: s.animals ?? '' };
    if (!person) return p;
    // A known person asked about a thing or animals that are not theirs: also unanswerable.
    const pet = findAnimal(facts, person.pet);
    if (s.thing !== undefined && s.thing !== person.thing) return p;
    if (s.animals !== undefined && pet && s.animals !== pet.plural) return p;
    return null;
  },
  reference: () => REFUSAL,
  check: (_p, reply) => (isRefusal(reply) ? ok : no(`expected the refusal ${quote(REFUSAL)}, got ${quote(reply)}`)),
  /** A made-up answer in the lookup's format. */
  wrong(p, facts, rng) {
    if (isAnimalAttr(p.op)) return animalSentence(p.op, p.subject, rng.pick(facts.animals)[p.op]);
    const op = p.op as PersonAttr;
    return personSentence(op, { name: p.subject, thing: p.thing, animals: p.animals }, otherValue(facts, op, '', rng));
  },
};
