// Pre-tokenization: the text is cut into pieces (words with their leading
// space, runs of digits, punctuation, whitespace) before BPE merges run
// inside each piece, so no token ever spans two words. The patterns are the
// published ones of GPT-2 and of Llama-3 (also GPT-4's cl100k), written in
// JavaScript's regex dialect: JS has no inline `(?i:...)` groups in Node 20,
// so case-insensitive contractions are spelled out, and `u` gives \p{L}/\p{N}.

/** A piece of text: [start, end) in UTF-16 code units of the string it came from. */
export interface Piece {
  text: string;
  start: number;
}

export const GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
export const LLAMA3_PATTERN =
  String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/**
 * Unicode's White_Space property, which is what `\s` means in the Rust regex
 * engine of Hugging Face's tokenizers. JavaScript's `\s` differs in two
 * places that real text contains: it matches U+FEFF (a byte-order mark, not
 * white space) and misses U+0085 (next line), so `\s` is spelled out.
 */
const WHITE_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/**
 * Rewrites a regex from tokenizer.json (Rust/Oniguruma dialect) into one
 * JavaScript compiles with the `u` flag: `(?i:...)` groups become groups whose
 * letters match either case, and `\s` / `\S` mean Unicode White_Space.
 * Anything else JS cannot compile is an error that quotes the pattern.
 */
export function compileTokenizerRegex(pattern: string): RegExp {
  let source = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    if (pattern.startsWith('(?i:', i)) {
      let depth = 1;
      let j = i + 4;
      let inner = '';
      for (; j < pattern.length && depth > 0; j++) {
        const c = pattern[j];
        if (c === '\\') {
          inner += c + pattern[j + 1];
          j++;
          continue;
        }
        if (c === '(') depth++;
        if (c === ')') depth--;
        if (depth > 0) inner += c;
      }
      source += '(?:' + caseless(inner) + ')';
      i = j - 1;
      continue;
    }
    if (pattern[i] === '[') inClass = true;
    else if (pattern[i] === ']') inClass = false;
    if (pattern[i] === '\\') {
      const escaped = pattern[i + 1];
      if (escaped === 's') source += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
      else if (escaped === 'S') {
        if (inClass) throw new Error(`tokenizer: \\S inside a character class is not supported in ${JSON.stringify(pattern)}`);
        source += `[^${WHITE_SPACE}]`;
      } else source += pattern[i] + escaped;
      i++;
      continue;
    }
    source += pattern[i];
  }
  try {
    return new RegExp(source, 'gu');
  } catch (err) {
    throw new Error(`tokenizer: cannot compile the pre-tokenizer pattern ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

/** Letters outside escapes and classes become [xX]; enough for the contraction groups real tokenizers use. */
function caseless(inner: string): string {
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '\\') {
      out += c + inner[i + 1];
      i++;
    } else if (c.toLowerCase() !== c.toUpperCase()) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
    } else {
      out += c;
    }
  }
  return out;
}

/** `s` as a regex matching itself literally. */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** How a Split pre-tokenizer treats its matches (tokenizers' SplitDelimiterBehavior). */
export type SplitBehavior = 'Isolated' | 'Removed' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';

/** Cuts `piece` by `regex`: matches and the text between them become pieces as `behavior` says. */
export function splitPiece(piece: Piece, regex: RegExp, behavior: SplitBehavior, invert = false): Piece[] {
  const parts: { text: string; start: number; match: boolean }[] = [];
  let last = 0;
  regex.lastIndex = 0;
  for (const m of piece.text.matchAll(regex)) {
    if (m[0].length === 0) continue;
    const at = m.index!;
    if (at > last) parts.push({ text: piece.text.slice(last, at), start: last, match: invert });
    parts.push({ text: m[0], start: at, match: !invert });
    last = at + m[0].length;
  }
  if (last < piece.text.length) parts.push({ text: piece.text.slice(last), start: last, match: invert });

  const out: Piece[] = [];
  const push = (text: string, start: number) => out.push({ text, start: piece.start + start });
  switch (behavior) {
    case 'Isolated':
      for (const p of parts) push(p.text, p.start);
      break;
    case 'Removed':
      for (const p of parts) if (!p.match) push(p.text, p.start);
      break;
    case 'MergedWithPrevious': {
      for (const p of parts) {
        const prev = out[out.length - 1];
        if (p.match && prev) prev.text += p.text;
        else push(p.text, p.start);
      }
      break;
    }
    case 'MergedWithNext': {
      let pending: { text: string; start: number } | null = null;
      for (const p of parts) {
        if (p.match) {
          pending = pending ? { text: pending.text + p.text, start: pending.start } : { text: p.text, start: p.start };
        } else {
          if (pending) push(pending.text + p.text, pending.start);
          else push(p.text, p.start);
          pending = null;
        }
      }
      if (pending) push(pending.text, pending.start);
      break;
    }
    case 'Contiguous': {
      let lastWasMatch = false;
      for (const p of parts) {
        const prev = out[out.length - 1];
        if (p.match && lastWasMatch && prev) prev.text += p.text;
        else push(p.text, p.start);
        lastWasMatch = p.match;
      }
      break;
    }
  }
  return out;
}

/** Digits pre-tokenizer: each digit alone (`individual`), or runs of digits, split from the rest. */
export function splitDigits(piece: Piece, individual: boolean): Piece[] {
  return splitPiece(piece, individual ? /\p{N}/gu : /\p{N}+/gu, 'Isolated');
}
