// The world's facts: who lives where, how old they are, what they own and which
// animals they keep, and what each animal says, eats and where it lives. The
// names, animals, places and things are those of scripts/make-corpus.ts,
// extended; which person gets which town, age, thing and pets is drawn from the
// seed. About 120 facts, few enough for a ~1M-parameter model to memorise from
// the corpus.
import { makeRng } from './rng';

export interface Animal {
  name: string;
  plural: string;
  /** What it does, third person: 'barks'. */
  sound: string;
  food: string;
  /** With its article: 'a kennel'. */
  home: string;
}

export interface Person {
  name: string;
  town: string;
  /** Distinct across people, so "who is older" always has an answer. */
  age: number;
  /** The one thing the person owns, and its colour. */
  thing: string;
  colour: string;
  /** The kind of animal the person keeps (an Animal's name) and how many (2..6). */
  pet: string;
  pets: number;
}

export interface WorldFacts {
  seed: number;
  people: Person[];
  animals: Animal[];
  towns: string[];
  /** Places people visit in stories (not where they live). */
  places: string[];
  things: string[];
  colours: string[];
  /** Names and animals that are NOT in the world: asking about them gets the refusal. Never written in the corpus. */
  unknownPeople: string[];
  unknownAnimals: string[];
}

export const PEOPLE = [
  'Mia', 'Tom', 'Lena', 'Sam', 'Ava', 'Ben', 'Nora', 'Leo', 'Ivy', 'Max', 'Ruth', 'Omar', 'Ella', 'Jack', 'Hana', 'Paul',
] as const;

export const ANIMALS: readonly Animal[] = [
  { name: 'cat', plural: 'cats', sound: 'meows', food: 'fish', home: 'a basket' },
  { name: 'dog', plural: 'dogs', sound: 'barks', food: 'bones', home: 'a kennel' },
  { name: 'horse', plural: 'horses', sound: 'neighs', food: 'hay', home: 'a stable' },
  { name: 'bird', plural: 'birds', sound: 'sings', food: 'seeds', home: 'a nest' },
  { name: 'cow', plural: 'cows', sound: 'moos', food: 'grass', home: 'a barn' },
  { name: 'duck', plural: 'ducks', sound: 'quacks', food: 'bread', home: 'a pond' },
  { name: 'sheep', plural: 'sheep', sound: 'bleats', food: 'clover', home: 'a field' },
  { name: 'fox', plural: 'foxes', sound: 'yips', food: 'berries', home: 'a den' },
  { name: 'owl', plural: 'owls', sound: 'hoots', food: 'mice', home: 'a tree' },
  { name: 'frog', plural: 'frogs', sound: 'croaks', food: 'flies', home: 'a marsh' },
  { name: 'pig', plural: 'pigs', sound: 'oinks', food: 'corn', home: 'a sty' },
  { name: 'mouse', plural: 'mice', sound: 'squeaks', food: 'cheese', home: 'a hole' },
];

export const TOWNS = ['Oakton', 'Millbrook', 'Ashford', 'Riverby', 'Hillcrest', 'Pinewood'] as const;
export const PLACES = ['the village', 'the forest', 'the market', 'the river', 'the hill', 'the school', 'the garden', 'the harbour', 'the library', 'the bakery'] as const;
export const THINGS = ['ball', 'kite', 'book', 'hat', 'basket', 'lamp', 'boat', 'box', 'cup', 'coat'] as const;
export const COLOURS = ['red', 'blue', 'green', 'yellow', 'brown', 'white', 'black', 'orange'] as const;

// Disjoint from PEOPLE and ANIMALS (checked at build); split train/test by the refusal family.
export const UNKNOWN_PEOPLE = [
  'Zoe', 'Hugo', 'Kai', 'Elsa', 'Finn', 'Gus', 'Rosa', 'Yara', 'Otto', 'Iris', 'Nils', 'Cleo',
  'Dora', 'Eli', 'Jude', 'Lars', 'Pia', 'Rex', 'Tara', 'Vera', 'Wes', 'Axel', 'Bea', 'Cora',
] as const;
export const UNKNOWN_ANIMALS = ['zebra', 'lion', 'tiger', 'whale', 'camel', 'panda', 'otter', 'bear', 'wolf', 'goat', 'deer', 'rabbit'] as const;

export function buildFacts(seed: number): WorldFacts {
  if (!Number.isInteger(seed)) throw new Error(`world: seed must be an integer, got ${seed}`);
  const rng = makeRng(seed, 'facts');
  const ages = rng.sample(Array.from({ length: 60 }, (_, i) => 10 + i), PEOPLE.length);
  const people: Person[] = PEOPLE.map((name, i) => ({
    name,
    town: rng.pick(TOWNS),
    age: ages[i],
    thing: rng.pick(THINGS),
    colour: rng.pick(COLOURS),
    pet: rng.pick(ANIMALS).name,
    pets: rng.int(2, 6),
  }));
  const known = new Set<string>([...PEOPLE, ...ANIMALS.map((a) => a.name)]);
  for (const u of [...UNKNOWN_PEOPLE, ...UNKNOWN_ANIMALS]) {
    if (known.has(u)) throw new Error(`world: "${u}" is both known and unknown`);
  }
  return {
    seed,
    people,
    animals: ANIMALS.map((a) => ({ ...a })),
    towns: [...TOWNS],
    places: [...PLACES],
    things: [...THINGS],
    colours: [...COLOURS],
    unknownPeople: [...UNKNOWN_PEOPLE],
    unknownAnimals: [...UNKNOWN_ANIMALS],
  };
}

export function findPerson(facts: WorldFacts, name: string): Person | undefined {
  return facts.people.find((p) => p.name === name);
}

export function findAnimal(facts: WorldFacts, name: string): Animal | undefined {
  return facts.animals.find((a) => a.name === name);
}

/** The animal of a person's pets. */
export function petOf(facts: WorldFacts, p: Person): Animal {
  const a = findAnimal(facts, p.pet);
  if (!a) throw new Error(`world: ${p.name}'s pet "${p.pet}" is not an animal of the world`);
  return a;
}
