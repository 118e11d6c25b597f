// A real tokenizer (byte-level BPE trained on the world's corpus, with the
// ChatML markers as special tokens), the world's held-out tasks, and tiny
// decoders sized to the tokenizer, shared by the eval tests.
import * as tf from '@tensorflow/tfjs';
import { loadWorld, type LoadedWorld } from '../../kernel-lib/data';
import { createDecoder, decoderFromWeights, type Decoder } from '../../kernel-lib/model';
import { builtinTemplate, trainBpe, type BpeTokenizer, type ChatTemplate } from '../../kernel-lib/text';
import { tinyConfig } from '../model/helpers';

let world: LoadedWorld | undefined;
let tokenizer: BpeTokenizer | undefined;

export function testWorld(): LoadedWorld {
  return (world ??= loadWorld('data/world'));
}

/** 320 ids: bytes, merges, then <|bos|> <|eos|> <|pad|> <|im_start|> <|im_end|>. */
export function testTokenizer(): BpeTokenizer {
  return (tokenizer ??= trainBpe(testWorld().corpus.slice(0, 20000), {
    vocabSize: 320,
    specialTokens: ['<|bos|>', '<|eos|>', '<|pad|>', '<|im_start|>', '<|im_end|>'],
  }));
}

export const chatml = (): ChatTemplate => builtinTemplate('chatml');

/** A tiny decoder over the test tokenizer's ids, long enough for the world's prompts with a system message. */
export function tinyModel(seed: number): Decoder {
  return createDecoder(tinyConfig({ vocab_size: testTokenizer().vocabSize, max_position_embeddings: 192 }), seed);
}

/**
 * A decoder that answers every prompt with `chain` (then repeats its last
 * token): attention and MLP outputs are zeroed, so the last position's
 * hidden state is its own token's embedding; chain[i]'s embedding is unit
 * vector i+1 (every other token's is unit vector 0), and the output
 * projection maps unit vector 0 to chain[0] and unit vector i+1 to chain[i+1].
 * The prompt's last token must not be in the chain.
 */
export function chainModel(chain: number[]): Decoder {
  const config = tinyConfig({ vocab_size: testTokenizer().vocabSize, max_position_embeddings: 192 });
  const D = config.hidden_size;
  const V = config.vocab_size;
  const base = createDecoder(config, 0);
  const embed = new Float32Array(V * D);
  for (let v = 0; v < V; v++) embed[v * D] = 1;
  chain.forEach((token, i) => {
    embed[token * D] = 0;
    embed[token * D + i + 1] = 1;
  });
  const head = new Float32Array(D * V);
  head[chain[0]] = 1;
  chain.forEach((_, i) => (head[(i + 1) * V + chain[Math.min(i + 1, chain.length - 1)]] = 1));
  const weights = new Map<string, tf.Tensor>();
  for (const [name, t] of base.weights) {
    if (name === 'model.embed_tokens.weight') weights.set(name, tf.tensor2d(embed, [V, D]));
    else if (name === 'lm_head.weight') weights.set(name, tf.tensor2d(head, [D, V]));
    else if (name.endsWith('o_proj.weight') || name.endsWith('down_proj.weight')) weights.set(name, tf.zerosLike(t));
    else {
      weights.set(name, t);
      continue;
    }
    t.dispose();
  }
  base.rope.dispose();
  return decoderFromWeights(config, weights);
}
