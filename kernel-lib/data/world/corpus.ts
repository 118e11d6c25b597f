// The pre-training corpus: plain stories and statements about the world, in the
// style of data/corpus/base.txt, that state every fact the lookup tasks ask
// about, many times and in varied phrasing. No chat format and no questions:
// the base model learns the language and the facts, not to follow requests.
// It opens with one full paragraph per person, animal and town (so every fact
// is stated at least once at any size), then draws paragraphs at random.
import { petOf, type Animal, type Person, type WorldFacts } from './facts';
import { makeRng, type Rng } from './rng';
import { article, cap, numberWord, withArticle } from './text';

const TIMES = ['In the morning', 'After lunch', 'In the evening', 'One day', 'Later that week', 'At night', 'Early on a Sunday'];
const WEATHER = ['The sun was warm', 'It was raining', 'The wind was cold', 'Snow covered the roofs', 'The sky was grey', 'It was a clear morning'];
const FEELINGS = ['happy', 'tired', 'curious', 'proud', 'sad', 'calm', 'surprised'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/** A count as digits or as a word, half and half. */
const amount = (r: Rng, n: number) => (r.chance(0.5) ? String(n) : numberWord(n));

function townSentence(r: Rng, p: Person): string {
  return r.pick([
    `${p.name} lives in ${p.town}.`,
    `${p.name} lives in the town of ${p.town}.`,
    `${p.name} has a house in ${p.town}.`,
    `The home of ${p.name} is in ${p.town}.`,
  ]);
}

function ageSentence(r: Rng, p: Person): string {
  return r.pick([`${p.name} is ${p.age} years old.`, `${p.name} is ${p.age} years old now.`, `${p.name} turned ${p.age} this year.`]);
}

function thingSentence(r: Rng, p: Person): string {
  const c = p.colour;
  return r.pick([
    `${p.name} has ${article(c)} ${c} ${p.thing}.`,
    `${p.name}'s ${p.thing} is ${c}.`,
    `The ${p.thing} that ${p.name} owns is ${c}.`,
    `${p.name} owns ${article(c)} ${c} ${p.thing}.`,
  ]);
}

function petSentence(r: Rng, p: Person, a: Animal): string {
  const k = amount(r, p.pets);
  return r.pick([`${p.name} keeps ${k} ${a.plural}.`, `${p.name} has ${k} ${a.plural} at home.`, `${p.name} looks after ${k} ${a.plural}.`]);
}

function profile(facts: WorldFacts, r: Rng, p: Person, full: boolean): string {
  const parts = [townSentence(r, p), ageSentence(r, p), thingSentence(r, p), petSentence(r, p, petOf(facts, p))];
  const chosen = full ? r.shuffle(parts) : r.sample(parts, r.int(2, 4));
  return chosen.join(' ');
}

function animalParagraph(facts: WorldFacts, r: Rng, a: Animal, full: boolean): string {
  const A = cap(withArticle(a.name));
  const s = [r.pick([`${A} is an animal.`, `The ${a.name} is an animal.`])];
  s.push(r.pick([`The ${a.name} ${a.sound}.`, `${A} ${a.sound}.`]));
  if (full || r.chance(0.8)) s.push(r.pick([`${A} eats ${a.food}.`, `${cap(a.plural)} like to eat ${a.food}.`, `The ${a.name} eats ${a.food}.`]));
  if (full || r.chance(0.8)) s.push(r.pick([`${A} lives in ${a.home}.`, `${A} often lives in ${a.home}.`, `The home of ${withArticle(a.name)} is ${a.home}.`]));
  const b = r.pick(facts.animals);
  if (b !== a && r.chance(0.5)) s.push(`${cap(withArticle(b.name))} ${b.sound}, but ${withArticle(a.name)} ${a.sound}.`);
  if (r.chance(0.3)) s.push(`There are ${numberWord(r.int(2, 9))} ${a.plural} near ${r.pick(facts.places)}.`);
  return s.join(' ');
}

function townParagraph(facts: WorldFacts, r: Rng, town: string): string {
  const people = facts.people.filter((p) => p.town === town).map((p) => p.name);
  const who = people.length === 1 ? `${people[0]} lives in ${town}.`
    : `${people.slice(0, -1).join(', ')} and ${people[people.length - 1]} live in ${town}.`;
  const s = [`${town} is a small town near ${r.pick(facts.places)}.`, who];
  if (r.chance(0.6)) s.push(`People in ${town} often walk to ${r.pick(facts.places)}.`);
  return s.join(' ');
}

function petStory(facts: WorldFacts, r: Rng, p: Person): string {
  const a = petOf(facts, p);
  return [
    `${p.name} keeps ${amount(r, p.pets)} ${a.plural} in ${p.town}.`,
    `Every morning, ${p.name} gives the ${a.plural} some ${a.food}.`,
    r.pick([`Each ${a.name} ${a.sound}.`, `The ${a.name} ${a.sound} all day.`]),
    `At night, ${withArticle(a.name)} sleeps in ${a.home}.`,
  ].join(' ');
}

function story(facts: WorldFacts, r: Rng): string {
  const p = r.pick(facts.people);
  const friend = r.pick(facts.people.filter((q) => q !== p));
  const a = r.pick(facts.animals);
  const place = r.pick(facts.places);
  const pet = petOf(facts, p);
  const s = [`${r.pick(TIMES)}, ${p.name} walked from ${p.town} to ${place}.`];
  if (r.chance(0.6)) s.push(`${r.pick(WEATHER)}, and ${p.name} felt ${r.pick(FEELINGS)}.`);
  s.push(`${p.name} carried ${article(p.colour)} ${p.colour} ${p.thing}.`);
  if (r.chance(0.7)) {
    s.push(`At ${place}, ${p.name} met ${friend.name} and ${withArticle(a.name)}.`);
    if (r.chance(0.6)) s.push(`The ${a.name} ${a.sound} and eats ${a.food}.`);
    if (r.chance(0.4)) s.push(`${friend.name} said that the ${p.thing} was very nice.`);
    if (r.chance(0.4)) s.push(`${friend.name} lives in ${friend.town} and is ${friend.age} years old.`);
    if (r.chance(0.3)) s.push(`They walked to ${r.pick(facts.places)} together.`);
  }
  s.push(`When the day was over, ${p.name} went home to ${p.town} and fed the ${amount(r, p.pets)} ${pet.plural}.`);
  return s.join(' ');
}

function diary(facts: WorldFacts, r: Rng): string {
  const p = r.pick(facts.people);
  const pet = petOf(facts, p);
  const s = [`On ${r.pick(DAYS)}, ${p.name} wrote in a small notebook.`];
  if (r.chance(0.6)) s.push(`I live in ${p.town} and I am ${p.age} years old.`);
  s.push(`Today I went to ${r.pick(facts.places)} with my ${p.colour} ${p.thing}.`);
  if (r.chance(0.5)) s.push(`My ${amount(r, p.pets)} ${pet.plural} stayed at home.`);
  if (r.chance(0.5)) s.push(`I was ${r.pick(FEELINGS)} because ${r.pick(facts.people.filter((q) => q !== p)).name} came with me.`);
  s.push(`Tomorrow I will go to ${r.pick(facts.places)}.`);
  return s.join(' ');
}

/** The corpus text: `paragraphs` paragraphs (at least one per person, animal and town), separated by blank lines. */
export function makeCorpus(facts: WorldFacts, paragraphs: number): string {
  const r = makeRng(facts.seed, 'corpus');
  const towns = facts.towns.filter((t) => facts.people.some((p) => p.town === t));
  const head = r.shuffle([
    ...facts.people.map((p) => () => profile(facts, r, p, true)),
    ...facts.animals.map((a) => () => animalParagraph(facts, r, a, true)),
    ...towns.map((t) => () => townParagraph(facts, r, t)),
  ]).map((make) => make());
  const kinds: [number, () => string][] = [
    [25, () => profile(facts, r, r.pick(facts.people), false)],
    [15, () => animalParagraph(facts, r, r.pick(facts.animals), false)],
    [10, () => petStory(facts, r, r.pick(facts.people))],
    [6, () => townParagraph(facts, r, r.pick(towns))],
    [30, () => story(facts, r)],
    [14, () => diary(facts, r)],
  ];
  const total = kinds.reduce((n, [w]) => n + w, 0);
  const body: string[] = [];
  for (let i = head.length; i < paragraphs; i++) {
    let x = r.next() * total;
    const kind = kinds.find(([w]) => (x -= w) < 0) ?? kinds[kinds.length - 1];
    body.push(kind[1]());
  }
  return [...head, ...body].join('\n\n') + '\n';
}
