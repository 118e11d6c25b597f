// Count how often a word occurs in a short list of the world's animals; the
// reply is the number. Held out: (word, list) combinations, by a seeded hash.
import { hashedPlan, no, ok, type TaskFamily } from '../family';
import { numberWord, quote, saysOneOf } from '../text';

export interface CountingParams {
  op: 'count';
  item: string;
  items: string[];
  [k: string]: string | string[];
}

const count = (p: CountingParams) => p.items.filter((x) => x === p.item).length;

export const counting: TaskFamily<CountingParams> = {
  name: 'counting',
  description: 'Count how many times a word appears in a list of 3 to 8 animal names; reply with the number.',
  heldOut: '20% of the (word, list) combinations by a seeded hash: every test list with its word is unseen in train.',
  templates: [
    { op: 'count', text: 'How many times does "{item}" appear in this list: {items}?' },
    { op: 'count', text: 'Count the word "{item}" in: {items}.' },
    { op: 'count', text: 'In the list {items}, how many are "{item}"?' },
  ],
  slotPatterns: { item: '[a-z]+', items: '[a-z]+(?:, [a-z]+)*' },
  plan(facts, rng) {
    const names = facts.animals.map((a) => a.name);
    const drawAny = (r: typeof rng): CountingParams => {
      const pool = r.sample(names, 3);
      const items = Array.from({ length: r.int(3, 8) }, () => r.pick(pool));
      // Mostly a word of the list; sometimes one that is absent (answer 0).
      const item = r.chance(0.9) ? r.pick(items) : r.pick(names.filter((n) => !items.includes(n)));
      return { op: 'count', item, items };
    };
    return hashedPlan(drawAny, counting.key, 0.2, `${facts.seed}:counting`);
  },
  key: (p) => `${p.item}|${p.items.join(',')}`,
  slots: (p) => ({ item: p.item, items: p.items.join(', ') }),
  fromSlots: (op, s) => ({ op: 'count', item: s.item, items: s.items.split(', ') }),
  reference: (p) => String(count(p)),
  check(p, reply) {
    const n = count(p);
    return saysOneOf(reply, [String(n), numberWord(n)]) ? ok : no(`expected ${n}, got ${quote(reply)}`);
  },
  wrong(p, _facts, rng) {
    const n = count(p);
    return String(n === 0 ? rng.int(1, 2) : rng.pick([n - 1, n + 1]));
  },
};
