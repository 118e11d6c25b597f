// Open models from Hugging Face folders: load and check them.
export { SUPPORTED_ARCHITECTURES, unsupportedArchitecture } from './architecture';
export { checkConsistency } from './consistency';
export type { Consistency } from './consistency';
export { describePretrained, loadPretrained } from './load';
export type { Pretrained, PretrainedInfo } from './load';
export { exportMerged } from './export';
export type { ExportMergedOptions } from './export';
export { chatReply } from './chat';
export type { ChatReply, ChatReplyOptions } from './chat';
