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
export { BUILTIN_TEMPLATES, builtinTemplate } from './chat_templates';
export type { BuiltinTemplateName } from './chat_templates';
export { alpacaTemplate, plainTemplate } from './chat_plain';
export type { PlainTemplateOptions } from './chat_plain';
export { jinjaTemplate, templateFromTokenizerConfig } from './chat_jinja';
export type { JinjaTemplateInfo, TokenizerConfigLike } from './chat_jinja';
export { TemplateError } from './chat_types';
export type { AssistantSpan, ChatMessage, ChatTemplate, RenderedChat, RenderOptions } from './chat_types';
export { checkConversation, checkGenerationPrompt, checkPrefixPreserving, checkSystemRole, checkTrainGenerateMatch } from './chat_checks';
export { assistantMask, buildSftExample, checkSftExample, checkTokenizerForTemplate, SftExampleError } from './assistant_mask';
export type { AssistantTurns, SftExample, SftExampleOptions } from './assistant_mask';
