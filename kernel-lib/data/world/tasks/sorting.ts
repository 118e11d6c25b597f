// Sort 3 to 5 numbers (up or down) or words (alphabetically); the reply is the
// sorted items separated by commas. Held out: (order, set of items), by a
// seeded hash, whatever order the items were given in.
import { hashedPlan, no, ok, type TaskFamily } from '../family';
import { quote, tidy } from '../text';
import { WORDS } from '../words';

export interface SortingParams {
  op: 'up' | 'down' | 'alpha';
  items: string[];
  [k: string]: string | string[];
}

const byNumber = (a: string, b: string) => Number(a) - Number(b);
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function sorted(p: SortingParams): string[] {
  const xs = p.items.slice();
  if (p.op === 'alpha') return xs.sort(byText);
  xs.sort(byNumber);
  return p.op === 'down' ? xs.reverse() : xs;
}

/** The items of a reply written with commas, spaces or "and", optionally in brackets. */
export function replyItems(reply: string): string[] {
  const s = tidy(reply).replace(/^\[(.*)\]$/s, '$1');
  return s.split(/\s*,\s*|\s+and\s+|\s+/).filter((x) => x.length > 0).map((x) => x.toLowerCase());
}

export const sorting: TaskFamily<SortingParams> = {
  name: 'sorting',
  description: 'Sort 3 to 5 numbers (0 to 50) smallest first or largest first, or 3 to 4 words alphabetically; reply with the items joined by ", ".',
  heldOut: '20% of the (order, item set) combinations by a seeded hash: a test set of items is never sorted that way in train.',
  templates: [
    { op: 'up', text: 'Sort these numbers from smallest to largest: {items}.' },
    { op: 'up', text: 'Put {items} in increasing order.' },
    { op: 'up', text: 'Order from low to high: {items}.' },
    { op: 'down', text: 'Sort these numbers from largest to smallest: {items}.' },
    { op: 'down', text: 'Put {items} in decreasing order.' },
    { op: 'alpha', text: 'Sort these words alphabetically: {items}.' },
    { op: 'alpha', text: 'Put these words in alphabetical order: {items}.' },
  ],
  slotPatterns: { items: '[a-z0-9]+(?:, [a-z0-9]+)+' },
  plan(facts, rng) {
    const numbers = Array.from({ length: 51 }, (_, i) => String(i));
    const drawAny = (r: typeof rng): SortingParams => {
      const op = r.pick(['up', 'up', 'down', 'alpha'] as const);
      const items = op === 'alpha' ? r.sample(WORDS, r.int(3, 4)) : r.sample(numbers, r.int(3, 5));
      return { op, items };
    };
    return hashedPlan(drawAny, sorting.key, 0.2, `${facts.seed}:sorting`);
  },
  key: (p) => `${p.op}:${sorted({ ...p, op: p.op === 'alpha' ? 'alpha' : 'up' }).join(',')}`,
  slots: (p) => ({ items: p.items.join(', ') }),
  fromSlots(op, s) {
    const items = s.items.split(', ');
    const numeric = items.every((x) => /^\d+$/.test(x));
    if ((op === 'alpha') === numeric || new Set(items).size !== items.length) return null;
    return { op: op as SortingParams['op'], items };
  },
  reference: (p) => sorted(p).join(', '),
  check(p, reply) {
    const want = sorted(p);
    const got = replyItems(reply);
    const same = got.length === want.length && got.every((x, i) => x === want[i].toLowerCase());
    return same ? ok : no(`expected ${quote(want.join(', '))}, got ${quote(reply)}`);
  },
  wrong(p, _facts, rng) {
    const want = sorted(p);
    const given = p.items.join(', ');
    if (given !== want.join(', ') && rng.chance(0.5)) return given;
    const i = rng.int(0, want.length - 2);
    const xs = want.slice();
    [xs[i], xs[i + 1]] = [xs[i + 1], xs[i]];
    return xs.join(', ');
  },
};
