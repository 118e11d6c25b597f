// Tokenizers (and, later, chat templates and assistant masks).
export { BYTE_SPECIAL_TOKENS, byteTokenizer } from './byte_tokenizer';
export type { ByteSpecialToken, ByteTokenizer } from './byte_tokenizer';
