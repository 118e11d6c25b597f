// generateReplies: the same tokens as greedy argmax over full forwards of the
// rendered prompt, stop detection at the template's end of turn and at EOS,
// replies in the order given, clear errors, and no tensors left behind.
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { argmax, createDecoder, disposeDecoder, forward, type Decoder } from '../../kernel-lib/model';
import { tinyConfig } from '../model/helpers';
import { builtinTemplate } from '../../kernel-lib/text';
import { EvalError, generateReplies, promptMessages, type GeneratedReply } from '../../kernel-lib/eval';
import { chainModel, chatml, testTokenizer, testWorld, tinyModel } from './helpers';

/** Greedy decoding the slow way: a full forward over everything so far for every new token. */
function greedyByFullForwards(model: Decoder, prompt: number[], stops: number[], maxNewTokens: number): number[] {
  const ids = [...prompt];
  const out: number[] = [];
  const V = model.config.vocab_size;
  for (let step = 0; step < maxNewTokens; step++) {
    const logits = tf.tidy(() => forward(model, tf.tensor2d([ids], undefined, 'int32')).logits.slice([0, ids.length - 1, 0], [1, 1, V]).dataSync());
    const next = argmax(logits);
    out.push(next);
    ids.push(next);
    if (stops.includes(next)) break;
  }
  return out;
}

describe('eval/replies', () => {
  let model: Decoder;
  const tokenizer = testTokenizer();
  const template = chatml();
  const eot = tokenizer.tokenToId('<|im_end|>')!;
  const eos = tokenizer.eosId!;
  before(async () => {
    await selectBackend('wasm');
    model = tinyModel(5);
  });
  after(() => disposeDecoder(model));

  it('gives greedy argmax of full forwards, prompt by prompt, whatever the batching', async () => {
    const tasks = [testWorld().sftTest[0], testWorld().sftTest[60], testWorld().sftTest.find((t) => t.messages[0].role === 'system')!];
    const maxNewTokens = 10;
    const batched = await generateReplies(model, tokenizer, template, tasks, { maxNewTokens, batchSize: 2 });
    const single = await generateReplies(model, tokenizer, template, tasks, { maxNewTokens, batchSize: 1 });
    assert.deepEqual(batched, single);
    for (const [i, task] of tasks.entries()) {
      const text = template.render(promptMessages(task), { addGenerationPrompt: true }).text;
      assert.ok(text.endsWith('<|im_start|>assistant\n'), 'rendered with the generation prompt');
      const prompt = tokenizer.encode(text, { addSpecialTokens: false });
      assert.deepEqual(batched[i].promptIds, prompt);
      const want = greedyByFullForwards(model, prompt, [eot, eos], maxNewTokens);
      assert.deepEqual(batched[i].tokens, want, `reply ${i}`);
      assert.equal(batched[i].tokenCount, want.length);
      const stopped = want[want.length - 1] === eot || want[want.length - 1] === eos;
      assert.equal(batched[i].finish === 'length', !stopped);
      assert.equal(batched[i].text, tokenizer.decode(stopped ? want.slice(0, -1) : want));
    }
  });

  it('stops at the end-of-turn token and at EOS, and says which; the budget otherwise', async () => {
    const [o, k] = [79, 75]; // the byte ids of 'O' and 'K' (trainBpe keeps id = byte value)
    const tasks = testWorld().sftTest.slice(0, 3);
    const cases: [number[], Partial<GeneratedReply>][] = [
      [[o, k, eot], { text: 'OK', tokens: [o, k, eot], tokenCount: 3, budget: 5, finish: 'end_of_turn', stoppedAtEndOfTurn: true }],
      [[o, k, eos], { text: 'OK', tokens: [o, k, eos], tokenCount: 3, budget: 5, finish: 'eos', stoppedAtEndOfTurn: false }],
      [[eot], { text: '', tokens: [eot], tokenCount: 1, budget: 5, finish: 'end_of_turn', stoppedAtEndOfTurn: true }],
      [[o, k], { text: 'OKKKK', tokens: [o, k, k, k, k], tokenCount: 5, budget: 5, finish: 'length', stoppedAtEndOfTurn: false }],
    ];
    for (const [chain, want] of cases) {
      const m = chainModel(chain);
      const replies = await generateReplies(m, tokenizer, template, tasks, { maxNewTokens: 5, batchSize: 2 });
      disposeDecoder(m);
      for (const r of replies) {
        const { promptIds: _, ...got } = r;
        assert.deepEqual(got, want, `chain ${chain}`);
      }
    }
  });

  it('fitContext: a long prompt gets the room that is left, and the same tokens as greedy decoding with that budget', async () => {
    const short = createDecoder(tinyConfig({ vocab_size: tokenizer.vocabSize, max_position_embeddings: 64 }), 9);
    const tasks = testWorld().sftTest.filter((t) => t.messages.length === 2).slice(0, 40);
    const lengths = tasks.map((t) => tokenizer.encode(template.render(promptMessages(t), { addGenerationPrompt: true }).text).length);
    const picked = [0, lengths.indexOf(Math.max(...lengths)), lengths.indexOf(Math.min(...lengths))].map((i) => tasks[i]);
    await assert.rejects(
      generateReplies(short, tokenizer, template, picked, { maxNewTokens: 30 }),
      (e: Error) => e instanceof EvalError && /max_position_embeddings \(64\); pass fitContext: true/.test(e.message),
    );
    const replies = await generateReplies(short, tokenizer, template, picked, { maxNewTokens: 30, fitContext: true, batchSize: 3 });
    for (const r of replies) {
      assert.equal(r.budget, Math.min(30, 64 - r.promptIds.length));
      assert.deepEqual(r.tokens, greedyByFullForwards(short, r.promptIds, [eot, eos], r.budget));
    }
    assert.ok(replies.some((r) => r.budget < 30), 'a prompt too long for the whole budget');
    disposeDecoder(short);
  });

  it('keeps the order given although it batches prompts by length', async () => {
    const tasks = testWorld().sftTest.slice(0, 6);
    const replies = await generateReplies(model, tokenizer, template, tasks, { maxNewTokens: 3, batchSize: 4 });
    for (const [i, task] of tasks.entries()) {
      const alone = await generateReplies(model, tokenizer, template, [task], { maxNewTokens: 3 });
      assert.deepEqual(replies[i], alone[0]);
    }
  });

  it('prompts: a conversation loses its final reply, a preference pair gives its prompt, plain messages stay', () => {
    const conv = testWorld().sftTest[0];
    assert.deepEqual(promptMessages(conv), conv.messages.slice(0, -1));
    const pair = testWorld().preferencesTest[0];
    assert.deepEqual(promptMessages(pair), pair.prompt);
    const msgs = [{ role: 'user', content: 'hi' }];
    assert.deepEqual(promptMessages(msgs), msgs);
    assert.throws(() => promptMessages([{ role: 'assistant', content: 'x' }]), (e: Error) => e instanceof EvalError && /no user message/.test(e.message));
  });

  it('names the problem: a template whose end of turn the tokenizer lacks, a prompt too long, a tokenizer too large', async () => {
    const tasks = testWorld().sftTest.slice(0, 2);
    await assert.rejects(
      generateReplies(model, tokenizer, builtinTemplate('llama3'), tasks),
      (e: Error) => e instanceof EvalError && e.message.includes('"<|eot_id|>"') && e.message.includes('llama3'),
    );
    await assert.rejects(
      generateReplies(model, tokenizer, template, tasks, { maxNewTokens: 180 }),
      (e: Error) => e instanceof EvalError && e.message.includes('prompt 0 (arithmetic-test-0000)') && e.message.includes('max_position_embeddings (192)'),
    );
    const small = tinyModel(1);
    const narrow = { ...small, config: { ...small.config, vocab_size: 300 } };
    await assert.rejects(generateReplies(narrow, tokenizer, template, tasks), (e: Error) => e instanceof EvalError && /320 ids but the model's vocab_size is 300/.test(e.message));
    disposeDecoder(small);
  });

  it('leaves no tensors behind', async () => {
    const tasks = testWorld().sftTest.slice(0, 5);
    await generateReplies(model, tokenizer, template, tasks, { maxNewTokens: 4, batchSize: 2 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      await generateReplies(model, tokenizer, template, tasks, { maxNewTokens: 4, batchSize: 2 });
      assert.equal(tf.memory().numTensors, before);
    }
  });
});
