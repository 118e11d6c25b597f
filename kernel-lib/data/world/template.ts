// Prompt templates with {slot} placeholders, used both ways: filled to write a
// prompt, and matched (as a regular expression built from the same text) to
// read a prompt back into its parameters, which is how the judge recognises any
// prompt the world writes.

export interface Template {
  /** Which operation of the family the template asks for (e.g. 'add', 'reverse'). */
  op: string;
  text: string;
}

const SLOT = /\{([a-zA-Z]+)\}/g;

export function fill(text: string, slots: Record<string, string>): string {
  return text.replace(SLOT, (_, name: string) => {
    const v = slots[name];
    if (v === undefined) throw new Error(`world: template "${text}" needs slot "${name}"`);
    return v;
  });
}

const compiled = new Map<string, RegExp>();

/** The slots of `input` when it is `text` with its placeholders filled, else null; `patterns` gives each slot's regex source. */
export function match(text: string, input: string, patterns: Record<string, string>): Record<string, string> | null {
  const cacheKey = `${text}\u0000${JSON.stringify(patterns)}`;
  let re = compiled.get(cacheKey);
  if (!re) {
    let source = '';
    let last = 0;
    for (const m of text.matchAll(SLOT)) {
      source += escape(text.slice(last, m.index));
      const p = patterns[m[1]];
      if (p === undefined) throw new Error(`world: no pattern for slot "${m[1]}" of "${text}"`);
      source += `(?<${m[1]}>${p})`;
      last = m.index! + m[0].length;
    }
    source += escape(text.slice(last));
    re = new RegExp(`^${source}$`);
    compiled.set(cacheKey, re);
  }
  const m = re.exec(input.trim());
  return m ? { ...m.groups } : null;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
