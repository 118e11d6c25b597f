// A small SFT folder for the preference notebooks' tests: a tiny decoder
// fine-tuned for a few dozen steps (or `steps`) on the world's demonstrations, so that its
// sampled replies sometimes differ in the oracle's eyes.
import * as path from 'node:path';
import { loadWorld } from '../../kernel-lib/data';
import { createDecoder, disposeDecoder, modelConfig, saveCheckpoint } from '../../kernel-lib/model';
import { builtinTemplate, saveTokenizer, trainBpe } from '../../kernel-lib/text';
import { sftBatches, sftExamples, sftObjective, train } from '../../kernel-lib/train';

const root = path.resolve(__dirname, '..', '..');

export async function smallSftFolder(dir: string, steps = 60): Promise<string> {
  const world = loadWorld(path.join(root, 'data', 'world'));
  const template = builtinTemplate('chatml');
  const tokenizer = trainBpe(world.corpus.slice(0, 60000), { vocabSize: 400, specialTokens: ['<|bos|>', '<|eos|>', '<|pad|>', '<|im_start|>', '<|im_end|>'] });
  const model = createDecoder(modelConfig({
    vocab_size: tokenizer.vocabSize, hidden_size: 48, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 160,
    bos_token_id: tokenizer.bos, eos_token_id: tokenizer.eos, pad_token_id: tokenizer.pad,
  }), 0);
  const examples = sftExamples(world.sftTrain, tokenizer, template, { batchSize: 16, assistantOnlyLoss: true }).filter((e) => e.ids.length <= 161);
  await train(model, { steps: steps, lr: 3e-3, warmupSteps: 3, progress: 'none' }, {
    objective: sftObjective, data: sftBatches(examples, { batchSize: 8, padId: tokenizer.pad, packing: true, maxLength: 160, seed: 0 }),
  });
  saveCheckpoint(dir, model);
  saveTokenizer(dir, tokenizer, { chatTemplate: template.jinja });
  disposeDecoder(model);
  return dir;
}
