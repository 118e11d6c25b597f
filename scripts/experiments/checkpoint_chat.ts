// An experiment's starting checkpoint: model, tokenizer and the chat template
// it trained with. Notebook checkpoints carry their template in
// tokenizer_config.json; skill_pretraining.ts's do not and used ChatML.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint, type Decoder } from '../../kernel-lib/model';
import { builtinTemplate, loadTokenizer, templateFromTokenizerConfig, type BpeTokenizer, type ChatTemplate } from '../../kernel-lib/text';

export function loadChatCheckpoint(dir: string): { model: Decoder; tokenizer: BpeTokenizer; template: ChatTemplate } {
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  const template = config.chat_template ? templateFromTokenizerConfig(config, { name: dir }) : builtinTemplate('chatml');
  return { model: loadCheckpoint(dir).model, tokenizer: loadTokenizer(dir), template };
}
