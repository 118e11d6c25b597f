// Edit a short word: reverse it, write it in capitals, or name its first or
// last letter. Held out: whole words (a test word is never edited in train).
import type { WorldFacts } from '../facts';
import { listedPlan, no, ok, type TaskFamily } from '../family';
import type { Rng } from '../rng';
import { quote, saysOneOf } from '../text';
import { WORDS } from '../words';

export interface StringEditParams {
  op: 'reverse' | 'upper' | 'first' | 'last';
  word: string;
  [k: string]: string;
}

const OPS = ['reverse', 'upper', 'first', 'last'] as const;

function answer(p: StringEditParams): string {
  switch (p.op) {
    case 'reverse': return [...p.word].reverse().join('');
    case 'upper': return p.word.toUpperCase();
    case 'first': return p.word[0];
    case 'last': return p.word[p.word.length - 1];
  }
}

export const stringEdit: TaskFamily<StringEditParams> = {
  name: 'string_edit',
  description: 'Reverse a short word, write it in capitals, or give its first or last letter.',
  heldOut: '20% of the words, for every edit: a test word never appears in a train string edit.',
  templates: [
    { op: 'reverse', text: 'Reverse the word "{word}".' },
    { op: 'reverse', text: 'Spell "{word}" backwards.' },
    { op: 'reverse', text: 'Write the letters of "{word}" in reverse order.' },
    { op: 'upper', text: 'Write "{word}" in capital letters.' },
    { op: 'upper', text: 'Make "{word}" uppercase.' },
    { op: 'upper', text: 'Change "{word}" to upper case.' },
    { op: 'first', text: 'What is the first letter of "{word}"?' },
    { op: 'first', text: 'Which letter does "{word}" start with?' },
    { op: 'last', text: 'What is the last letter of "{word}"?' },
    { op: 'last', text: 'Which letter does "{word}" end with?' },
  ],
  slotPatterns: { word: '[a-z]+' },
  plan(_facts, rng) {
    const all = WORDS.flatMap((word) => OPS.map((op): StringEditParams => ({ op, word })));
    return listedPlan(all, stringEdit.key, 0.2, rng);
  },
  key: (p) => p.word,
  slots: (p) => ({ word: p.word }),
  fromSlots: (op, s) => ({ op: op as StringEditParams['op'], word: s.word }),
  reference: answer,
  check(p, reply) {
    const a = answer(p);
    // Capitals are the point of 'upper'; elsewhere case is harmless.
    return saysOneOf(reply, [a], p.op === 'upper') ? ok : no(`expected ${quote(a)}, got ${quote(reply)}`);
  },
  wrong(p: StringEditParams, _facts: WorldFacts, rng: Rng) {
    const a = answer(p);
    const w = p.word;
    const options: string[] = [];
    switch (p.op) {
      case 'reverse':
        options.push(w, a.slice(1) + a[0], a.slice(0, -1));
        break;
      case 'upper':
        options.push(w, w[0].toUpperCase() + w.slice(1), a.slice(0, -1));
        break;
      case 'first':
      case 'last':
        options.push(p.op === 'first' ? w[w.length - 1] : w[0], w[1]);
        break;
    }
    const same = (o: string) => (p.op === 'upper' ? o === a : o.toLowerCase() === a.toLowerCase());
    const wrongs = options.filter((o) => o.length > 0 && !same(o));
    if (wrongs.length) return rng.pick(wrongs);
    // Every candidate happened to equal the answer (a palindrome, a word like "pop"): shift the letters.
    return [...a].map((c) => String.fromCharCode(((c.toLowerCase().charCodeAt(0) - 97 + 1) % 26) + 97)).join('');
  },
};
