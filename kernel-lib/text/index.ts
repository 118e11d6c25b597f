// How text becomes token ids: the byte tokenizer, byte-level BPE (trained
// here or loaded from a Hugging Face tokenizer.json), chat templates and the
// assistant masks that restrict the SFT loss to the replies.
export { BYTE_SPECIAL_TOKENS, byteTokenizer } from './byte_tokenizer';
export type { ByteSpecialToken, ByteTokenizer } from './byte_tokenizer';
export { BpeTokenizer } from './bpe_tokenizer';
export type { AddedToken, BatchEncodeOptions, BatchEncoding, BpeTokenizerSpec, EncodeOptions, Encoding } from './bpe_tokenizer';
export { DEFAULT_SPECIAL_TOKENS, trainBpe } from './bpe_train';
export type { TrainBpeOptions } from './bpe_train';
export { loadTokenizer, saveTokenizer, tokenizerConfigJson, tokenizerFromJson, tokenizerToJson } from './tokenizer_json';
export { GPT2_PATTERN, LLAMA3_PATTERN } from './pretokenize';
