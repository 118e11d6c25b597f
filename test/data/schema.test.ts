// Schema detection and row normalisation on their own, without files.
import * as assert from 'node:assert/strict';
import { DataError } from '../../kernel-lib/data/records';
import { detectSchema } from '../../kernel-lib/data/schema';
import type { RowContext } from '../../kernel-lib/data/schema_fields';
import { parseHhTranscript, splitHhPair, type HhTurn } from '../../kernel-lib/data/schema_hh';
import { normaliseRow } from '../../kernel-lib/data/schema_rows';
import { FIXTURES } from './fixtures/datasets';

const ctx: RowContext = { at: { file: 'mem.jsonl', line: 7 }, source: 'mem.jsonl', fallbackId: 'mem.jsonl:7', jsonText: false };

function throwsAt(fn: () => unknown, field: string, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.deepEqual(e.location, { ...ctx.at, field });
    assert.match(e.message, pattern);
    return true;
  });
}

describe('data/schema: detection', () => {
  it("recognises each fixture's layout from its first row", () => {
    for (const f of FIXTURES) assert.equal(detectSchema(f.rows[0]), f.schema, f.name);
  });

  it('works from field names alone, and tells HH-RLHF from implicit-prompt preferences by value', () => {
    assert.equal(detectSchema(['instruction', 'input', 'output']), 'alpaca');
    assert.equal(detectSchema(['instruction', 'context', 'response', 'category']), 'dolly');
    assert.equal(detectSchema(['chosen', 'rejected']), 'hh_rlhf');
    assert.equal(detectSchema(['prompt', 'chosen', 'rejected', 'messages']), 'preference');
    assert.equal(detectSchema({ chosen: [{ role: 'user', content: 'a' }], rejected: [{ role: 'user', content: 'a' }] }), 'preference');
    assert.equal(detectSchema({ chosen: '\n\nHuman: a\n\nAssistant: b', rejected: '\n\nHuman: a\n\nAssistant: c' }), 'hh_rlhf');
    // A null field is absent: this row has no usable `messages`.
    assert.throws(() => detectSchema({ messages: null }), /no known schema matches the fields "messages"/);
  });

  it('names the fields it found and where', () => {
    assert.throws(
      () => detectSchema({ q: 1, a: 2 }, { file: 'x.parquet', row: 0 }),
      (e: unknown) => e instanceof DataError && e.message.startsWith('x.parquet, row 0: no known schema matches the fields "q", "a"; the known schemas are oasst ('),
    );
  });
});

describe('data/schema: rows to records', () => {
  it('reads OpenAI content parts and the developer role; an empty system prompt is the same as none', () => {
    const rec = normaliseRow(
      {
        messages: [
          { role: 'developer', content: 'Be terse.' },
          { role: 'system', content: '' },
          { role: 'user', content: [{ type: 'text', text: 'Hello ' }, { type: 'text', text: 'there.' }] },
          { role: 'assistant', content: 'Hi.' },
        ],
      },
      'messages',
      ctx,
    );
    assert.deepEqual(rec, {
      kind: 'conversation',
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Hello there.' },
        { role: 'assistant', content: 'Hi.' },
      ],
      source: 'mem.jsonl',
      id: 'mem.jsonl:7',
    });
    throwsAt(() => normaliseRow({ messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, 'messages', ctx), 'messages[0].content[0]', /content part of type "image_url" is not supported/);
  });

  it('ShareGPT: a top-level system field, case-insensitive speakers, and a conversation must open with the user', () => {
    const rec = normaliseRow(
      {
        id: 7,
        system: 'You are kind.',
        conversations: [
          { from: 'Human', value: 'Hi' },
          { from: 'ChatGPT', value: 'Hello!' },
        ],
      },
      'sharegpt',
      ctx,
    );
    assert.equal(rec.id, '7');
    assert.deepEqual(rec.kind === 'conversation' && rec.messages.map((m) => m.role), ['system', 'user', 'assistant']);
    throwsAt(() => normaliseRow({ conversations: [{ from: 'gpt', value: 'Hi' }] }, 'sharegpt', ctx), 'conversations[0].value', /opens with an assistant turn; expected a user turn first/);
    throwsAt(
      () =>
        normaliseRow(
          {
            conversations: [
              { from: 'human', value: 'Hi' },
              { from: 'gpt', value: 'Hello' },
              { from: 'human', value: 'Bye' },
            ],
          },
          'sharegpt',
          ctx,
        ),
      'conversations[2].value',
      /ends with a user turn; expected it to end with the assistant's reply/,
    );
  });

  it('preferences: a prompt list that heads the conversations is checked against them', () => {
    const conv = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
    ];
    const ok = normaliseRow({ prompt: [conv[0]], chosen: conv, rejected: [conv[0], { role: 'assistant', content: 'Go away' }] }, 'preference', ctx);
    assert.deepEqual(ok.kind === 'preference' && [ok.prompt, ok.chosen, ok.rejected], [[conv[0]], [conv[1]], [{ role: 'assistant', content: 'Go away' }]]);
    throwsAt(() => normaliseRow({ prompt: [{ role: 'user', content: 'Bye' }], chosen: conv, rejected: conv }, 'preference', ctx), 'prompt', /does not match the opening/);
    throwsAt(() => normaliseRow({ chosen: 'Yes.', rejected: 'No.' }, 'preference', ctx), 'prompt', /missing; expected the prompt/);
    throwsAt(
      () => normaliseRow({ prompt: [conv[0], conv[1]], chosen: 'Yes.', rejected: 'No.' }, 'preference', ctx),
      'prompt[1].content',
      /the prompt ends with an assistant turn; expected it to end with the user turn being answered/,
    );
  });

  it('OpenAssistant rows are not normalised one at a time', () => {
    assert.throws(() => normaliseRow({}, 'oasst', ctx), /use oasstConversations/);
  });
});

describe('data/schema: HH-RLHF transcripts', () => {
  it('splits turns on blank-line markers, keeping single newlines inside a turn', () => {
    assert.deepEqual(parseHhTranscript('\n\nHuman: List two:\n- a\n- b\n\nAssistant: a, b\n\nHuman: Thanks\n\nAssistant: '), {
      turns: [
        { role: 'user', content: 'List two:\n- a\n- b' },
        { role: 'assistant', content: 'a, b' },
        { role: 'user', content: 'Thanks' },
        { role: 'assistant', content: '' },
      ],
    });
    assert.deepEqual(parseHhTranscript('Human: Hi\n\nAssistant: Yo'), {
      turns: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Yo' },
      ],
    });
  });

  it('keeps each turn byte for byte: the marker takes the blank line before it and one space after the colon', () => {
    const transcript = '\n\nHuman:  Hi \n\nAssistant:Yo\n\n\n\nHuman: \tA\nB\n\nAssistant: ';
    const parsed = parseHhTranscript(transcript) as { turns: HhTurn[] };
    assert.deepEqual(parsed.turns, [
      { role: 'user', content: ' Hi ' },
      { role: 'assistant', content: 'Yo\n\n' },
      { role: 'user', content: '\tA\nB' },
      { role: 'assistant', content: '' },
    ]);
    // Markers and turns put back together give the transcript again.
    const spaced = (t: HhTurn, k: number) => `\n\n${t.role === 'user' ? 'Human' : 'Assistant'}:${k === 1 ? '' : ' '}${t.content}`;
    assert.equal(parsed.turns.map(spaced).join(''), transcript);
  });

  it("splits a pair as TRL does: the prompt ends at the last shared Assistant marker, and a reply may hold a Human turn", () => {
    const prompt = '\n\nHuman: Name a colour. \n\nAssistant: Blue.\n\nHuman: Another?';
    assert.deepEqual(splitHhPair(`${prompt}\n\nAssistant: Green.\n\nHuman: Why green?\n\nAssistant: It is calm.`, `${prompt}\n\nAssistant:  Red `), {
      prompt: [
        { role: 'user', content: 'Name a colour. ' },
        { role: 'assistant', content: 'Blue.' },
        { role: 'user', content: 'Another?' },
      ],
      chosen: 'Green.\n\nHuman: Why green?\n\nAssistant: It is calm.',
      rejected: ' Red ',
    });
    // Replies that share their opening words still split at the marker.
    assert.deepEqual(splitHhPair(`${prompt}\n\nAssistant: I like green.`, `${prompt}\n\nAssistant: I like red.`), {
      prompt: (splitHhPair(`${prompt}\n\nAssistant: a`, `${prompt}\n\nAssistant: b`) as { prompt: HhTurn[] }).prompt,
      chosen: 'I like green.',
      rejected: 'I like red.',
    });
  });

  it('says which transcript of a pair does not parse, and refuses dialogues that part before the final reply', () => {
    const good = '\n\nHuman: Hi\n\nAssistant: Hello!';
    assert.deepEqual(splitHhPair(good, 'Hello there'), { field: 'rejected', problem: 'no "\\n\\nHuman:" / "\\n\\nAssistant:" turns found; expected an HH-RLHF transcript' });
    assert.deepEqual(splitHhPair('\n\nHuman: Hi', good), { field: 'chosen', problem: 'the transcript ends with a "Human:" turn; expected it to end with the "Assistant:" reply' });
    assert.match((splitHhPair(`${good}\n\nHuman: And?\n\nAssistant: Yes.`, `${good}\n\nHuman: Or?\n\nAssistant: No.`) as { problem: string }).problem, /differ before their final Assistant reply/);
  });

  it('says why a transcript does not parse', () => {
    assert.match((parseHhTranscript('Hi\n\nHuman: a\n\nAssistant: b') as { problem: string }).problem, /text before the first "Human:" turn/);
    assert.match((parseHhTranscript(' \n\nHuman: a\n\nAssistant: b') as { problem: string }).problem, /text before the first "Human:" turn: " "/);
    assert.match((parseHhTranscript('\n\nAssistant: b') as { problem: string }).problem, /opens with an "Assistant:" turn/);
    assert.match((parseHhTranscript('plain text') as { problem: string }).problem, /no "\\n\\nHuman:"/);
  });
});
