// onPolicyPairs: a small SFT model's own sampled replies, ranked by the
// oracle. Every pair's chosen reply scores above its rejected one, every
// prompt is either paired or counted as tied, the same seed gives the same
// pairs, and bad options or tasks are named.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../kernel-lib/runtime';
import { disposeDecoder, loadCheckpoint, type Decoder } from '../../kernel-lib/model';
import { builtinTemplate, loadTokenizer, type BpeTokenizer } from '../../kernel-lib/text';
import { EvalError, onPolicyPairs, oracleScore, selectTasks } from '../../kernel-lib/eval';
import type { Conversation } from '../../kernel-lib/data';
import { smallSftFolder } from '../notebooks/small_sft';
import { testWorld } from './helpers';

describe('eval/onPolicyPairs', function () {
  this.timeout(300000);
  let dir: string;
  let model: Decoder;
  let tokenizer: BpeTokenizer;
  const template = builtinTemplate('chatml');
  let tasks: Conversation[];

  before(async () => {
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onpolicy-'));
    await smallSftFolder(dir);
    model = loadCheckpoint(dir).model;
    tokenizer = loadTokenizer(dir);
    tasks = selectTasks(testWorld(), { split: 'train', perFamily: 8 });
  });
  after(() => {
    disposeDecoder(model);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pairs the best-scored sample against the worst wherever the oracle tells them apart, reproducibly', async () => {
    const a = await onPolicyPairs(model, tokenizer, template, tasks, { samples: 4, seed: 7 });
    assert.ok(a.pairs.length > 0, `no prompt of ${tasks.length} got samples the oracle scored differently`);
    assert.equal(a.pairs.length + a.tied, tasks.length);
    assert.ok(a.tokens > 0 && a.seconds >= 0);
    const byId = new Map(tasks.map((t) => [`${t.id}-sampled`, t]));
    for (const p of a.pairs) {
      const task = byId.get(p.id!);
      assert.ok(task, `pair ${p.id} names a task`);
      assert.deepEqual(p.prompt, task.messages.slice(0, -1));
      assert.equal(p.category, task.category);
      const [chosen, rejected] = [p.chosen[0].content, p.rejected[0].content].map((text) => oracleScore(task, text).score);
      assert.ok(chosen > rejected, `${p.id}: chosen ${chosen} must score above rejected ${rejected}`);
    }
    // The first call warmed generation's caches; a second leaves the tensor count flat.
    const before = tf.memory().numTensors;
    const again = await onPolicyPairs(model, tokenizer, template, tasks, { samples: 4, seed: 7 });
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
    assert.deepEqual(again.pairs, a.pairs);
  });

  it('names a bad sample count, temperature or task', async () => {
    await assert.rejects(onPolicyPairs(model, tokenizer, template, tasks, { samples: 1 }), (e: Error) => e instanceof EvalError && /samples must be an integer >= 2/.test(e.message));
    await assert.rejects(onPolicyPairs(model, tokenizer, template, tasks, { samples: 2, temperature: 0 }), /temperature must be > 0/);
    const noReply = { ...tasks[0], id: 'no-reply', messages: tasks[0].messages.slice(0, -1) };
    await assert.rejects(onPolicyPairs(model, tokenizer, template, [noReply], { samples: 2 }), /task no-reply must end with the assistant reply/);
  });
});
