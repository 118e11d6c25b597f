// Write given words in an asked format (a bulleted list, a numbered list, one
// line with commas) or a subject's facts as "key: value" lines. The checker
// wants the asked format; the judge also recognises the right content in
// another format (see judge.ts). Held out: word lists (seeded hash) and a share
// of the subjects described as key: value lines.
import { findAnimal, findPerson, type WorldFacts } from '../facts';
import { hashedPlan, listedPlan, mixedPlan, no, ok, type TaskFamily } from '../family';
import { cap, quote, tidy, tidyLoose, withArticle } from '../text';
import { WORDS } from '../words';
import { LOOKUP_SLOTS, stripArticle } from './lookup_text';

export interface FormattingParams {
  op: 'bullets' | 'numbered' | 'commas' | 'animal_kv' | 'person_kv';
  /** The words, or the values of the key: value lines in KEYS order. */
  items: string[];
  /** The animal or person described ('' for the word lists). */
  subject: string;
  [k: string]: string | string[];
}

export const KEYS = { animal_kv: ['sound', 'food', 'home'], person_kv: ['name', 'town', 'age'] } as const;
const isKv = (op: string): op is 'animal_kv' | 'person_kv' => op === 'animal_kv' || op === 'person_kv';

function kvParams(facts: WorldFacts, op: string, subject: string): FormattingParams | null {
  if (op === 'animal_kv') {
    const a = findAnimal(facts, subject);
    return a ? { op, items: [a.sound, a.food, a.home], subject } : null;
  }
  const p = findPerson(facts, subject);
  return p ? { op: 'person_kv', items: [p.name, p.town, String(p.age)], subject } : null;
}

function render(op: FormattingParams['op'], p: FormattingParams): string {
  switch (op) {
    case 'bullets': return p.items.map((x) => `- ${x}`).join('\n');
    case 'numbered': return p.items.map((x, i) => `${i + 1}. ${x}`).join('\n');
    case 'commas': return p.items.join(', ');
    default: return KEYS[op].map((k, i) => `${k}: ${p.items[i]}`).join('\n');
  }
}

const same = (a: string, b: string) => tidyLoose(a) === tidyLoose(b);
const sameList = (got: string[], want: string[]) => got.length === want.length && got.every((x, i) => same(x, want[i]));

/** The items of a list written one per line with markers, or on one line with commas or "and". */
function anyListItems(reply: string): string[] {
  const lines = tidy(reply).split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length > 1) return lines.map((l) => l.replace(/^(?:[-*\u2022]|\d+[.)])\s*/, '').replace(/[.,;]$/, ''));
  return (lines[0] ?? '').split(/\s*,\s*(?:and\s+)?|\s+and\s+/).filter(Boolean);
}

function checkKv(p: FormattingParams, lines: string[]): string | null {
  const keys: readonly string[] = KEYS[p.op as 'animal_kv'];
  const seen = new Map<string, string>();
  for (const line of lines) {
    const m = /^([A-Za-z]+)\s*:\s*(.+)$/.exec(line.trim());
    if (!m) return `line ${quote(line)} is not "key: value"`;
    seen.set(m[1].toLowerCase(), m[2]);
  }
  if (seen.size !== keys.length || lines.length !== keys.length) return `expected exactly the keys ${keys.join(', ')}`;
  for (const [i, k] of keys.entries()) {
    const v = seen.get(k);
    const want = p.items[i];
    if (v === undefined) return `missing key "${k}"`;
    if (!same(v, want) && !(k === 'home' && same(v, stripArticle(want)))) return `${k}: expected ${quote(want)}, got ${quote(v)}`;
  }
  return null;
}

export const formatting: TaskFamily<FormattingParams> = {
  name: 'formatting',
  description: 'Write 3 or 4 words as a bulleted list, a numbered list or a comma-separated line, or an animal or person of the world as key: value lines; reply in exactly that format.',
  heldOut: '20% of the (format, word list) combinations by a seeded hash, and 20% of the subjects for key: value lines (a test subject is never described that way in train).',
  templates: [
    { op: 'bullets', text: 'Write these words as a bulleted list: {items}.' },
    { op: 'bullets', text: 'Make a bulleted list of {items}.' },
    { op: 'numbered', text: 'Write these words as a numbered list: {items}.' },
    { op: 'numbered', text: 'Make a numbered list of {items}.' },
    { op: 'commas', text: 'Join these words with commas: {words}.' },
    { op: 'commas', text: 'Write {words} separated by commas.' },
    { op: 'animal_kv', text: 'Give the facts about {an} as key: value lines.' },
    { op: 'animal_kv', text: 'Describe {an} in key: value lines.' },
    { op: 'person_kv', text: 'Give the facts about {name} as key: value lines.' },
    { op: 'person_kv', text: 'Describe {name} in key: value lines.' },
  ],
  slotPatterns: { ...LOOKUP_SLOTS, items: '[a-z]+(?:, [a-z]+)+', words: '[a-z]+(?: [a-z]+)+' },
  plan(facts, rng) {
    const lists = hashedPlan((r): FormattingParams => ({
      op: r.pick(['bullets', 'numbered', 'commas'] as const), items: r.sample(WORDS, r.int(3, 4)), subject: '',
    }), formatting.key, 0.2, `${facts.seed}:formatting`);
    const subjects = [
      ...facts.animals.map((a) => kvParams(facts, 'animal_kv', a.name)!),
      ...facts.people.map((p) => kvParams(facts, 'person_kv', p.name)!),
    ];
    return mixedPlan(lists, listedPlan(subjects, formatting.key, 0.2, rng), 0.7);
  },
  key: (p) => (isKv(p.op) ? `kv:${p.subject}` : `${p.op}:${p.items.join(',')}`),
  slots(p): Record<string, string> {
    if (p.op === 'animal_kv') return { an: withArticle(p.subject) };
    if (p.op === 'person_kv') return { name: p.subject };
    return { items: p.items.join(', '), words: p.items.join(' ') };
  },
  fromSlots(op, s, facts) {
    if (op === 'animal_kv') return kvParams(facts, op, stripArticle(s.an));
    if (op === 'person_kv') return kvParams(facts, op, s.name);
    const items = (op === 'commas' ? s.words.split(' ') : s.items.split(', '));
    return { op: op as FormattingParams['op'], items, subject: '' };
  },
  reference: (p) => render(p.op, p),
  check(p, reply) {
    const lines = tidy(reply).split('\n');
    const want = render(p.op, p);
    const fail = no(`expected ${p.op} ${quote(want)}, got ${quote(reply)}`);
    switch (p.op) {
      case 'bullets': {
        const m = lines.map((l) => /^[-*\u2022] (.+)$/.exec(l.trim()));
        return m.every(Boolean) && sameList(m.map((x) => x![1]), p.items) ? ok : fail;
      }
      case 'numbered': {
        const m = lines.map((l, i) => new RegExp(`^${i + 1}[.)] (.+)$`).exec(l.trim()));
        return m.every(Boolean) && sameList(m.map((x) => x![1]), p.items) ? ok : fail;
      }
      case 'commas':
        return lines.length === 1 && sameList(lines[0].split(/\s*,\s*/), p.items) ? ok : fail;
      default: {
        const why = checkKv(p, lines);
        return why ? no(why) : ok;
      }
    }
  },
  wrong(p, facts, rng) {
    const items = p.items.slice();
    const i = rng.int(0, items.length - 1);
    if (p.op === 'animal_kv') {
      const key = KEYS.animal_kv[i];
      items[i] = rng.pick(facts.animals.map((a) => a[key]).filter((v) => v !== p.items[i]));
    } else if (p.op === 'person_kv') {
      const j = rng.int(1, 2); // keep the name, change the town or the age
      const pool = facts.people.map((q) => (j === 1 ? q.town : String(q.age))).filter((v) => v !== p.items[j]);
      items[j] = rng.pick(pool);
    } else {
      items[i] = rng.pick(WORDS.filter((w) => !p.items.includes(w)));
    }
    return render(p.op, { ...p, items });
  },
  otherFormat(p, rng) {
    if (p.op === 'animal_kv') {
      const [sound, food, home] = p.items;
      return `${cap(withArticle(p.subject))} ${sound}, eats ${food} and lives in ${home}.`;
    }
    if (p.op === 'person_kv') return `${p.items[0]} lives in ${p.items[1]} and is ${p.items[2]} years old.`;
    const others = (['bullets', 'numbered', 'commas'] as const).filter((o) => o !== p.op);
    return render(rng.pick(others), p);
  },
  sameContent(p, reply) {
    if (isKv(p.op)) {
      // Whole words only, so "34" is not found in "134".
      const words = ` ${tidyLoose(reply).replace(/[^a-z0-9' ]+/g, ' ').replace(/\s+/g, ' ')} `;
      const hasKeyLines = tidy(reply).split('\n').some((l) => /^\s*[A-Za-z]+\s*:/.test(l));
      return !hasKeyLines && p.items.every((v) => words.includes(` ${tidyLoose(v)} `));
    }
    return sameList(anyListItems(reply), p.items);
  },
};
