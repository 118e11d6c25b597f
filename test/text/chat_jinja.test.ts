// Jinja chat templates: the built-ins' Hugging Face sources render the same
// text and spans as the built-ins; {% generation %} blocks give the spans;
// template errors surface as TemplateErrors that say what went wrong.
import * as assert from 'node:assert/strict';
import { BUILTIN_TEMPLATES, builtinTemplate } from '../../kernel-lib/text/chat_templates';
import { jinjaTemplate, templateFromTokenizerConfig } from '../../kernel-lib/text/chat_jinja';
import { checkPrefixPreserving, checkTrainGenerateMatch } from '../../kernel-lib/text/chat_checks';
import { TemplateError, type ChatMessage, type ChatTemplate, type RenderOptions, type RenderedChat } from '../../kernel-lib/text/chat_types';

const CHATS: Record<string, ChatMessage[]> = {
  system: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello.' },
  ],
  rounds: [
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello.' },
    { role: 'user', content: 'Again' },
    { role: 'assistant', content: 'Sure.' },
  ],
  padded: [
    { role: 'system', content: ' Be brief. ' },
    { role: 'user', content: '\n2+2? ' },
    { role: 'assistant', content: ' 4 ' },
    { role: 'user', content: 'And 3+3?' },
    { role: 'assistant', content: 'Six.\n' },
  ],
};
const OPTIONS: RenderOptions[] = [{}, { addGenerationPrompt: true }, { continueFinalMessage: true }];

const spanTexts = (r: RenderedChat) => r.assistantSpans.map((s) => [r.text.slice(s.start, s.end), s.messageIndex, s.open]);

const throwsTemplateError = (f: () => unknown, message: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof TemplateError && message.test(e.message), `expected a TemplateError matching ${message}`);

const jinjaOf = (t: ChatTemplate) => jinjaTemplate(t.jinja!, { name: `${t.name}-jinja`, bosToken: t.bosToken, eosToken: t.eosToken, endOfTurn: t.endOfTurn, specialTokens: t.specialTokens });

// ChatML with transformers' assistant-mask blocks around each reply and its <|im_end|>.
const CHATML_BLOCKS = String.raw`{%- for message in messages %}
    {%- if message['role'] == 'assistant' %}
        {{- '<|im_start|>assistant\n' }}
        {%- generation %}
        {{- message['content'] + '<|im_end|>' }}
        {%- endgeneration %}
        {{- '\n' }}
    {%- else %}
        {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}`;

describe('text/chat_jinja', () => {
  describe('each built-in jinja source renders like the built-in, spans included', () => {
    for (const name of BUILTIN_TEMPLATES) {
      it(name, () => {
        const builtin = builtinTemplate(name);
        const jinja = jinjaOf(builtin);
        for (const [chatName, messages] of Object.entries(CHATS)) {
          for (const options of OPTIONS) {
            const want = builtin.render(messages, options);
            const got = jinja.render(messages, options);
            const what = `${chatName} ${JSON.stringify(options)}`;
            assert.equal(got.text, want.text, what);
            assert.deepEqual(got.assistantSpans, want.assistantSpans, what);
          }
        }
        assert.equal(jinja.generationPrompt, builtin.generationPrompt, 'generation prompt found by probing');
      });
    }
  });

  it('the built-in jinja sources refuse what the built-ins refuse', () => {
    const tool: ChatMessage[] = [{ role: 'user', content: 'Hi' }, { role: 'tool', content: '42' }];
    const lateSystem: ChatMessage[] = [{ role: 'user', content: 'Hi' }, { role: 'system', content: 'Late.' }];
    const twoUsers: ChatMessage[] = [{ role: 'user', content: 'Hi' }, { role: 'user', content: 'Hello?' }];
    for (const name of BUILTIN_TEMPLATES) {
      const jinja = jinjaOf(builtinTemplate(name));
      throwsTemplateError(() => jinja.render(tool), /raised an exception: message 1 has role tool; expected system, user or assistant/);
      throwsTemplateError(() => jinja.render(lateSystem), /raised an exception: message 1 is a system message; only the first message may be one/);
      if (['llama2', 'mistral', 'gemma', 'alpaca'].includes(name)) {
        throwsTemplateError(() => jinja.render(twoUsers), /raised an exception: message 1 has role user; user and assistant turns must alternate/);
        throwsTemplateError(() => jinja.render([{ role: 'system', content: 'S' }, { role: 'assistant', content: 'A' }]), /message 1 has role assistant; user and assistant turns must alternate/);
      }
    }
  });

  describe('{% generation %} blocks', () => {
    const blocks = jinjaTemplate(CHATML_BLOCKS, { name: 'chatml-blocks' });

    it('give spans equal to what the blocks output', () => {
      const chatml = builtinTemplate('chatml');
      for (const messages of [CHATS.system, CHATS.rounds, CHATS.padded]) {
        const got = blocks.render(messages);
        assert.equal(got.text, chatml.render(messages).text, 'the tags themselves output nothing');
        assert.deepEqual(got.assistantSpans, chatml.render(messages).assistantSpans);
      }
      assert.deepEqual(spanTexts(blocks.render(CHATS.rounds)), [['Hello.<|im_end|>', 1, false], ['Sure.<|im_end|>', 3, false]]);
      const continued = blocks.render(CHATS.rounds, { continueFinalMessage: true });
      assert.equal(continued.text, builtinTemplate('chatml').render(CHATS.rounds, { continueFinalMessage: true }).text);
      assert.deepEqual(spanTexts(continued), [['Hello.<|im_end|>', 1, false], ['Sure.', 3, true]]);
    });

    it('decide the spans even where prefix differences would differ', () => {
      // Only the reply's content is marked, not its end of turn; and blocks need no prefix preservation.
      const contentOnly = jinjaTemplate(CHATML_BLOCKS.replace(`{{- message['content'] + '<|im_end|>' }}\n        {%- endgeneration %}`, `{{- message['content'] }}\n        {%- endgeneration %}\n        {{- '<|im_end|>' }}`));
      assert.deepEqual(spanTexts(contentOnly.render(CHATS.rounds)), [['Hello.', 1, false], ['Sure.', 3, false]]);
      assert.deepEqual(checkTrainGenerateMatch(contentOnly, CHATS.rounds), []);
    });

    it('keep the whitespace handling of a block tag', () => {
      const spaced = jinjaTemplate("{% for m in messages %}{{ m['role'] }}:\n  {% generation %}\n{{ m['content'] }}.{% endgeneration %}\n|{% endfor %}");
      // lstrip_blocks drops the indentation before a tag, trim_blocks the newline after it.
      const rendered = spaced.render([{ role: 'assistant', content: 'A' }]);
      assert.equal(rendered.text, 'assistant:\nA.|');
      assert.deepEqual(spanTexts(rendered), [['A.', 0, false]]);
    });

    it('refuse sentinels in the messages and mismatched block counts', () => {
      throwsTemplateError(() => blocks.render([{ role: 'user', content: 'a\uE000b' }]), /contain U\+E000 or U\+E001/);
      throwsTemplateError(() => jinjaTemplate('\uE001{{ 1 }}'), /contains U\+E000 or U\+E001/);
      const everyMessage = jinjaTemplate("{% for m in messages %}{% generation %}{{ m['content'] }}{% endgeneration %}{% endfor %}");
      throwsTemplateError(() => everyMessage.render(CHATS.rounds.slice(0, 3)), /blocks output 3 spans for 1 assistant messages; expected one block per assistant message/);
    });
  });

  describe('errors', () => {
    it('a template that does not parse says so and quotes the parser', () => {
      throwsTemplateError(() => jinjaTemplate("{{ 'a' + }}", { name: 'broken' }), /^broken: the chat template does not parse: Unexpected token: CloseExpression/);
      throwsTemplateError(() => jinjaTemplate('{% for m in messages %}{{ m }}'), /does not parse \(often an unclosed \{% if %\} or \{% for %\}\)/);
    });

    it('raise_exception surfaces its message', () => {
      const strict = jinjaTemplate("{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversations must start with a user turn') }}{% endif %}ok", { name: 'strict' });
      assert.equal(strict.render([{ role: 'user', content: 'Hi' }]).text, 'ok');
      throwsTemplateError(() => strict.render([{ role: 'assistant', content: 'Hi' }]), /^strict: the template raised an exception: Conversations must start with a user turn$/);
    });

    it('a template that is not prefix-preserving still gets its spans from one render; the checks name the mismatch', () => {
      // Marks the final user turn, so the conversation before a reply renders differently alone.
      const lastMarked = jinjaTemplate(String.raw`{%- for message in messages %}
    {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}
    {%- if loop.last and message['role'] == 'user' %}{{- '(answer now)\n' }}{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}`, { name: 'last-marked', endOfTurn: '<|im_end|>' });
      assert.deepEqual(spanTexts(lastMarked.render(CHATS.rounds)), [['Hello.<|im_end|>', 1, false], ['Sure.<|im_end|>', 3, false]]);
      const prefix = checkPrefixPreserving(lastMarked, CHATS.rounds);
      assert.equal(prefix.length, 1);
      assert.match(prefix[0], /^last-marked: message 1: the conversation before it \(messages 0\.\.0, with the generation prompt\) is not a prefix/);
      const mismatch = checkTrainGenerateMatch(lastMarked, CHATS.rounds);
      assert.equal(mismatch.length, 2);
      assert.match(mismatch[0], /^last-marked: message 1: the generation prompt for this reply \(messages 0\.\.0, with the generation prompt\) differs from the training text before the reply \(characters 0\.\.52\); first difference at character 30: …"\|>user\\nHi<\|im_end\|>\\n\(answer now\)\\n<\|im_st"… vs …"\|>user\\nHi<\|im_end\|>\\n<\|im_start\|>assistan"…$/);
    });

    it('a template whose output the content markers disturb, or that drops a reply, is refused with a hint', () => {
      const counting = jinjaTemplate("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content | length }}<|im_end|>\n{% endfor %}", { name: 'counting' });
      throwsTemplateError(() => counting.render(CHATS.rounds), /^counting: cannot locate the assistant replies: the template renders differently when each assistant content is marked .*; add \{% generation %\} blocks around each reply$/);
      const usersOnly = jinjaTemplate("{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'user' %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}", { name: 'users-only' });
      throwsTemplateError(() => usersOnly.render(CHATS.rounds), /^users-only: message 1: the template does not write this assistant message's content \("Hello\."\)/);
      assert.equal(usersOnly.render(CHATS.rounds, { spans: false }).text.length > 0, true, 'the text alone still renders');
      throwsTemplateError(() => jinjaOf(builtinTemplate('chatml')).render([{ role: 'user', content: 'a\uE100b' }, { role: 'assistant', content: 'c' }]), /contains characters U\+E100\.\.U\+F0FF/);
    });

    it('continueFinalMessage needs the final content in the text', () => {
      const shouting = jinjaTemplate("{% for m in messages %}{{ m['content'] | upper }}\n{% endfor %}", { name: 'shouting' });
      throwsTemplateError(() => shouting.render(CHATS.rounds, { continueFinalMessage: true }), /^shouting: continueFinalMessage: the content of message 3, stripped \("Sure\."\), does not occur in the rendered text/);
      throwsTemplateError(() => shouting.render(CHATS.rounds, { continueFinalMessage: true, addGenerationPrompt: true }), /cannot both be set/);
    });

    it('an assistant turn without the end-of-turn marker is reported', () => {
      const noMarker = jinjaTemplate("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}", { name: 'bare', endOfTurn: '<|eot|>' });
      throwsTemplateError(() => noMarker.render(CHATS.rounds), /^bare: message 1: the assistant turn as rendered \("Hello\.\\nuser: Again\\nassistant: "\) has no end-of-turn marker <\|eot\|>/);
      // Without a known marker the reply's trailing whitespace is trimmed.
      const trimmed = jinjaTemplate(noMarker.jinja!);
      assert.deepEqual(spanTexts(trimmed.render(CHATS.rounds)), [['Hello.', 1, false], ['Sure.', 3, false]]);
    });
  });

  it('passes variables, bos_token and eos_token as transformers does', () => {
    const dated = jinjaTemplate("{{ bos_token }}{{ date_string }}|{{ messages | length }}{{ eos_token }}", { bosToken: '<s>', eosToken: '</s>' });
    // Not prefix-preserving (it prints the message count), so the text alone.
    assert.equal(dated.render(CHATS.rounds, { variables: { date_string: '26 Jul 2024' }, spans: false }).text, '<s>26 Jul 2024|4</s>');
    assert.equal(dated.render([], { variables: { eos_token: '<eos>' } }).text, '<s>|0<eos>', 'variables override the special tokens, as kwargs do');
    throwsTemplateError(() => dated.render([], { variables: { messages: [] } }), /options\.variables\.messages is not allowed/);
    assert.match(jinjaTemplate("{{ strftime_now('%Y-%m-%d') }}").render([]).text, /^\d{4}-\d\d-\d\d$/);
    assert.equal(jinjaTemplate('{% for i in range(1, 7, 2) %}{{ i }}{% endfor %}').render([]).text, '135');
  });

  describe('tokenizer_config.json', () => {
    it('reads chat_template, the special tokens and the end of turn', () => {
      const config = {
        name_or_path: 'tiny-chat',
        chat_template: builtinTemplate('llama3').jinja,
        bos_token: { __type: 'AddedToken', content: '<|begin_of_text|>', special: true },
        eos_token: '<|eot_id|>',
        added_tokens_decoder: { '128006': { content: '<|start_header_id|>', special: true }, '9': { content: 'plain', special: false } },
      };
      const t = templateFromTokenizerConfig(config);
      assert.equal(t.name, 'tiny-chat');
      assert.equal(t.endOfTurn, '<|eot_id|>');
      assert.deepEqual(t.specialTokens, ['<|begin_of_text|>', '<|eot_id|>', '<|start_header_id|>']);
      const want = builtinTemplate('llama3').render(CHATS.rounds);
      assert.deepEqual(t.render(CHATS.rounds), { ...want, template: 'tiny-chat' });
    });

    it("takes the 'default' of a list of named templates, and says what is missing", () => {
      const chatml = builtinTemplate('chatml').jinja!;
      const listed = templateFromTokenizerConfig({ chat_template: [{ name: 'tool_use', template: '{{ raise_exception("tools") }}' }, { name: 'default', template: chatml }], eos_token: '<|im_end|>' });
      assert.equal(listed.render(CHATS.system).text, builtinTemplate('chatml').render(CHATS.system).text);
      throwsTemplateError(() => templateFromTokenizerConfig({ chat_template: [{ name: 'tool_use', template: chatml }] }), /lists templates tool_use but none is named 'default'/);
      throwsTemplateError(() => templateFromTokenizerConfig({ eos_token: '</s>' }), /tokenizer config has no chat_template/);
    });
  });
});
