// Small text helpers shared by the corpus, the tasks and the checkers: articles,
// plurals, number words, and the normalisation that decides which harmless
// variants of a reply still count (surrounding space, a trailing full stop,
// quotes, letter case where it does not matter).

export const article = (w: string): string => (/^[aeiou]/i.test(w) ? 'an' : 'a');
export const withArticle = (w: string): string => `${article(w)} ${w}`;
export const cap = (s: string): string => (s ? s[0].toUpperCase() + s.slice(1) : s);

const NUMBER_WORDS = [
  'zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten',
  'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen', 'twenty',
] as const;

/** The English word for 0..20, else the digits. */
export function numberWord(n: number): string {
  return Number.isInteger(n) && n >= 0 && n < NUMBER_WORDS.length ? NUMBER_WORDS[n] : String(n);
}

/**
 * A reply reduced to what a checker compares: outer space trimmed, runs of
 * spaces and tabs made one space (newlines kept), trailing full stops or
 * exclamation marks dropped, one pair of surrounding quotes or backticks
 * dropped.
 */
export function tidy(reply: string): string {
  let s = reply.replace(/\r\n?/g, '\n').replace(/[ \t]+/g, ' ').replace(/ ?\n ?/g, '\n').trim();
  s = s.replace(/[.!]+$/, '').trim();
  const q = /^(["'`])(.*)\1$/s.exec(s);
  if (q) s = q[2].trim();
  return s;
}

/** tidy(), then lower case and one line. */
export function tidyLoose(reply: string): string {
  return tidy(reply).replace(/\s+/g, ' ').toLowerCase();
}

/** Whether a reply says exactly one of the forms (case-insensitive unless asked), or "The answer is <form>". */
export function saysOneOf(reply: string, forms: readonly string[], caseSensitive = false): boolean {
  const r = caseSensitive ? tidy(reply).replace(/\s+/g, ' ') : tidyLoose(reply);
  const prefix = /^the answer is /i;
  const bare = prefix.test(r) ? tidy(r.replace(prefix, '')) : null;
  return forms.some((f) => {
    const t = caseSensitive ? tidy(f) : tidyLoose(f);
    return r === t || bare === t;
  });
}

/** A short quote of a reply for a checker's reason. */
export function quote(reply: string): string {
  const one = reply.replace(/\s+/g, ' ').trim();
  return JSON.stringify(one.length > 60 ? `${one.slice(0, 57)}...` : one);
}
