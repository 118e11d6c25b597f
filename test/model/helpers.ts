// Small models and comparisons shared by the model and train tests.
import * as assert from 'node:assert/strict';
import { modelConfig, type ModelConfig } from '../../kernel-lib/model';

/** A model small enough to run many times in a test, with grouped-query attention and untied head. */
export function tinyConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return modelConfig({
    vocab_size: 61,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 48,
    tie_word_embeddings: false,
    ...overrides,
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  const d = maxAbsDiff(a, b);
  assert.ok(d <= tol, `${what}: max |difference| ${d} > ${tol}`);
}
