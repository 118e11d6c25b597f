// Exploration helpers on hand-made records: per-record numbers, counts,
// duplicates, near-empty records, the length bias of preference data, seeded
// splits, samples, and rows written to Arrow and Parquet and read back by
// their own readers.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { byteTokenizer } from '../../kernel-lib/text';
import { countBy, findDuplicates, findNearEmpty, preferenceStats, recordStats, summarise } from '../../kernel-lib/data/explore';
import { recordsBundle, sampleRecords, statsFrame } from '../../kernel-lib/data/explore_view';
import { writeRows } from '../../kernel-lib/data/export_rows';
import type { Conversation, PreferencePair } from '../../kernel-lib/data/records';
import { splitRecords } from '../../kernel-lib/data/split';

const conv = (id: string, user: string, reply: string, category?: string): Conversation => ({
  kind: 'conversation', id, source: 'hand', category,
  messages: [{ role: 'user', content: user }, { role: 'assistant', content: reply }],
});
const pair = (id: string, chosen: string, rejected: string): PreferencePair => ({
  kind: 'preference', id, source: 'hand', prompt: [{ role: 'user', content: 'Q?' }],
  chosen: [{ role: 'assistant', content: chosen }], rejected: [{ role: 'assistant', content: rejected }],
});

describe('data/explore', () => {
  const records = [
    conv('a', 'What does a cow eat?', 'Grass.', 'lookup'),
    conv('b', 'what does a  cow eat?', 'grass.', 'lookup'),
    conv('c', 'Add 2 and 3.', '5', 'arithmetic'),
    conv('d', 'Reverse "cat".', 'tac', 'string'),
    conv('e', 'Hi', ' ', 'chat'),
  ];

  it('gives each record its turns and lengths, in characters and in tokens', () => {
    const stats = recordStats(records, { tokenizer: byteTokenizer() });
    assert.deepEqual(stats[0], { id: 'a', source: 'hand', kind: 'conversation', category: 'lookup', turns: 2, promptChars: 20, replyChars: 6, promptTokens: 20, replyTokens: 6 });
    const p = recordStats([pair('p', 'Yes, it is.', 'No')])[0];
    assert.equal(p.replyChars, 11);
    assert.equal(p.rejectedChars, 2);
    assert.equal(p.promptTokens, undefined);
  });

  it('counts by a field and summarises lengths', () => {
    assert.deepEqual(countBy(records, (r) => r.category).slice(0, 2), [{ value: 'lookup', count: 2, share: 0.4 }, { value: 'arithmetic', count: 1, share: 0.2 }]);
    assert.deepEqual(summarise([5, 1, 3, 2, 4]), { count: 5, min: 1, p10: 1, median: 3, mean: 3, p90: 5, max: 5 });
  });

  it('finds duplicates ignoring case and spacing, and near-empty messages', () => {
    assert.deepEqual(findDuplicates(records).map((g) => g.ids), [['a', 'b']]);
    assert.deepEqual(findNearEmpty(records), [{ id: 'e', field: 'messages[1] (assistant)', chars: 0 }]);
    assert.deepEqual(findNearEmpty(records, { minChars: 3 }).map((x) => `${x.id} ${x.field}`), ['c messages[1] (assistant)', 'e messages[0] (user)', 'e messages[1] (assistant)']);
  });

  it('measures the length bias of preference pairs', () => {
    const s = preferenceStats([pair('1', 'A long answer.', 'Short.'), pair('2', 'Long one here.', 'No.'), pair('3', 'Ok.', 'Padded wrong answer.'), pair('4', 'Same', 'same')]);
    assert.equal(s.pairs, 4);
    assert.equal(s.chosenLonger, 0.5);
    assert.equal(s.chosenShorter, 0.25);
    assert.equal(s.equalLength, 0.25);
    assert.equal(s.unit, 'chars');
  });

  it('splits deterministically by seed, in the asked proportions, stratified, each item independent of the others', () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({ id: `r${i}`, family: ['a', 'b', 'c', 'd'][i % 4] }));
    const opts = { seed: 7, fractions: { train: 0.8, validation: 0.1, test: 0.1 }, stratifyBy: (x: { family: string }) => x.family, id: (x: { id: string }) => x.id };
    const s1 = splitRecords(items, opts);
    const s2 = splitRecords([...items].reverse(), opts);
    for (const k of ['train', 'validation', 'test']) assert.deepEqual(new Set(s1[k].map((x) => x.id)), new Set(s2[k].map((x) => x.id)), k);
    assert.deepEqual([s1.train.length, s1.validation.length, s1.test.length], [800, 100, 100]);
    for (const f of ['a', 'b', 'c', 'd']) assert.equal(s1.test.filter((x) => x.family === f).length, 25, f);
    const other = splitRecords(items, { ...opts, seed: 8 });
    assert.notDeepEqual(other.test.map((x) => x.id).sort(), s1.test.map((x) => x.id).sort());
    assert.throws(() => splitRecords(items, { seed: 1, fractions: { train: 0.8, test: 0.1 } }), /fractions must be non-negative and sum to 1/);
  });

  it('samples by seed and prints records readably', () => {
    assert.deepEqual(sampleRecords(records, 2, 1), sampleRecords(records, 2, 1));
    const text = recordsBundle([records[0], pair('p', 'Yes.', 'No.')])['text/plain'] as string;
    assert.match(text, /--- a \(hand, lookup\)\n\[user\] What does a cow eat\?\n\[assistant\] Grass\./);
    assert.match(text, /chosen:\n {4}\[assistant\] Yes\.\n {2}rejected:\n {4}\[assistant\] No\./);
    const df = statsFrame(records);
    assert.deepEqual(df.shape, [5, 7]);
    assert.ok(df.columns.includes('replyChars'));
  });

  it('writes rows to Arrow IPC and Parquet that their readers load back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rows-'));
    const rows = recordStats(records).map((r) => ({ id: r.id, category: r.category, replyChars: r.replyChars, share: r.replyChars / 10, short: r.replyChars < 3 }));
    await writeRows(path.join(dir, 'stats.arrow'), rows);
    const table = tableFromIPC(fs.readFileSync(path.join(dir, 'stats.arrow')));
    assert.deepEqual(table.toArray().map((r) => r.toJSON()), rows);
    await writeRows(path.join(dir, 'stats.parquet'), rows);
    const { parquetReadObjects, asyncBufferFromFile } = (await import('hyparquet')) as unknown as typeof import('hyparquet') & { asyncBufferFromFile(f: string): Promise<import('hyparquet').AsyncBuffer> };
    const back = await parquetReadObjects({ file: await asyncBufferFromFile(path.join(dir, 'stats.parquet')) });
    assert.deepEqual(back, rows);
    await assert.rejects(writeRows(path.join(dir, 'stats.csv'), rows), /unknown extension; use \.arrow, \.feather, \.ipc or \.parquet/);
  });
});
