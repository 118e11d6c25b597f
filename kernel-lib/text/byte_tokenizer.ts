// The simplest tokenizer that covers every text: one id per UTF-8 byte
// (0-255) plus a few special ids after them. No training, no unknown tokens;
// sequences are longer than with BPE, which the text issue's tokenizer fixes.

export const BYTE_SPECIAL_TOKENS = ['<|bos|>', '<|eos|>', '<|pad|>'] as const;
export type ByteSpecialToken = (typeof BYTE_SPECIAL_TOKENS)[number];

export interface ByteTokenizer {
  /** 256 byte ids plus the special ids. */
  vocabSize: number;
  bos: number;
  eos: number;
  pad: number;
  encode(text: string, options?: { bos?: boolean; eos?: boolean }): number[];
  /** Text of the byte ids; special ids are written by name unless skipped. */
  decode(ids: ArrayLike<number>, options?: { skipSpecial?: boolean }): string;
  /** A decoder fed one id at a time that returns only complete characters (for streaming output). */
  streamDecoder(): (id: number) => string;
  tokenToString(id: number): string;
}

export function byteTokenizer(): ByteTokenizer {
  const specialId = (name: ByteSpecialToken) => 256 + BYTE_SPECIAL_TOKENS.indexOf(name);
  const bos = specialId('<|bos|>');
  const eos = specialId('<|eos|>');
  const pad = specialId('<|pad|>');
  const vocabSize = 256 + BYTE_SPECIAL_TOKENS.length;
  const check = (id: number) => {
    if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) throw new Error(`byteTokenizer: id ${id} is outside [0, ${vocabSize})`);
  };
  const encoder = new TextEncoder();
  return {
    vocabSize,
    bos,
    eos,
    pad,
    encode(text, options = {}) {
      const ids = Array.from(encoder.encode(text));
      if (options.bos) ids.unshift(bos);
      if (options.eos) ids.push(eos);
      return ids;
    },
    decode(ids, options = {}) {
      let out = '';
      let bytes: number[] = [];
      const flush = () => {
        out += new TextDecoder().decode(Uint8Array.from(bytes));
        bytes = [];
      };
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        check(id);
        if (id < 256) bytes.push(id);
        else {
          flush();
          if (!options.skipSpecial) out += BYTE_SPECIAL_TOKENS[id - 256];
        }
      }
      flush();
      return out;
    },
    streamDecoder() {
      const decoder = new TextDecoder();
      return (id: number) => {
        check(id);
        if (id >= 256) return decoder.decode() + BYTE_SPECIAL_TOKENS[id - 256];
        return decoder.decode(Uint8Array.of(id), { stream: true });
      };
    },
    tokenToString(id) {
      check(id);
      if (id >= 256) return BYTE_SPECIAL_TOKENS[id - 256];
      return id >= 32 && id < 127 ? String.fromCharCode(id) : `<0x${id.toString(16).padStart(2, '0').toUpperCase()}>`;
    },
  };
}
