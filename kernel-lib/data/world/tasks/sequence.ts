// What comes after or before a number (0 to 99), a day of the week, or a
// letter; the reply is that item. Held out: a share of the (direction, item)
// combinations.
import { listedPlan, no, ok, type TaskFamily } from '../family';
import { quote, saysOneOf } from '../text';

export interface SequenceParams {
  op: 'next_number' | 'prev_number' | 'next_day' | 'prev_day' | 'next_letter' | 'prev_letter';
  item: string;
  [k: string]: string;
}

export const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** The item `step` places from `item` (days wrap around the week). */
function shift(op: string, item: string, step: number): string | null {
  if (op.endsWith('number')) {
    const n = Number(item) + step;
    return n >= 0 && n <= 100 ? String(n) : null;
  }
  if (op.endsWith('day')) {
    const i = DAYS.findIndex((d) => d.toLowerCase() === item.toLowerCase());
    return i < 0 ? null : DAYS[(i + step + 7 * 4) % 7];
  }
  const i = LETTERS.indexOf(item.toLowerCase());
  return i < 0 || i + step < 0 || i + step >= LETTERS.length ? null : LETTERS[i + step];
}

const step = (op: string) => (op.startsWith('next') ? 1 : -1);
const answer = (p: SequenceParams) => shift(p.op, p.item, step(p.op))!;

export const sequence: TaskFamily<SequenceParams> = {
  name: 'sequence',
  description: 'The number (0 to 99), day of the week or letter that comes after or before a given one; reply with it.',
  heldOut: '20% of the (direction, item) combinations: e.g. "after 41" or "before Friday" is asked in test only.',
  templates: [
    { op: 'next_number', text: 'What number comes after {item}?' },
    { op: 'next_number', text: 'What is the next number after {item}?' },
    { op: 'prev_number', text: 'What number comes before {item}?' },
    { op: 'prev_number', text: 'What is the number just before {item}?' },
    { op: 'next_day', text: 'What day comes after {item}?' },
    { op: 'next_day', text: 'Which day follows {item}?' },
    { op: 'prev_day', text: 'What day comes before {item}?' },
    { op: 'prev_day', text: 'Which day is just before {item}?' },
    { op: 'next_letter', text: 'What letter comes after "{item}"?' },
    { op: 'prev_letter', text: 'What letter comes before "{item}"?' },
  ],
  slotPatterns: { item: '\\d{1,3}|[A-Z][a-z]+|[a-z]' },
  plan(_facts, rng) {
    const all: SequenceParams[] = [];
    for (let n = 0; n <= 99; n++) {
      all.push({ op: 'next_number', item: String(n) });
      if (n > 0) all.push({ op: 'prev_number', item: String(n) });
    }
    for (const d of DAYS) all.push({ op: 'next_day', item: d }, { op: 'prev_day', item: d });
    for (let i = 0; i < LETTERS.length; i++) {
      if (i < LETTERS.length - 1) all.push({ op: 'next_letter', item: LETTERS[i] });
      if (i > 0) all.push({ op: 'prev_letter', item: LETTERS[i] });
    }
    return listedPlan(all, sequence.key, 0.2, rng);
  },
  key: (p) => `${p.op}:${p.item}`,
  slots: (p) => ({ item: p.item }),
  fromSlots(op, s) {
    const kind = op.split('_')[1];
    const fits = kind === 'number' ? /^\d+$/.test(s.item) : kind === 'day' ? /^[A-Z]/.test(s.item) : /^[a-z]$/.test(s.item);
    return fits && shift(op, s.item, step(op)) !== null ? { op: op as SequenceParams['op'], item: s.item } : null;
  },
  reference: answer,
  check(p, reply) {
    const a = answer(p);
    return saysOneOf(reply, [a]) ? ok : no(`expected ${quote(a)}, got ${quote(reply)}`);
  },
  wrong(p, _facts, rng) {
    const options = [shift(p.op, p.item, -step(p.op)), shift(p.op, p.item, 2 * step(p.op)), p.item];
    return rng.pick(options.filter((x): x is string => x !== null && x !== answer(p)));
  },
};
