// Pick the bigger or smaller of two numbers, or the older or younger of two
// people of the world (their ages are in the corpus, not in the prompt). The
// reply is the number or the name. Held out: unordered number pairs (by a
// seeded hash) and unordered pairs of people (a listed share).
import type { WorldFacts } from '../facts';
import { findPerson } from '../facts';
import { hashedPlan, listedPlan, mixedPlan, no, ok, type TaskFamily } from '../family';
import { quote, saysOneOf } from '../text';

export interface ComparisonParams {
  op: 'bigger' | 'smaller' | 'older' | 'younger';
  /** Numbers as digits, or names. */
  a: string;
  b: string;
  /** The right one of a and b. */
  answer: string;
  [k: string]: string;
}

const isNumbers = (op: string) => op === 'bigger' || op === 'smaller';
const wantsMore = (op: string) => op === 'bigger' || op === 'older';

function params(op: ComparisonParams['op'], a: string, b: string, va: number, vb: number): ComparisonParams {
  const answer = (va > vb) === wantsMore(op) ? a : b;
  return { op, a, b, answer };
}

function peopleParams(facts: WorldFacts, op: 'older' | 'younger', a: string, b: string): ComparisonParams | null {
  const pa = findPerson(facts, a);
  const pb = findPerson(facts, b);
  return pa && pb && a !== b ? params(op, a, b, pa.age, pb.age) : null;
}

export const comparison: TaskFamily<ComparisonParams> = {
  name: 'comparison',
  description: 'Which of two numbers (0 to 99) is bigger or smaller, or which of two people is older or younger; reply with the number or the name.',
  heldOut: '20% of unordered number pairs (seeded hash) and 20% of unordered pairs of people: a test pair is never compared in train, in either order or direction.',
  templates: [
    { op: 'bigger', text: 'Which is bigger, {a} or {b}?' },
    { op: 'bigger', text: 'Which number is larger: {a} or {b}?' },
    { op: 'smaller', text: 'Which is smaller, {a} or {b}?' },
    { op: 'smaller', text: 'Which number is less: {a} or {b}?' },
    { op: 'older', text: 'Who is older, {a} or {b}?' },
    { op: 'older', text: 'Which one is older: {a} or {b}?' },
    { op: 'younger', text: 'Who is younger, {a} or {b}?' },
    { op: 'younger', text: 'Which one is younger: {a} or {b}?' },
  ],
  slotPatterns: { a: '\\d{1,3}|[A-Z][a-z]+', b: '\\d{1,3}|[A-Z][a-z]+' },
  plan(facts, rng) {
    const numberPlan = hashedPlan((r): ComparisonParams => {
      const [x, y] = r.sample(Array.from({ length: 100 }, (_, i) => i), 2);
      return params(r.pick(['bigger', 'smaller'] as const), String(x), String(y), x, y);
    }, comparison.key, 0.2, `${facts.seed}:comparison`);
    const people: ComparisonParams[] = [];
    for (const a of facts.people) {
      for (const b of facts.people) {
        if (a === b) continue;
        for (const op of ['older', 'younger'] as const) people.push(peopleParams(facts, op, a.name, b.name)!);
      }
    }
    return mixedPlan(numberPlan, listedPlan(people, comparison.key, 0.2, rng), 0.6);
  },
  key(p) {
    const pair = isNumbers(p.op) ? [Number(p.a), Number(p.b)].sort((x, y) => x - y) : [p.a, p.b].sort();
    return `${isNumbers(p.op) ? 'numbers' : 'people'}:${pair.join(',')}`;
  },
  slots: (p) => ({ a: p.a, b: p.b }),
  fromSlots(op, s, facts) {
    if (isNumbers(op)) {
      const [x, y] = [Number(s.a), Number(s.b)];
      return /^\d+$/.test(s.a) && /^\d+$/.test(s.b) && x !== y ? params(op as 'bigger', s.a, s.b, x, y) : null;
    }
    return peopleParams(facts, op as 'older', s.a, s.b);
  },
  reference: (p) => p.answer,
  check(p, reply) {
    return saysOneOf(reply, [p.answer]) ? ok : no(`expected ${quote(p.answer)}, got ${quote(reply)}`);
  },
  wrong: (p) => (p.answer === p.a ? p.b : p.a),
};
