// The world's preference pairs, a small BPE tokenizer trained on the world's
// text with ChatML's markers, and a tiny decoder sized for them: shared by
// the reward tests.
import * as path from 'node:path';
import { loadWorld, type PreferencePair } from '../../kernel-lib/data';
import { modelConfig, type ModelConfig } from '../../kernel-lib/model';
import { builtinTemplate, trainBpe, type BpeTokenizer, type ChatTemplate } from '../../kernel-lib/text';

export interface RewardFixture {
  pairs: PreferencePair[];
  testPairs: PreferencePair[];
  tokenizer: BpeTokenizer;
  template: ChatTemplate;
  config: ModelConfig;
}

let cached: RewardFixture | null = null;

export function rewardFixture(): RewardFixture {
  if (cached) return cached;
  const world = loadWorld(path.join(__dirname, '..', '..', 'data', 'world'));
  const template = builtinTemplate('chatml');
  const text = [
    world.corpus.slice(0, 20_000),
    ...world.preferencesTrain.slice(0, 300).flatMap((p) => [...p.prompt, ...p.chosen, ...p.rejected].map((m) => m.content)),
  ];
  const tokenizer = trainBpe(text, { vocabSize: 420, specialTokens: ['<|bos|>', '<|eos|>', '<|pad|>', ...template.specialTokens], seed: 0 });
  const config = modelConfig({
    vocab_size: tokenizer.vocabSize,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 160,
    tie_word_embeddings: true,
  });
  cached = { pairs: world.preferencesTrain, testPairs: world.preferencesTest, tokenizer, template, config };
  return cached;
}
