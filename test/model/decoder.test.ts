// The decoder's forward pass: KV-cache steps give the full forward's logits,
// padding does not change real tokens' logits, and generation agrees with
// argmax over full forwards.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import {
  createDecoder, disposeCache, disposeDecoder, flopsPerToken, forward, generate, modelConfig, parameterCount, type Decoder, type KVCache,
} from '../../kernel-lib/model';
import { assertClose, tinyConfig } from './helpers';

function logitsOf(model: Decoder, ids: number[][]): Float32Array {
  return tf.tidy(() => forward(model, tf.tensor2d(ids, undefined, 'int32')).logits).dataSync() as Float32Array;
}

describe('model/decoder', () => {
  let model: Decoder;
  before(async () => {
    await selectBackend('wasm');
    model = createDecoder(tinyConfig(), 3);
  });
  after(() => disposeDecoder(model));

  it('counts parameters the way the weights add up, and FLOPs per token', () => {
    const config = tinyConfig();
    let n = 0;
    for (const t of model.weights.values()) n += t.size;
    assert.equal(parameterCount(config), n);
    const tied = modelConfig({ vocab_size: 512, hidden_size: 128, num_hidden_layers: 4, num_attention_heads: 4 });
    assert.equal(parameterCount(tied), 512 * 128 + 4 * (4 * 128 * 128 + 3 * 128 * tied.intermediate_size + 2 * 128) + 128);
    assert.ok(flopsPerToken(tied, 128) > 2 * (parameterCount(tied) - 128 * 9));
  });

  it('causal masks of many sequence lengths are not all kept: live tensors stay bounded, logits unchanged', () => {
    const fresh = createDecoder(tinyConfig(), 3);
    const ids = (t: number) => [Array.from({ length: t }, (_, i) => (i * 7) % 60)];
    const first = Float32Array.from(logitsOf(fresh, ids(5)));
    const counts: number[] = [];
    for (let t = 1; t <= 24; t++) {
      const logits = tf.tidy(() => forward(fresh, tf.tensor2d(ids(t), undefined, 'int32')).logits);
      logits.dispose();
      counts.push(tf.memory().numTensors);
    }
    assert.ok(counts[23] - counts[7] <= 0, `live tensors grew with each new length: ${counts.join(' ')}`);
    assert.deepEqual(logitsOf(fresh, ids(5)), first, 'a mask rebuilt after eviction gives the same logits');
    disposeDecoder(fresh);
  });

  it('KV-cache steps give the same logits as one full forward (GQA, untied head)', () => {
    const ids = [[1, 5, 9, 13, 17, 21, 25, 29, 33, 37], [60, 2, 4, 8, 16, 32, 3, 6, 12, 24]];
    const full = logitsOf(model, ids);
    const parts: Float32Array[] = [];
    let cache: KVCache | undefined;
    const splits = [[0, 4], [4, 5], [5, 8], [8, 9], [9, 10]];
    for (const [a, b] of splits) {
      const prev = cache;
      const r = tf.tidy(() => {
        const out = forward(model, tf.tensor2d(ids.map((row) => row.slice(a, b)), undefined, 'int32'), { cache: prev, returnCache: true });
        return { logits: out.logits, cache: out.cache! };
      });
      disposeCache(prev);
      cache = r.cache;
      parts.push(r.logits.dataSync() as Float32Array);
      r.logits.dispose();
    }
    disposeCache(cache);
    // Reassemble [B, T, V] from per-chunk [B, t, V] pieces.
    const V = model.config.vocab_size;
    const cached = new Float32Array(full.length);
    splits.forEach(([a, b], i) => {
      for (let r = 0; r < 2; r++) cached.set(parts[i].subarray(r * (b - a) * V, (r + 1) * (b - a) * V), (r * 10 + a) * V);
    });
    assertClose(cached, full, 1e-5, 'cached vs full logits');
  });

  it('left padding with a key mask and shifted positions leaves real tokens unchanged', () => {
    const short = [7, 8, 9];
    const alone = logitsOf(model, [short]);
    const padded = tf.tidy(() =>
      forward(model, tf.tensor2d([[0, 0, ...short]], undefined, 'int32'), {
        positions: tf.tensor2d([[0, 0, 0, 1, 2]], undefined, 'int32'),
        keyMask: tf.tensor2d([[0, 0, 1, 1, 1]], undefined, 'int32'),
      }).logits,
    );
    const V = model.config.vocab_size;
    assertClose((padded.dataSync() as Float32Array).subarray(2 * V), alone, 1e-5, 'padded vs alone');
    padded.dispose();
  });

  it('greedy generation with the cache equals argmax over full forwards, and frees its tensors', async () => {
    const prompt = [3, 1, 4, 1, 5];
    const before = tf.memory().numTensors;
    const { tokens, finishReason } = await generate(model, [prompt], { maxNewTokens: 12 });
    assert.equal(tf.memory().numTensors, before, 'tensors left after generate');
    const seq = [...prompt];
    for (let i = 0; i < 12; i++) {
      const logits = logitsOf(model, [seq]);
      const V = model.config.vocab_size;
      const last = logits.subarray((seq.length - 1) * V, seq.length * V);
      seq.push(last.indexOf(Math.max(...last)));
    }
    assert.deepEqual(tokens[0], seq.slice(prompt.length));
    assert.deepEqual(finishReason, ['length']);
  });

  it('batched prompts of different lengths generate what each prompt generates alone', async () => {
    const prompts = [[2, 7], [11, 13, 17, 19, 23], [29]];
    const batched = await generate(model, prompts, { maxNewTokens: 8 });
    for (let i = 0; i < prompts.length; i++) {
      const alone = await generate(model, [prompts[i]], { maxNewTokens: 8 });
      assert.deepEqual(batched.tokens[i], alone.tokens[0], `prompt ${i}`);
    }
  });

  it('sampling is seeded; top-k 1 is greedy; stop tokens end a row; tokens stream to a callback', async () => {
    const prompt = [[5, 6, 7]];
    const a = await generate(model, prompt, { maxNewTokens: 10, temperature: 1.5, topP: 0.95, seed: 7 });
    const b = await generate(model, prompt, { maxNewTokens: 10, temperature: 1.5, topP: 0.95, seed: 7 });
    const c = await generate(model, prompt, { maxNewTokens: 10, temperature: 1.5, topP: 0.95, seed: 8 });
    assert.deepEqual(a.tokens, b.tokens);
    assert.notDeepEqual(a.tokens, c.tokens);
    const greedy = await generate(model, prompt, { maxNewTokens: 10 });
    const topk1 = await generate(model, prompt, { maxNewTokens: 10, temperature: 1, topK: 1, seed: 3 });
    assert.deepEqual(topk1.tokens, greedy.tokens);
    const stopAt = a.tokens[0][3];
    const streamed: number[] = [];
    const stopped = await generate(model, prompt, {
      maxNewTokens: 10, temperature: 1.5, topP: 0.95, seed: 7, stopTokens: [stopAt],
      onToken: ({ token }) => { streamed.push(token); },
    });
    const firstStop = a.tokens[0].indexOf(stopAt);
    assert.deepEqual(stopped.tokens[0], a.tokens[0].slice(0, firstStop + 1));
    assert.deepEqual(stopped.finishReason, ['stop']);
    assert.deepEqual(streamed, stopped.tokens[0]);
  });

  it('rejects prompts that do not fit or hold ids outside the vocabulary, by name', async () => {
    await assert.rejects(generate(model, [[1, 2, 99]], { maxNewTokens: 2 }), /prompt 0 token 2 is 99, outside the vocabulary \[0, 61\)/);
    await assert.rejects(generate(model, [[1, 2, 3]], { maxNewTokens: 46 }), /exceeds max_position_embeddings \(48\)/);
    await assert.rejects(generate(model, [[4], [5, 6, -1]], { maxNewTokens: 2 }), /prompt 1 token 2 is -1, outside the vocabulary \[0, 61\)/);
    // Shorter prompts are padded with padTokenId, which goes through the embedding too.
    await assert.rejects(generate(model, [[1], [2, 3]], { maxNewTokens: 2, padTokenId: 61 }), /generate: padTokenId 61 is outside the vocabulary \[0, 61\)/);
    await assert.rejects(generate(model, [[1]], { maxNewTokens: 2, stopTokens: [1.5] }), /generate: stopTokens\[0\] is 1\.5, not a token id/);
    assert.throws(() => modelConfig({ vocab_size: 10, hidden_size: 30, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 3 }), /multiple of num_key_value_heads/);
  });
});
