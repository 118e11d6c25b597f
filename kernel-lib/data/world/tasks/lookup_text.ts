// The lookup questions and answers shared by animal_lookup, person_lookup and
// refusal: the same templates ask about known and unknown subjects, so a model
// has to know who is in the world to choose between an answer and the refusal.
import type { Template } from '../template';
import { cap, numberWord, saysOneOf, withArticle } from '../text';

export type AnimalAttr = 'sound' | 'food' | 'home';
export type PersonAttr = 'town' | 'age' | 'colour' | 'pet' | 'count';

export const ANIMAL_TEMPLATES: readonly Template[] = [
  { op: 'sound', text: 'What sound does {an} make?' },
  { op: 'sound', text: 'What does {an} say?' },
  { op: 'sound', text: 'Which sound does {an} make?' },
  { op: 'food', text: 'What does {an} eat?' },
  { op: 'food', text: 'What food does {an} like?' },
  { op: 'food', text: 'What is the food of {an}?' },
  { op: 'home', text: 'Where does {an} live?' },
  { op: 'home', text: 'What is the home of {an}?' },
  { op: 'home', text: 'Where is the home of {an}?' },
];

export const PERSON_TEMPLATES: readonly Template[] = [
  { op: 'town', text: 'Where does {name} live?' },
  { op: 'town', text: 'In which town does {name} live?' },
  { op: 'town', text: 'What town is {name} from?' },
  { op: 'age', text: 'How old is {name}?' },
  { op: 'age', text: 'What is the age of {name}?' },
  { op: 'age', text: 'How many years old is {name}?' },
  { op: 'colour', text: "What colour is {name}'s {thing}?" },
  { op: 'colour', text: "What is the colour of {name}'s {thing}?" },
  { op: 'colour', text: 'Which colour is the {thing} of {name}?' },
  { op: 'pet', text: 'What animals does {name} keep?' },
  { op: 'pet', text: 'Which animals does {name} look after?' },
  { op: 'pet', text: 'What kind of animal does {name} keep?' },
  { op: 'count', text: 'How many {animals} does {name} keep?' },
  { op: 'count', text: 'How many {animals} does {name} have?' },
  { op: 'count', text: 'How many {animals} does {name} look after?' },
];

export const LOOKUP_SLOTS = { an: 'an? [a-z]+', name: '[A-Z][a-z]+', thing: '[a-z]+', animals: '[a-z]+' } as const;

export const ANIMAL_ATTRS: readonly AnimalAttr[] = ['sound', 'food', 'home'];
export const PERSON_ATTRS: readonly PersonAttr[] = ['town', 'age', 'colour', 'pet', 'count'];
export const isAnimalAttr = (op: string): op is AnimalAttr => (ANIMAL_ATTRS as readonly string[]).includes(op);

/** "an owl" -> "owl". */
export const stripArticle = (s: string): string => s.replace(/^an? /, '');

/** The reference reply about an animal: "A fox eats berries." */
export function animalSentence(attr: AnimalAttr, animal: string, value: string): string {
  const subject = cap(withArticle(animal));
  if (attr === 'sound') return `${subject} ${value}.`;
  if (attr === 'food') return `${subject} eats ${value}.`;
  return `${subject} lives in ${value}.`;
}

/** The bare answers accepted besides the sentence: "berries", "it eats berries". */
export function animalForms(attr: AnimalAttr, value: string): string[] {
  if (attr === 'sound') return [value, `it ${value}`];
  if (attr === 'food') return [value, `it eats ${value}`];
  return [value, stripArticle(value), `in ${value}`, `it lives in ${value}`];
}

export interface PersonSubject {
  name: string;
  /** The thing asked about ('colour'), or ''. */
  thing: string;
  /** The animals asked about, plural ('count'), or ''. */
  animals: string;
}

/** The reference reply about a person: "Mia lives in Oakton." */
export function personSentence(attr: PersonAttr, s: PersonSubject, value: string): string {
  switch (attr) {
    case 'town': return `${s.name} lives in ${value}.`;
    case 'age': return `${s.name} is ${value} years old.`;
    case 'colour': return `${s.name}'s ${s.thing} is ${value}.`;
    case 'pet': return `${s.name} keeps ${value}.`;
    case 'count': return `${s.name} keeps ${value} ${s.animals}.`;
  }
}

export function personForms(attr: PersonAttr, s: PersonSubject, value: string): string[] {
  switch (attr) {
    case 'town': return [value, `in ${value}`];
    case 'age': return [value, `${value} years old`, `${value} years`];
    case 'colour': return [value, `it is ${value}`];
    case 'pet': return [value];
    case 'count': {
      const word = numberWord(Number(value));
      return [value, word, `${value} ${s.animals}`, `${word} ${s.animals}`, `${s.name} keeps ${word} ${s.animals}`];
    }
  }
}

/** Whether a reply is the sentence or one of the bare forms. */
export function saysLookup(reply: string, sentence: string, forms: string[]): boolean {
  return saysOneOf(reply, [sentence, ...forms]);
}
