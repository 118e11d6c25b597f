// Add or subtract two numbers from 0 to 20 (no negative results); the reply is
// the number. Held out: (a, op, b) triples.
import { listedPlan, no, ok, type TaskFamily } from '../family';
import { quote, saysOneOf } from '../text';

export interface ArithmeticParams {
  op: 'add' | 'sub';
  a: number;
  b: number;
  [k: string]: string | number;
}

const MAX = 20;
const sign = (op: string) => (op === 'add' ? '+' : '-');
const result = (p: ArithmeticParams) => (p.op === 'add' ? p.a + p.b : p.a - p.b);

export const arithmetic: TaskFamily<ArithmeticParams> = {
  name: 'arithmetic',
  description: `Add or subtract two whole numbers from 0 to ${MAX}; reply with the result.`,
  heldOut: '20% of the (a, op, b) triples; a test sum or difference is never asked in train (in any phrasing).',
  templates: [
    { op: 'add', text: 'What is {a} + {b}?' },
    { op: 'add', text: 'What is {a} plus {b}?' },
    { op: 'add', text: 'Add {a} and {b}.' },
    { op: 'add', text: 'Compute {a} + {b}.' },
    { op: 'sub', text: 'What is {a} - {b}?' },
    { op: 'sub', text: 'What is {a} minus {b}?' },
    { op: 'sub', text: 'Subtract {b} from {a}.' },
    { op: 'sub', text: 'Compute {a} - {b}.' },
  ],
  slotPatterns: { a: '\\d{1,3}', b: '\\d{1,3}' },
  plan(_facts, rng) {
    const all: ArithmeticParams[] = [];
    for (let a = 0; a <= MAX; a++) {
      for (let b = 0; b <= MAX; b++) {
        all.push({ op: 'add', a, b });
        if (a >= b) all.push({ op: 'sub', a, b });
      }
    }
    return listedPlan(all, arithmetic.key, 0.2, rng);
  },
  key: (p) => `${p.a}${sign(p.op)}${p.b}`,
  slots: (p) => ({ a: String(p.a), b: String(p.b) }),
  fromSlots(op, s) {
    const p: ArithmeticParams = { op: op as 'add' | 'sub', a: Number(s.a), b: Number(s.b) };
    return p.op === 'sub' && p.a < p.b ? null : p;
  },
  reference: (p) => String(result(p)),
  check(p, reply) {
    const r = result(p);
    const forms = [String(r), `${p.a} ${sign(p.op)} ${p.b} = ${r}`];
    return saysOneOf(reply, forms) ? ok : no(`expected ${r}, got ${quote(reply)}`);
  },
  wrong(p, _facts, rng) {
    const r = result(p);
    const other = p.op === 'add' ? Math.abs(p.a - p.b) : p.a + p.b;
    const candidates = [r + 1, r - 1, r + 2, other].filter((x) => x >= 0 && x !== r);
    return String(rng.pick(candidates));
  },
};
