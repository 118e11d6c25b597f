// Byte-level BPE (GPT-2, Llama-3, SmolLM, Qwen2 and the tokenizers this
// project trains) works on UTF-8 bytes, but stores tokens as printable
// strings: each byte is written as one visible character so that a token
// such as " the" reads "Ġthe" in tokenizer.json. The table is fixed by that
// published format: printable Latin-1 bytes stand for themselves, and the
// other 68 bytes are mapped, in byte order, to U+0100 onwards.

function buildByteTable(): string[] {
  const table: string[] = new Array(256);
  let next = 0x100;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  return table;
}

/** BYTE_TO_CHAR[b] is the character that stands for byte b in a byte-level vocabulary. */
export const BYTE_TO_CHAR: readonly string[] = buildByteTable();

const CHAR_TO_BYTE = new Map<string, number>(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** The byte-level spelling of UTF-8 bytes. */
export function bytesToTokenString(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]];
  return s;
}

/** The bytes a byte-level token string stands for, or null if it holds a character outside the table. */
export function tokenStringToBytes(token: string): number[] | null {
  const out: number[] = [];
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b === undefined) return null;
    out.push(b);
  }
  return out;
}
