// The world's SFT demonstrations as a labelling pool of mixed quality: each
// flaw's share is exact for the seed, every flawed demonstration is flagged by
// the judge as exactly its flaws (and scored below its reference), the test
// references stay clean, the preference pairs reject exactly those flaws, and
// replyFlaws() reads any reply by the same rules.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { DataError, type Conversation } from '../../kernel-lib/data/records';
import {
  CHATTY_OPENER, FLAW_PLAN, REFUSAL, SCORES, SFT_FLAWS, WORLD_FAMILIES, WORLD_FILES, checkReply, createJudge, generateWorld,
  loadWorld, oracleJudge, recordFlaws, replyFlaws, replyFormat, worldOptions, type LoadedWorld, type ReplyFlaws, type SftFlaw,
} from '../../kernel-lib/data/world';

const DIR = path.join(__dirname, '..', '..', 'data', 'world');
const SMALL = { seed: 11, corpusParagraphs: 40, tasksPerFamily: 40, testPerFamily: 8, preferencePairs: 200, preferenceTestPairs: 20 };
const FLAG: Record<SftFlaw, keyof ReplyFlaws> = { padded: 'padded', made_up: 'madeUp', wrong_format: 'wrongFormat' };

const reply = (c: Conversation) => c.messages[c.messages.length - 1].content;

let world: LoadedWorld;
before(() => {
  world = loadWorld(DIR);
});

describe('data/world: flawed SFT demonstrations', () => {
  it('flaw exactly the stated share of each family (counts for the seed, as in manifest.json)', () => {
    const shares = world.options.sftFlaws;
    assert.ok(shares.padded > 0 && shares.madeUp > 0 && shares.wrongFormat > 0, JSON.stringify(shares));
    for (const family of WORLD_FAMILIES) {
      const demos = world.sftTrain.filter((c) => c.category === family);
      for (const flaw of SFT_FLAWS) {
        const plan = FLAW_PLAN[flaw];
        const want = plan.families(family) ? Math.round(shares[plan.share] * demos.length) : 0;
        assert.equal(demos.filter((c) => recordFlaws(c).includes(flaw)).length, want, `${family}: ${flaw}`);
      }
    }
    const counts = world.manifest.counts.sftTrainFlaws;
    for (const flaw of SFT_FLAWS) assert.equal(counts[flaw], world.sftTrain.filter((c) => recordFlaws(c).includes(flaw)).length, flaw);
    assert.equal(counts.clean, world.sftTrain.filter((c) => recordFlaws(c).length === 0).length);
    assert.ok(counts.made_up > 0 && counts.wrong_format > 0 && counts.padded > 0);
  });

  it('are flagged by the judge as exactly their flaws, score below their reference, and keep the reference in meta.answer', () => {
    const judge = createJudge(world.facts);
    for (const c of world.sftTrain) {
      const flaws = recordFlaws(c);
      const got = judge.flaws(c, reply(c));
      for (const flaw of SFT_FLAWS) assert.equal(got[FLAG[flaw]], flaws.includes(flaw), `${c.id} ${flaw}: ${JSON.stringify(reply(c))}`);
      assert.equal(got.refused, false, c.id);
      assert.ok(checkReply(c, String(c.meta!.answer)).correct, c.id);
      if (flaws.length === 0) {
        assert.equal(reply(c), c.meta!.answer, c.id);
        continue;
      }
      assert.equal(judge.compare(c, String(c.meta!.answer), reply(c)), 'a', `${c.id}: ${JSON.stringify(reply(c))}`);
      const want = flaws.includes('made_up') ? SCORES.wrong
        : flaws.includes('wrong_format') ? (flaws.includes('padded') ? SCORES.paddedOtherFormat : SCORES.otherFormat) : SCORES.padded;
      assert.equal(judge.score(c, reply(c)), want, `${c.id} (${flaws.join('+')})`);
      if (flaws.includes('padded')) assert.ok(reply(c).startsWith(CHATTY_OPENER), c.id);
    }
  });

  it('leave the held-out test references and the preference pairs\' chosen replies clean', () => {
    for (const c of world.sftTest) {
      assert.equal(c.meta!.flaws, undefined, c.id);
      assert.deepEqual(oracleJudge.flaws(c, reply(c)), { padded: false, madeUp: false, wrongFormat: false, refused: false }, c.id);
    }
    for (const p of [...world.preferencesTrain, ...world.preferencesTest]) {
      assert.deepEqual(oracleJudge.flaws(p, p.chosen), { padded: false, madeUp: false, wrongFormat: false, refused: false }, p.id);
    }
  });

  it('are what the preference pairs reject: each flaw, in the very style of the demonstrations', () => {
    const rejects: Record<SftFlaw, string> = { padded: 'concise_over_padded', made_up: 'refusal_over_made_up', wrong_format: 'asked_format_over_other' };
    for (const flaw of SFT_FLAWS) {
      const pairs = world.preferencesTrain.filter((p) => p.meta!.rule === rejects[flaw]);
      assert.ok(pairs.length > 50, `${flaw}: ${pairs.length} pairs`);
      for (const p of pairs) assert.ok(oracleJudge.flaws(p, p.rejected)[FLAG[flaw]], `${p.id}: ${JSON.stringify(p.rejected[0].content)}`);
    }
    const padded = world.preferencesTrain.filter((p) => p.meta!.rule === 'concise_over_padded');
    const chatty = padded.filter((p) => p.rejected[0].content.startsWith(CHATTY_OPENER)).length;
    assert.ok(chatty > padded.length * 0.4, `${chatty} of ${padded.length} padded rejections open with ${CHATTY_OPENER}`);
    for (const p of world.preferencesTrain.filter((x) => x.meta!.rule === 'answer_over_refusal')) assert.ok(oracleJudge.flaws(p, p.rejected).refused, p.id);
  });

  it('follow the options: shares of 0 give the clean world (same prompts), other shares their exact counts', () => {
    const clean = generateWorld({ ...SMALL, sftFlaws: { padded: 0, madeUp: 0, wrongFormat: 0 } });
    assert.ok(clean.sftTrain.every((c) => c.meta!.flaws === undefined && reply(c) === c.meta!.answer));
    const flawed = generateWorld({ ...SMALL, sftFlaws: { padded: 0.5, madeUp: 1, wrongFormat: 0.25 } });
    assert.deepEqual(flawed.sftTrain.map((c) => c.messages.slice(0, -1)), clean.sftTrain.map((c) => c.messages.slice(0, -1)));
    assert.deepEqual(flawed.sftTest, clean.sftTest);
    const count = (f: SftFlaw) => flawed.sftTrain.filter((c) => recordFlaws(c).includes(f)).length;
    assert.equal(count('padded'), 20 * WORLD_FAMILIES.length);
    assert.equal(count('made_up'), 40);
    assert.equal(count('wrong_format'), 10);
    // One share changed leaves the other flaws on the same demonstrations.
    const morePadding = generateWorld({ ...SMALL, sftFlaws: { padded: 0.25, madeUp: 1, wrongFormat: 0.25 } });
    const ids = (w: typeof flawed, f: SftFlaw) => w.sftTrain.filter((c) => recordFlaws(c).includes(f)).map((c) => c.id);
    assert.deepEqual(ids(morePadding, 'wrong_format'), ids(flawed, 'wrong_format'));
  });

  it('are a column of the Arrow table, as in meta', () => {
    const column = tableFromIPC(fs.readFileSync(path.join(DIR, WORLD_FILES.sftTrainArrow))).getChild('flaws')!.toArray() as string[];
    assert.deepEqual([...column], world.sftTrain.map((c) => recordFlaws(c).join('+')));
    assert.ok(column.includes('padded+made_up') && column.includes('padded+wrong_format'));
  });

  it('rejects bad flaw shares naming the field', () => {
    assert.throws(() => worldOptions({ sftFlaws: { padded: 1.5 } }), /sftFlaws\.padded must be a share in \[0, 1\], got 1\.5/);
    assert.throws(() => worldOptions({ sftFlaws: { sloppy: 0.1 } as never }), /unknown flaw "sftFlaws\.sloppy"/);
    assert.deepEqual(worldOptions({ sftFlaws: { madeUp: 0.1 } }).sftFlaws, { padded: 0.3, madeUp: 0.1, wrongFormat: 0.3 });
  });

  it('are checked when loaded: meta.flaws names the line and field', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'world-flaws-'));
    try {
      for (const name of fs.readdirSync(DIR)) fs.copyFileSync(path.join(DIR, name), path.join(tmp, name));
      const edit = (name: string, at: (lines: string[]) => number, change: (l: string) => string, pattern: RegExp) => {
        const file = path.join(tmp, name);
        const original = fs.readFileSync(file, 'utf8');
        const lines = original.split('\n');
        const i = at(lines);
        lines[i] = change(lines[i]);
        fs.writeFileSync(file, lines.join('\n'));
        assert.throws(() => loadWorld(tmp, { verify: false }), (e: unknown) => e instanceof DataError && pattern.test(e.message), String(i));
        fs.writeFileSync(file, original);
      };
      const flawed = (lines: string[]) => lines.findIndex((l) => l.includes('"flaws":["made_up"]'));
      edit(WORLD_FILES.sftTrain, flawed, (l) => l.replace('"made_up"', '"rude"'), /sft-train\.jsonl, line \d+, field "meta\.flaws": expected a non-empty list of padded, made_up, wrong_format, got \["rude"\]/);
      edit(WORLD_FILES.sftTest, () => 0, (l) => l.replace('"split":"test"', '"split":"test","flaws":["padded"]'), /sft-test\.jsonl, line 1, field "meta\.flaws": expected no flaws/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('data/world: replyFlaws on hand-written replies', () => {
  const none = { padded: false, madeUp: false, wrongFormat: false, refused: false };
  it('flags padding, made-up answers, wrong formats and needless refusals, whatever the content', () => {
    const cases: [string, string, Partial<ReplyFlaws>][] = [
      ['What is 7 + 5?', '12', {}], ['What is 7 + 5?', 'Sure! 13', { padded: true }], ['What is 7 + 5?', '12. I hope this helps.', { padded: true }],
      ['What is 7 + 5?', REFUSAL, { refused: true }], ['What is 7 + 5?', `Of course. ${REFUSAL}`, { padded: true, refused: true }],
      ['What does a zebra eat?', REFUSAL, {}], ['What does a zebra eat?', "I don't know.", {}], ['What does a zebra eat?', '', {}],
      ['What does a zebra eat?', 'A zebra eats grass.', { madeUp: true }], ['What does a zebra eat?', 'Sure! grass', { padded: true, madeUp: true }],
      ['What does a fox eat?', 'A fox eats bones.', {}],
      ['Make a bulleted list of red, cat, lamp.', '- red\n- cat\n- lamp', {}], ['Make a bulleted list of red, cat, lamp.', '- dog\n- cup', {}],
      ['Make a bulleted list of red, cat, lamp.', 'red, cat, lamp', { wrongFormat: true }],
      ['Make a bulleted list of red, cat, lamp.', 'Sure!\n1. red\n2. cat\n3. lamp', { padded: true, wrongFormat: true }],
      ['Join these words with commas: red cat lamp.', 'red, cat, lamp.', {}], ['Join these words with commas: red cat lamp.', '* red\n* cat', { wrongFormat: true }],
      ['Describe a fox in key: value lines.', 'sound: barks\nfood: bones\nhome: a den', {}],
      ['Describe a fox in key: value lines.', 'A fox yips, eats berries and lives in a den.', { wrongFormat: true }],
      ['Describe a fox in key: value lines.', REFUSAL, { refused: true }],
    ];
    for (const [prompt, text, want] of cases) {
      assert.deepEqual(oracleJudge.flaws(prompt, text), { ...none, ...want }, `${prompt} -> ${JSON.stringify(text)}`);
      const task = oracleJudge.task(prompt);
      assert.deepEqual(replyFlaws(task, text), { ...none, ...want });
    }
    assert.throws(() => replyFlaws({ category: 'arithmetic' }, '12'), /no family and params/);
  });

  it('reads a reply\'s layout', () => {
    const cases: [string, string][] = [
      ['- a\n- b', 'bullets'], ['* a\n\u2022 b', 'bullets'], ['1. a\n2) b', 'numbered'], ['a, b, c', 'commas'], ['a, b, c.', 'commas'],
      ['name: Mia\ntown: Oakton', 'kv'], ['A fox yips, eats berries and lives in a den.', 'other'], ['12', 'other'], ['- a\n2. b', 'other'],
    ];
    for (const [text, want] of cases) assert.equal(replyFormat(text), want, JSON.stringify(text));
  });
});
