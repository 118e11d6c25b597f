// Built-in chat templates: each family's text, written out by hand from its
// published format; the assistant spans; the errors; and the checks.
import * as assert from 'node:assert/strict';
import { BUILTIN_TEMPLATES, builtinTemplate, type BuiltinTemplateName } from '../../kernel-lib/text/chat_templates';
import { alpacaTemplate, plainTemplate } from '../../kernel-lib/text/chat_plain';
import { checkConversation, checkGenerationPrompt, checkPrefixPreserving, checkSystemRole, checkTrainGenerateMatch } from '../../kernel-lib/text/chat_checks';
import { TemplateError, type ChatMessage, type RenderedChat } from '../../kernel-lib/text/chat_types';

const SYSTEM_CHAT: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello.' },
];
const TWO_ROUNDS: ChatMessage[] = [
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello.' },
  { role: 'user', content: 'Again' },
  { role: 'assistant', content: 'Sure.' },
];
/** Rendered with addGenerationPrompt. */
const OPEN_QUESTION: ChatMessage[] = TWO_ROUNDS.slice(0, 3);

interface Expected {
  /** SYSTEM_CHAT */
  system: string;
  /** TWO_ROUNDS */
  rounds: string;
  /** OPEN_QUESTION with the generation prompt */
  generation: string;
  /** TWO_ROUNDS with continueFinalMessage */
  continued: string;
  /** What each assistant span covers: the reply as rendered plus its end-of-turn marker. */
  replyHello: string;
  replySure: string;
  /** The last reply left open by continueFinalMessage. */
  replySureOpen: string;
}

const ALPACA = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.';

const EXPECTED: Record<BuiltinTemplateName, Expected> = {
  chatml: {
    system: '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n',
    rounds: '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\nSure.<|im_end|>\n',
    generation: '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\n',
    continued: '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\nSure.',
    replyHello: 'Hello.<|im_end|>',
    replySure: 'Sure.<|im_end|>',
    replySureOpen: 'Sure.',
  },
  llama3: {
    system: '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>'
      + '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>',
    rounds: '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>'
      + '<|start_header_id|>user<|end_header_id|>\n\nAgain<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nSure.<|eot_id|>',
    generation: '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>'
      + '<|start_header_id|>user<|end_header_id|>\n\nAgain<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    continued: '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>'
      + '<|start_header_id|>user<|end_header_id|>\n\nAgain<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nSure.',
    replyHello: 'Hello.<|eot_id|>',
    replySure: 'Sure.<|eot_id|>',
    replySureOpen: 'Sure.',
  },
  llama2: {
    system: '<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] Hello. </s>',
    rounds: '<s>[INST] Hi [/INST] Hello. </s><s>[INST] Again [/INST] Sure. </s>',
    generation: '<s>[INST] Hi [/INST] Hello. </s><s>[INST] Again [/INST]',
    continued: '<s>[INST] Hi [/INST] Hello. </s><s>[INST] Again [/INST] Sure.',
    replyHello: ' Hello. </s>',
    replySure: ' Sure. </s>',
    replySureOpen: ' Sure.',
  },
  mistral: {
    system: '<s> [INST] You are terse.\n\nHi [/INST] Hello.</s>',
    rounds: '<s> [INST] Hi [/INST] Hello.</s> [INST] Again [/INST] Sure.</s>',
    generation: '<s> [INST] Hi [/INST] Hello.</s> [INST] Again [/INST]',
    continued: '<s> [INST] Hi [/INST] Hello.</s> [INST] Again [/INST] Sure.',
    replyHello: ' Hello.</s>',
    replySure: ' Sure.</s>',
    replySureOpen: ' Sure.',
  },
  zephyr: {
    system: '<|system|>\nYou are terse.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n',
    rounds: '<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n<|user|>\nAgain</s>\n<|assistant|>\nSure.</s>\n',
    generation: '<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n<|user|>\nAgain</s>\n<|assistant|>\n',
    continued: '<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n<|user|>\nAgain</s>\n<|assistant|>\nSure.',
    replyHello: 'Hello.</s>',
    replySure: 'Sure.</s>',
    replySureOpen: 'Sure.',
  },
  gemma: {
    system: '<bos><start_of_turn>user\nYou are terse.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n',
    rounds: '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\nAgain<end_of_turn>\n<start_of_turn>model\nSure.<end_of_turn>\n',
    generation: '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\nAgain<end_of_turn>\n<start_of_turn>model\n',
    continued: '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\nAgain<end_of_turn>\n<start_of_turn>model\nSure.',
    replyHello: 'Hello.<end_of_turn>',
    replySure: 'Sure.<end_of_turn>',
    replySureOpen: 'Sure.',
  },
  phi3: {
    system: '<|system|>\nYou are terse.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n<|endoftext|>',
    rounds: '<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\nAgain<|end|>\n<|assistant|>\nSure.<|end|>\n<|endoftext|>',
    generation: '<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\nAgain<|end|>\n<|assistant|>\n',
    continued: '<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\nAgain<|end|>\n<|assistant|>\nSure.',
    replyHello: 'Hello.<|end|>',
    replySure: 'Sure.<|end|>',
    replySureOpen: 'Sure.',
  },
  alpaca: {
    system: 'You are terse.\n\n### Instruction:\nHi\n\n### Response:\nHello.</s>',
    rounds: `${ALPACA}\n\n### Instruction:\nHi\n\n### Response:\nHello.</s>\n\n### Instruction:\nAgain\n\n### Response:\nSure.</s>`,
    generation: `${ALPACA}\n\n### Instruction:\nHi\n\n### Response:\nHello.</s>\n\n### Instruction:\nAgain\n\n### Response:\n`,
    continued: `${ALPACA}\n\n### Instruction:\nHi\n\n### Response:\nHello.</s>\n\n### Instruction:\nAgain\n\n### Response:\nSure.`,
    replyHello: 'Hello.</s>',
    replySure: 'Sure.</s>',
    replySureOpen: 'Sure.',
  },
  plain: {
    system: 'System: You are terse.\nUser: Hi\nAssistant: Hello.<|eos|>\n',
    rounds: 'User: Hi\nAssistant: Hello.<|eos|>\nUser: Again\nAssistant: Sure.<|eos|>\n',
    // The prompt ends at the colon and the reply owns its leading space (one BPE token with the word).
    generation: 'User: Hi\nAssistant: Hello.<|eos|>\nUser: Again\nAssistant:',
    continued: 'User: Hi\nAssistant: Hello.<|eos|>\nUser: Again\nAssistant: Sure.',
    replyHello: ' Hello.<|eos|>',
    replySure: ' Sure.<|eos|>',
    replySureOpen: ' Sure.',
  },
};

/** What each span covers, with its message index and whether it is open. */
function spanTexts(rendered: RenderedChat): [string, number, boolean][] {
  return rendered.assistantSpans.map((s) => [rendered.text.slice(s.start, s.end), s.messageIndex, s.open]);
}

const throwsTemplateError = (f: () => unknown, message: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof TemplateError && message.test(e.message), `expected a TemplateError matching ${message}`);

describe('text/chat_templates', () => {
  it('lists every family', () => {
    assert.deepEqual([...BUILTIN_TEMPLATES].sort(), Object.keys(EXPECTED).sort());
    throwsTemplateError(() => builtinTemplate('vicuna' as BuiltinTemplateName), /unknown template 'vicuna'; expected one of chatml, llama3/);
  });

  describe('renders each family as published, with exact reply spans', () => {
    for (const name of BUILTIN_TEMPLATES) {
      it(name, () => {
        const t = builtinTemplate(name);
        const want = EXPECTED[name];

        const system = t.render(SYSTEM_CHAT);
        assert.equal(system.text, want.system);
        assert.deepEqual(spanTexts(system), [[want.replyHello, 2, false]]);

        const rounds = t.render(TWO_ROUNDS);
        assert.equal(rounds.text, want.rounds);
        assert.deepEqual(spanTexts(rounds), [[want.replyHello, 1, false], [want.replySure, 3, false]]);
        assert.deepEqual(rounds.warnings, []);

        const generation = t.render(OPEN_QUESTION, { addGenerationPrompt: true });
        assert.equal(generation.text, want.generation);
        assert.ok(generation.text.endsWith(t.generationPrompt), 'generationPrompt is what addGenerationPrompt appends');
        assert.deepEqual(spanTexts(generation), [[want.replyHello, 1, false]]);

        const continued = t.render(TWO_ROUNDS, { continueFinalMessage: true });
        assert.equal(continued.text, want.continued);
        assert.deepEqual(spanTexts(continued), [[want.replyHello, 1, false], [want.replySureOpen, 3, true]]);
        assert.equal(continued.assistantSpans[1].end, continued.text.length, 'the open reply ends the text');

        assert.ok(want.replySure.endsWith(t.endOfTurn), 'a closed reply ends with the end-of-turn marker');
        assert.deepEqual(t.render(TWO_ROUNDS, { spans: false }).assistantSpans, []);
      });
    }
  });

  it('places spans while writing, so a reply that repeats earlier text is found where it is', () => {
    const echo: ChatMessage[] = [{ role: 'user', content: 'Echo' }, { role: 'assistant', content: 'Echo' }];
    for (const name of BUILTIN_TEMPLATES) {
      const t = builtinTemplate(name);
      const rendered = t.render(echo);
      const [span] = rendered.assistantSpans;
      assert.equal(rendered.text.slice(span.start, span.end), EXPECTED[name].replyHello.replace('Hello.', 'Echo'), name);
      assert.equal(rendered.text.slice(0, span.start), t.render(echo.slice(0, 1), { addGenerationPrompt: true }).text, name);
    }
  });

  it('strips content where the family does, and a continued reply keeps trailing space only when verbatim', () => {
    const padded: ChatMessage[] = [{ role: 'user', content: ' Hi \n' }, { role: 'assistant', content: ' Sure. ' }];
    const llama3 = builtinTemplate('llama3').render(padded);
    assert.equal(llama3.text, '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nSure.<|eot_id|>');
    const chatml = builtinTemplate('chatml');
    assert.deepEqual(spanTexts(chatml.render(padded)), [[' Sure. <|im_end|>', 1, false]]);
    // transformers cuts after the stripped content, keeping the trailing space
    // only when the content was written verbatim from its first non-space.
    const trailing: ChatMessage[] = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Sure. ' }];
    assert.equal(chatml.render(trailing, { continueFinalMessage: true }).text, '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nSure. ');
    assert.equal(chatml.render(padded, { continueFinalMessage: true }).text, '<|im_start|>user\n Hi \n<|im_end|>\n<|im_start|>assistant\n Sure.');
    assert.deepEqual(spanTexts(builtinTemplate('gemma').render(trailing, { continueFinalMessage: true })), [['Sure.', 1, true]]);
  });

  it('takes other markers and labels for the plain-text formats', () => {
    const plain = plainTemplate({ user: 'Q', assistant: 'A', eosToken: '<|end|>', bosToken: '<|bos|>' });
    const rendered = plain.render(TWO_ROUNDS.slice(0, 2));
    assert.equal(rendered.text, '<|bos|>Q: Hi\nA: Hello.<|end|>\n');
    assert.deepEqual(spanTexts(rendered), [[' Hello.<|end|>', 1, false]]);
    assert.deepEqual(plain.specialTokens, ['<|bos|>', '<|end|>']);
    assert.equal(plain.generationPrompt, 'A:');
    const alpaca = alpacaTemplate({ eosToken: '<|eos|>' }).render(SYSTEM_CHAT);
    assert.equal(alpaca.text, 'You are terse.\n\n### Instruction:\nHi\n\n### Response:\nHello.<|eos|>');
  });

  describe('system messages in families without a system role', () => {
    for (const name of ['gemma', 'mistral'] as const) {
      it(`${name}: merged with a warning, or refused with system: 'error'`, () => {
        const t = builtinTemplate(name);
        assert.equal(t.supportsSystem, false);
        assert.deepEqual(t.render(SYSTEM_CHAT).warnings, [`${name} has no system role: message 0 is a system message; it was merged into the first user turn (message 1)`]);
        throwsTemplateError(() => t.render(SYSTEM_CHAT, { system: 'error' }), new RegExp(`^${name} has no system role: message 0 is a system message \\(options.system is 'error'`));
        assert.equal(checkSystemRole(t, SYSTEM_CHAT).length, 1);
        assert.match(checkSystemRole(t, SYSTEM_CHAT)[0], /has no system role: message 0/);
        throwsTemplateError(() => t.render(SYSTEM_CHAT.slice(0, 1), { addGenerationPrompt: true }), /message 0 is a system message with no user turn after it/);
      });
    }
    it('families with a system role neither warn nor report', () => {
      for (const name of ['chatml', 'llama3', 'llama2', 'zephyr', 'phi3', 'alpaca', 'plain'] as const) {
        const t = builtinTemplate(name);
        assert.deepEqual(t.render(SYSTEM_CHAT, { system: 'error' }).warnings, [], name);
        assert.deepEqual(checkSystemRole(t, SYSTEM_CHAT), [], name);
      }
    });
  });

  describe('refuses what transformers or the family refuses, naming the message', () => {
    it('addGenerationPrompt with continueFinalMessage', () => {
      for (const name of BUILTIN_TEMPLATES) {
        throwsTemplateError(() => builtinTemplate(name).render(TWO_ROUNDS, { addGenerationPrompt: true, continueFinalMessage: true }), /addGenerationPrompt and continueFinalMessage cannot both be set/);
      }
    });
    it('continueFinalMessage without a final assistant message', () => {
      throwsTemplateError(() => builtinTemplate('chatml').render(OPEN_QUESTION, { continueFinalMessage: true }), /^chatml: continueFinalMessage: the last message \(2\) has role 'user'; expected 'assistant'/);
      throwsTemplateError(() => builtinTemplate('chatml').render([], { continueFinalMessage: true }), /got no messages/);
    });
    it('unknown roles, late system messages, bad content', () => {
      for (const name of BUILTIN_TEMPLATES) {
        const t = builtinTemplate(name);
        throwsTemplateError(() => t.render([TWO_ROUNDS[0], { role: 'tool', content: '42' }]), new RegExp(`^${name}: message 1 has role 'tool'; expected 'system', 'user' or 'assistant'`));
        throwsTemplateError(() => t.render([...TWO_ROUNDS.slice(0, 2), { role: 'system', content: 'Late.' }]), new RegExp(`^${name}: message 2 is a system message; only the first message may be one`));
        throwsTemplateError(() => t.render([{ role: 'user', content: 7 as unknown as string }]), /message 0 \(user\): content must be a string, got number/);
      }
    });
    it('turns that do not alternate, where the family needs them to', () => {
      const twoUsers: ChatMessage[] = [{ role: 'user', content: 'Hi' }, { role: 'user', content: 'Hello?' }];
      for (const name of ['llama2', 'mistral', 'gemma', 'alpaca'] as const) {
        throwsTemplateError(() => builtinTemplate(name).render(twoUsers), new RegExp(`^${name}: message 1 has role 'user' where 'assistant' was expected`));
        throwsTemplateError(() => builtinTemplate(name).render([SYSTEM_CHAT[0], SYSTEM_CHAT[2]]), /message 1 has role 'assistant' where 'user' was expected/);
      }
      for (const name of ['chatml', 'llama3', 'zephyr', 'phi3', 'plain'] as const) {
        assert.equal(builtinTemplate(name).render(twoUsers).assistantSpans.length, 0, name);
      }
    });
  });

  describe('checks', () => {
    it('every family generates from the text it trains on', () => {
      for (const name of BUILTIN_TEMPLATES) {
        const t = builtinTemplate(name);
        assert.deepEqual(checkTrainGenerateMatch(t, TWO_ROUNDS), [], name);
        assert.deepEqual(checkTrainGenerateMatch(t, SYSTEM_CHAT), [], name);
        assert.deepEqual(checkGenerationPrompt(t, t.render(OPEN_QUESTION, { addGenerationPrompt: true }).text), [], name);
      }
    });

    it('every family but phi3 is prefix-preserving; phi3 closes a finished conversation with <|endoftext|>', () => {
      for (const name of BUILTIN_TEMPLATES) {
        const problems = checkPrefixPreserving(builtinTemplate(name), TWO_ROUNDS);
        if (name !== 'phi3') {
          assert.deepEqual(problems, [], name);
          assert.deepEqual(checkConversation(builtinTemplate(name), TWO_ROUNDS), [], name);
        } else {
          assert.equal(problems.length, 1);
          assert.match(problems[0], /^phi3: message 2: the conversation before it \(messages 0\.\.1\) is not a prefix/);
          assert.match(problems[0], /<\|endoftext\|>/);
          assert.deepEqual(checkConversation(builtinTemplate(name), TWO_ROUNDS), [], 'training is unaffected: each reply follows its own generation prompt');
        }
      }
    });

    it('catches a prompt rendered without the generation prompt', () => {
      const chatml = builtinTemplate('chatml');
      const problems = checkGenerationPrompt(chatml, chatml.render(OPEN_QUESTION).text);
      assert.equal(problems.length, 1);
      assert.match(problems[0], /must end with the generation prompt "<\|im_start\|>assistant\\n" \(render it with addGenerationPrompt: true\)/);
      // The [INST] families have no generation prompt; a prompt must not end a finished reply.
      const llama2 = builtinTemplate('llama2');
      assert.deepEqual(checkGenerationPrompt(llama2, llama2.render(OPEN_QUESTION, { addGenerationPrompt: true }).text), []);
      assert.match(checkGenerationPrompt(llama2, llama2.render(TWO_ROUNDS).text)[0], /the end of a finished reply \("<\/s>"\)/);
    });
  });
});
