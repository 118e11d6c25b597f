// Bad input: each error names the file, the line or row, the field, and what
// was expected; skipping is opt-in and every skip is counted with its reason.
// Also the options: explicit schema, field mappings, kind, limit, kept fields.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadDataset, type LoadOptions } from '../../kernel-lib/data/load';
import { DataError, type DataLocation } from '../../kernel-lib/data/records';
import { writeRows, type FixtureFile, type Row } from './fixtures/write';

let dir: string;
let n = 0;

function textFile(ext: string, text: string): string {
  const file = path.join(dir, `t${n++}.${ext}`);
  fs.writeFileSync(file, text);
  return file;
}

function jsonl(...rows: unknown[]): string {
  return textFile('jsonl', rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n');
}

function tableFile(type: FixtureFile, rows: Row[]): string {
  const file = path.join(dir, `t${n++}.${type}`);
  writeRows(file, rows, type);
  return file;
}

/** Loads and expects a DataError at `at` whose message matches every pattern. */
async function rejects(file: string, options: LoadOptions, at: Partial<DataLocation>, ...patterns: RegExp[]): Promise<DataError> {
  try {
    await loadDataset(file, options);
  } catch (e) {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    assert.deepEqual(e.location, { file, ...at });
    for (const p of patterns) assert.match(e.message, p);
    assert.ok(e.message.startsWith(file), `the message names the file: ${e.message}`);
    return e;
  }
  return assert.fail(`${file} loaded without the expected error`);
}

const ALPACA = { instruction: 'Add 2 and 3.', input: '', output: '5' };

describe('data/load: errors name the place and what was expected', function () {
  this.timeout(60_000);
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'load-errors-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('an unknown extension names the file and the known ones', async () => {
    const file = textFile('txt', 'hello');
    await rejects(file, {}, {}, /unknown file type "\.txt"/, /\.json, \.jsonl, \.ndjson, \.csv, \.arrow, \.feather, \.ipc, \.parquet/);
  });

  it('a malformed JSONL line names the file and its 1-based line', async () => {
    const file = jsonl(ALPACA, ALPACA, '{"instruction": "Add", "output": ', ALPACA);
    const e = await rejects(file, {}, { line: 3 }, /line 3: malformed JSON/, /one JSON object per line/);
    assert.equal(e.problem.startsWith('malformed JSON'), true);
    await rejects(jsonl(ALPACA, [1, 2]), {}, { line: 2 }, /expected a JSON object, got a list of 2/);
  });

  it('an unknown schema lists the fields found and the schemas known, with their fields', async () => {
    const file = jsonl({ question: 'Why?', answer: 'Because.' });
    await rejects(
      file,
      {},
      { line: 1 },
      /no known schema matches the fields "question", "answer"/,
      /alpaca \(instruction, output; optional input\)/,
      /dolly \(instruction, response; optional context, category\)/,
      /sharegpt \(conversations/,
      /messages \(messages/,
      /prompt_completion \(prompt, completion/,
      /oasst \(message_id, parent_id, role, text/,
      /preference \(chosen, rejected; optional prompt/,
      /hh_rlhf \(chosen, rejected\)/,
      /options\.schema/,
    );
  });

  it('a missing field names the line or row and the field', async () => {
    await rejects(jsonl(ALPACA, { instruction: 'Say hi.', input: '' }), { schema: 'alpaca' }, { line: 2, field: 'output' }, /field "output": missing; expected the reply as a string/);
    const parquet = tableFile('parquet', [
      { id: 'a', conversations: [{ from: 'human', value: 'Hi' }, { from: 'gpt', value: 'Hello!' }] },
      { id: 'b', conversations: null },
    ]);
    await rejects(parquet, {}, { row: 1, field: 'conversations' }, /row 1, field "conversations": missing/);
    // A file in another layout than the one named: the first row already lacks the field.
    await rejects(jsonl({ instruction: 'Q', context: '', response: 'A', category: 'open_qa' }), { schema: 'alpaca' }, { line: 1, field: 'output' }, /missing/);
  });

  it('a field of the wrong type says what was expected and what came', async () => {
    await rejects(jsonl({ messages: 'hello' }), {}, { line: 1, field: 'messages' }, /expected a list of \{role, content\} messages, got the string "hello"/);
    await rejects(jsonl({ messages: [{ role: 'user', content: 'Hi' }, 'Hello'] }), {}, { line: 1, field: 'messages[1]' }, /expected a \{role, content\} message/);
    await rejects(jsonl({ ...ALPACA, output: 42 }), {}, { line: 1, field: 'output' }, /expected the reply as a string, got number 42/);
    await rejects(jsonl({ messages: [{ role: 'tool', content: '{}' }] }), {}, { line: 1, field: 'messages[0].role' }, /unknown role "tool"; expected one of system, developer, user, assistant/);
  });

  it('an empty reply, an empty instruction and an empty conversation are errors', async () => {
    await rejects(jsonl(ALPACA, { ...ALPACA, output: '  ' }), {}, { line: 2, field: 'output' }, /empty reply/);
    await rejects(jsonl({ ...ALPACA, instruction: '' }), {}, { line: 1, field: 'instruction' }, /empty instruction/);
    const msgs = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: '' },
    ];
    await rejects(jsonl({ messages: msgs }), {}, { line: 1, field: 'messages[1].content' }, /empty reply: the assistant message has no text/);
    await rejects(tableFile('arrow', [{ messages: msgs }]), {}, { row: 0, field: 'messages[1].content' }, /empty reply/);
    await rejects(jsonl({ messages: [] }), {}, { line: 1, field: 'messages' }, /empty conversation: no messages/);
    await rejects(jsonl({ messages: [{ role: 'user', content: 'Hi' }] }), {}, { line: 1, field: 'messages' }, /no assistant reply/);
    await rejects(jsonl({ prompt: 'The sky is', chosen: ' blue.', rejected: '' }), {}, { line: 1, field: 'rejected' }, /empty reply/);
  });

  it('a ShareGPT speaker it does not know names the row and the value', async () => {
    const rows = [{ id: 'x', conversations: [{ from: 'human', value: 'Hi' }, { from: 'robot', value: 'Beep.' }] }];
    await rejects(tableFile('parquet', rows), {}, { row: 0, field: 'conversations[1].from' }, /unknown speaker "robot"; expected one of system, human, user, gpt, assistant, chatgpt, bing, bard/);
  });

  it('an HH-RLHF transcript that does not parse names the row and field', async () => {
    const good = '\n\nHuman: Hi\n\nAssistant: Hello!';
    await rejects(jsonl({ chosen: good, rejected: good }, { chosen: good, rejected: 'Hello there' }), {}, { line: 2, field: 'rejected' }, /transcript does not parse: no "\\n\\nHuman:"/);
    await rejects(jsonl({ chosen: '\n\nHuman: Hi', rejected: good }), {}, { line: 1, field: 'chosen' }, /ends with a "Human:" turn/);
    await rejects(jsonl({ chosen: `${good}\n\nHuman: And?\n\nAssistant: Yes.`, rejected: `${good}\n\nHuman: Or?\n\nAssistant: No.` }), {}, { line: 1, field: 'chosen' }, /differ before their final Assistant reply/);
    await rejects(jsonl({ chosen: '\n\nHuman: Hi\n\nAssistant:', rejected: good }), {}, { line: 1, field: 'chosen' }, /empty reply/);
  });

  it('a prompt string that does not match the conversations it heads is an error', async () => {
    const conv = (reply: string) => [
      { role: 'user', content: 'Name a colour.' },
      { role: 'assistant', content: reply },
    ];
    await rejects(
      jsonl({ prompt: 'Name a fruit.', chosen: conv('Red.'), rejected: conv('Seven.') }),
      {},
      { line: 1, field: 'prompt' },
      /does not match the opening of chosen and rejected \(their first user turn is the string "Name a colour\."\)/,
    );
  });

  it("onBadRecord 'skip' leaves bad records out and lists each with its place and reason", async () => {
    const file = jsonl(ALPACA, 'not json', { ...ALPACA, output: '' }, { instruction: 'x', input: '' }, ALPACA);
    const { records, report } = await loadDataset(file, { onBadRecord: 'skip' });
    assert.equal(records.length, 2);
    assert.equal(report.read, 5);
    assert.equal(report.kept, 2);
    assert.deepEqual(
      report.skipped.map((s) => [s.location, s.reason.split(/[;(:]/)[0].trim()]),
      [
        [{ file, line: 2 }, 'malformed JSON'],
        [{ file, line: 3, field: 'output' }, 'empty reply'],
        [{ file, line: 4, field: 'output' }, 'missing'],
      ],
    );
  });

  it('an explicit field mapping reads any conversation or preference layout', async () => {
    const conv = jsonl(
      { question: 'What is 6 x 7?', answer: '42', sys: 'Be exact.', topic: 'arithmetic', uid: 17 },
      { question: 'Capital of Peru?', answer: 'Lima.', sys: '', topic: 'geography', uid: 18 },
    );
    const { records, report } = await loadDataset(conv, { schema: { kind: 'conversation', prompt: 'question', response: 'answer', system: 'sys', category: 'topic', id: 'uid' } });
    assert.equal(report.schema, 'mapping');
    assert.deepEqual(records, [
      {
        kind: 'conversation',
        messages: [
          { role: 'system', content: 'Be exact.' },
          { role: 'user', content: 'What is 6 x 7?' },
          { role: 'assistant', content: '42' },
        ],
        source: conv,
        id: '17',
        category: 'arithmetic',
      },
      {
        kind: 'conversation',
        messages: [
          { role: 'user', content: 'Capital of Peru?' },
          { role: 'assistant', content: 'Lima.' },
        ],
        source: conv,
        id: '18',
        category: 'geography',
      },
    ]);
    const pref = tableFile('csv', [{ q: 'Pick a pet.', good: 'A cat.', bad: 'A shark.' }]);
    const loaded = await loadDataset(pref, { schema: { kind: 'preference', prompt: 'q', chosen: 'good', rejected: 'bad' }, kind: 'preference' });
    assert.deepEqual(loaded.records, [
      {
        kind: 'preference',
        prompt: [{ role: 'user', content: 'Pick a pet.' }],
        chosen: [{ role: 'assistant', content: 'A cat.' }],
        rejected: [{ role: 'assistant', content: 'A shark.' }],
        source: pref,
        id: `${path.basename(pref)}:2`,
      },
    ]);
    await rejects(conv, { schema: { kind: 'conversation', prompt: 'question', response: 'reply' } }, { line: 1, field: 'reply' }, /missing/);
    await rejects(conv, { schema: { kind: 'conversation', prompt: 'question' } as never }, {}, /schema mapping: "response" must name the field/);
    await rejects(conv, { schema: { kind: 'conversation', prompt: 'question', response: 'answer', topic: 'x' } as never }, {}, /unknown key "topic"/);
  });

  it('kind, limit, keepFields and bad option values', async () => {
    await rejects(jsonl({ chosen: '\n\nHuman: a\n\nAssistant: b', rejected: '\n\nHuman: a\n\nAssistant: c' }), { kind: 'conversation' }, {}, /holds preference pairs \(schema "hh_rlhf"\), but kind 'conversation' was asked for/);
    const file = jsonl(ALPACA, { ...ALPACA, lang: 'en' }, ALPACA);
    const { records, report } = await loadDataset(file, { limit: 2, keepFields: ['lang'] });
    assert.equal(records.length, 2);
    assert.equal(report.kept, 2);
    assert.equal(records[0].meta, undefined);
    assert.deepEqual(records[1].meta, { lang: 'en' });
    await rejects(file, { limit: -1 }, {}, /option limit: expected a whole number >= 0, got -1/);
    await rejects(file, { schema: 'alpacca' as never }, {}, /option schema: expected one of oasst, .*, alpaca or a field mapping, got "alpacca"/);
  });

  it('JSON: an array, an object holding one array, JSON Lines under a .json name; anything else is an error', async () => {
    const wrapped = textFile('json', JSON.stringify({ version: 2, meta: { note: 'x' }, rows: [ALPACA, ALPACA] }));
    assert.equal((await loadDataset(wrapped)).records.length, 2);
    const lines = textFile('json', `${JSON.stringify(ALPACA)}\n${JSON.stringify(ALPACA)}\n`);
    const fromLines = await loadDataset(lines);
    assert.deepEqual(
      fromLines.records.map((r) => r.id),
      [`${path.basename(lines)}:1`, `${path.basename(lines)}:2`],
    );
    await rejects(textFile('json', JSON.stringify({ a: [ALPACA], b: [ALPACA] })), {}, { field: 'b' }, /a second array field/);
    await rejects(textFile('json', JSON.stringify({ a: 1 })), {}, {}, /has no array field/);
    await rejects(textFile('json', '"just a string"'), {}, {}, /expected a JSON array of rows or an object/);
    await rejects(textFile('json', `[${JSON.stringify(ALPACA)}, {"instruction": tru}]`), {}, {}, /invalid JSON after 1 rows/);
    await rejects(textFile('json', JSON.stringify([ALPACA, 'oops'])), {}, { row: 1 }, /expected a JSON object, got the string "oops"/);
  });

  it('CSV, Arrow and Parquet that cannot be read name the file (and line)', async () => {
    await rejects(textFile('csv', 'instruction,input,output\na,b,c\nd,e\n'), {}, { line: 3 }, /malformed CSV/);
    await rejects(textFile('arrow', 'not arrow at all'), {}, {}, /cannot read as Arrow IPC/);
    await rejects(textFile('parquet', 'not parquet'), {}, {}, /cannot read as Parquet/);
  });

  it('a missing file or a folder is named as such', async () => {
    await rejects(path.join(dir, 'absent.jsonl'), {}, {}, /cannot open the file: ENOENT/);
    fs.mkdirSync(path.join(dir, 'folder.parquet'));
    await rejects(path.join(dir, 'folder.parquet'), {}, {}, /not a file/);
  });

  it('table cells (CSV, and Arrow or Parquet made from such tables) may hold message lists as JSON text', async () => {
    const msgs = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
    ];
    for (const type of ['arrow', 'parquet'] as const) {
      const { records } = await loadDataset(tableFile(type, [{ messages: JSON.stringify(msgs) }]));
      assert.deepEqual((records[0] as { messages: unknown }).messages, msgs, type);
    }
    // JSON Lines has lists of its own: a string there is a wrong type.
    await rejects(jsonl({ messages: JSON.stringify(msgs) }), {}, { line: 1, field: 'messages' }, /expected a list of \{role, content\} messages, got the string/);
  });

  it('CSV cells may hold message lists as JSON text', async () => {
    const file = tableFile('csv', [{ messages: [{ role: 'user', content: 'Hi, there' }, { role: 'assistant', content: 'Hello "friend"' }] }]);
    const { records } = await loadDataset(file);
    assert.deepEqual((records[0] as { messages: unknown }).messages, [
      { role: 'user', content: 'Hi, there' },
      { role: 'assistant', content: 'Hello "friend"' },
    ]);
    await rejects(textFile('csv', 'messages\nnot a list\n'), {}, { line: 2, field: 'messages' }, /expected a list of \{role, content\} messages \(or one written as JSON text\), got the string "not a list"/);
  });
});

describe('data/load: OpenAssistant trees with bad messages', () => {
  const row = (id: string, parent: string | null, role: string, text: string, rank: number | null = 0): Row => ({
    message_id: id,
    parent_id: parent,
    role,
    text,
    lang: 'en',
    rank,
    message_tree_id: 'T',
  });
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'load-oasst-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a missing parent, an unknown role and an empty reply name the row and field', async () => {
    const root = row('p1', null, 'prompter', 'Hello?', null);
    await rejects(tableFile('parquet', [root, row('a1', 'p9', 'assistant', 'Hi.')]), {}, { row: 1, field: 'parent_id' }, /parent message "p9" is not in the file/);
    await rejects(tableFile('json', [root, row('a1', 'p1', 'bot', 'Hi.')]), {}, { row: 1, field: 'role' }, /unknown role "bot"; expected "prompter" or "assistant"/);
    await rejects(tableFile('jsonl', [root, row('a1', 'p1', 'assistant', '')]), {}, { line: 2, field: 'text' }, /empty reply/);
    await rejects(tableFile('csv', [root, row('a1', 'p1', 'assistant', 'Hi.'), row('a2', 'a1', 'assistant', 'Hi again.')]), {}, { line: 4, field: 'role' }, /expected prompter and assistant turns to alternate/);
    await rejects(tableFile('jsonl', [root]), {}, { line: 1, field: 'message_id' }, /a prompt with no assistant reply/);
  });

  it("with 'skip', a bad message leaves out its subtree, counted once with the number below it", async () => {
    const rows = [
      row('p1', null, 'prompter', 'Hello?', null),
      row('a1', 'p1', 'assistant', 'Hi.', 0),
      row('a2', 'p1', 'assistant', '', 1),
      row('p2', 'a2', 'prompter', 'And?'),
      row('a3', 'p2', 'assistant', 'More.'),
    ];
    const file = tableFile('arrow', rows);
    const { records, report } = await loadDataset(file, { onBadRecord: 'skip' });
    assert.deepEqual(
      records.map((r) => r.id),
      ['a1'],
    );
    assert.deepEqual(report.skipped, [{ location: { file, row: 2, field: 'text' }, reason: 'empty reply: the assistant message has no text (the 2 replies below it are left out too)' }]);
    assert.equal(report.read, 5);
  });

  it('a duplicate message id and a parent_id cycle are reported, never dropped unseen', async () => {
    const rows = [
      row('p1', null, 'prompter', 'Hello?', null),
      row('a1', 'p1', 'assistant', 'Hi.'),
      row('a1', 'p1', 'assistant', 'Hi again.'),
      row('x1', 'x2', 'prompter', 'Round and'),
      row('x2', 'x1', 'assistant', 'round.'),
    ];
    const file = tableFile('jsonl', rows);
    await rejects(file, {}, { line: 3, field: 'message_id' }, /duplicate message id "a1", first seen at line 2/);
    const { records, report } = await loadDataset(file, { onBadRecord: 'skip' });
    assert.deepEqual(
      records.map((r) => r.id),
      ['a1'],
    );
    assert.deepEqual(
      report.skipped.map((s) => [s.location.line, s.location.field, s.reason.split(/[,;]/)[0]]),
      [
        [3, 'message_id', 'duplicate message id "a1"'],
        [4, 'parent_id', 'its chain of parents loops (a parent_id cycle) and never reaches a root message'],
        [5, 'parent_id', 'its chain of parents loops (a parent_id cycle) and never reaches a root message'],
      ],
    );
  });
});
