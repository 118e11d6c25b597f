// Writes data/corpus/base.txt: a small plain-text corpus for pre-training the
// base model (notebook 03). Short stories and plain statements about a few
// people, animals and places, drawn from templates with a fixed seed, so the
// file is the same on every machine. No chat format and no questions with
// answers: the base model should learn to continue text, not to follow requests.
//   npx tsx scripts/make-corpus.ts [--out data/corpus/base.txt] [--paragraphs 1400] [--seed 3]
import * as fs from 'node:fs';
import * as path from 'node:path';
import seedrandom from 'seedrandom';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const out = opt('out', path.join(__dirname, '..', 'data', 'corpus', 'base.txt'));
const paragraphs = Number(opt('paragraphs', '1400'));
const rng = seedrandom(`corpus:${opt('seed', '3')}`);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.quick() * xs.length)];
const chance = (p: number) => rng.quick() < p;

const people = ['Mia', 'Tom', 'Lena', 'Sam', 'Ava', 'Ben', 'Nora', 'Leo', 'Ivy', 'Max', 'Ruth', 'Omar'] as const;
const animals = [
  { name: 'cat', sound: 'meows', food: 'fish', home: 'a basket' },
  { name: 'dog', sound: 'barks', food: 'bones', home: 'a kennel' },
  { name: 'horse', sound: 'neighs', food: 'hay', home: 'a stable' },
  { name: 'bird', sound: 'sings', food: 'seeds', home: 'a nest' },
  { name: 'cow', sound: 'moos', food: 'grass', home: 'a barn' },
  { name: 'duck', sound: 'quacks', food: 'bread', home: 'a pond' },
  { name: 'sheep', sound: 'bleats', food: 'clover', home: 'a field' },
  { name: 'fox', sound: 'yips', food: 'berries', home: 'a den' },
] as const;
const places = ['the village', 'the forest', 'the market', 'the river', 'the hill', 'the school', 'the garden', 'the harbour', 'the library', 'the bakery'] as const;
const colors = ['red', 'blue', 'green', 'yellow', 'brown', 'white', 'black', 'orange'] as const;
const things = ['ball', 'kite', 'book', 'hat', 'basket', 'lamp', 'boat', 'box', 'cup', 'coat'] as const;
const weather = ['The sun was warm', 'It was raining', 'The wind was cold', 'Snow covered the roofs', 'The sky was grey', 'It was a clear morning'] as const;
const feelings = ['happy', 'tired', 'curious', 'proud', 'sad', 'calm', 'surprised'] as const;
const times = ['In the morning', 'After lunch', 'In the evening', 'One day', 'Later that week', 'At night'] as const;
const days = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;

const cap = (s: string) => s[0].toUpperCase() + s.slice(1);
const article = (w: string) => (/^[aeiou]/.test(w) ? 'an' : 'a');

function story(): string {
  const who = pick(people);
  let friend = pick(people);
  while (friend === who) friend = pick(people);
  const a = pick(animals);
  const color = pick(colors);
  const thing = pick(things);
  const place = pick(places);
  const s: string[] = [];
  s.push(`${pick(times)}, ${who} went to ${place}.`);
  if (chance(0.6)) s.push(`${pick(weather)}, and ${who} felt ${pick(feelings)}.`);
  s.push(`${who} had ${article(color)} ${color} ${thing}.`);
  if (chance(0.7)) s.push(`At ${place}, ${who} met ${friend} and ${article(a.name)} ${a.name}.`);
  if (chance(0.5)) s.push(`The ${a.name} ${a.sound} and eats ${a.food}.`);
  if (chance(0.5)) s.push(`${friend} said that the ${thing} was very nice.`);
  if (chance(0.4)) s.push(`They walked to ${pick(places)} together.`);
  if (chance(0.4)) s.push(`${who} gave the ${thing} to ${friend}.`);
  s.push(`When the day was over, ${who} went home and felt ${pick(feelings)}.`);
  return s.join(' ');
}

function facts(): string {
  const a = pick(animals);
  const b = pick(animals);
  const s: string[] = [];
  s.push(`${cap(article(a.name))} ${a.name} is an animal. The ${a.name} ${a.sound}.`);
  s.push(`${cap(a.name)}s like to eat ${a.food}, and a ${a.name} often lives in ${a.home}.`);
  if (a !== b) s.push(`${cap(article(b.name))} ${b.name} ${b.sound}, but ${article(a.name)} ${a.name} ${a.sound}.`);
  if (chance(0.5)) s.push(`There are ${pick(['two', 'three', 'four', 'five', 'six'])} ${a.name}s near ${pick(places)}.`);
  return s.join(' ');
}

function diary(): string {
  const who = pick(people);
  const day = pick(days);
  const s = [`On ${day}, ${who} wrote in a small notebook.`];
  const color = pick(colors);
  s.push(`Today I went to ${pick(places)} and saw ${article(color)} ${color} ${pick(things)}.`);
  if (chance(0.6)) s.push(`I was ${pick(feelings)} because ${pick(people)} came with me.`);
  s.push(`Tomorrow I will go to ${pick(places)}.`);
  return s.join(' ');
}

const kinds = [story, story, story, facts, diary];
const text: string[] = [];
for (let i = 0; i < paragraphs; i++) text.push(pick(kinds)());
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, text.join('\n\n') + '\n');
console.log(`wrote ${out}: ${paragraphs} paragraphs, ${fs.statSync(out).size} bytes`);
