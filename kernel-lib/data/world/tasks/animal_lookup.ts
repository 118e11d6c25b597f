// What an animal of the world says, eats, or where it lives; the reply is a
// sentence like the corpus's ("A fox eats berries."). Held out: a share of the
// (animal, attribute) facts, which the model then knows only from the corpus.
import { findAnimal, type WorldFacts } from '../facts';
import { listedPlan, no, ok, type TaskFamily } from '../family';
import { quote, withArticle } from '../text';
import {
  ANIMAL_ATTRS, ANIMAL_TEMPLATES, LOOKUP_SLOTS, animalForms, animalSentence, isAnimalAttr, saysLookup, stripArticle,
  type AnimalAttr,
} from './lookup_text';

export interface AnimalLookupParams {
  op: AnimalAttr;
  animal: string;
  value: string;
  [k: string]: string;
}

function lookup(facts: WorldFacts, op: AnimalAttr, name: string): AnimalLookupParams | null {
  const a = findAnimal(facts, name);
  return a ? { op, animal: a.name, value: a[op] } : null;
}

export const animalLookup: TaskFamily<AnimalLookupParams> = {
  name: 'animal_lookup',
  description: 'What sound an animal of the world makes, what it eats, or where it lives; reply with a sentence ("A fox eats berries.") or the bare fact.',
  heldOut: '25% of the (animal, attribute) facts: a test fact is never asked in train; it is stated only in the corpus.',
  templates: ANIMAL_TEMPLATES,
  slotPatterns: LOOKUP_SLOTS,
  plan(facts, rng) {
    const all = facts.animals.flatMap((a) => ANIMAL_ATTRS.map((op) => lookup(facts, op, a.name)!));
    return listedPlan(all, animalLookup.key, 0.25, rng);
  },
  key: (p) => `${p.animal}:${p.op}`,
  slots: (p) => ({ an: withArticle(p.animal) }),
  fromSlots: (op, s, facts) => (isAnimalAttr(op) ? lookup(facts, op, stripArticle(s.an)) : null),
  reference: (p) => animalSentence(p.op, p.animal, p.value),
  check(p, reply) {
    const sentence = animalSentence(p.op, p.animal, p.value);
    return saysLookup(reply, sentence, animalForms(p.op, p.value)) ? ok : no(`expected ${quote(sentence)}, got ${quote(reply)}`);
  },
  wrong(p, facts, rng) {
    const others = facts.animals.map((a) => a[p.op]).filter((v) => v !== p.value);
    return animalSentence(p.op, p.animal, rng.pick(others));
  },
};
