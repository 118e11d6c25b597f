// The synthetic task world: the generator is deterministic and reproduces the
// committed files; every family's checker accepts its references and rejects
// wrong replies; test keys are held out of train; the judge agrees with every
// pair and applies its rules to hand-written replies; the corpus states the
// facts the lookups ask about, without chat or question-answer format. The
// flawed SFT demonstrations are tested in world_flaws.test.ts.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataError, type Conversation, type PreferencePair } from '../../kernel-lib/data/records';
import {
  FAMILIES, REFUSAL, SCORES, WORLD_FAMILIES, WORLD_FILES, buildFacts, checkReply, conversationsFromArrow, createJudge,
  familyNamed, FULL_WORLD_OPTIONS, generateWorld, loadWorld, oracleJudge, parsePrompt, preferencesFromArrow, recordFlaws, worldFiles, worldOptions,
  type LoadedWorld, type Params,
} from '../../kernel-lib/data/world';
import { makeRng } from '../../kernel-lib/data/world/rng';
import { numberWord } from '../../kernel-lib/data/world/text';

const ROOT = path.join(__dirname, '..', '..');
const DIR = path.join(ROOT, 'data', 'world');
const SMALL = { seed: 11, corpusParagraphs: 120, tasksPerFamily: 30, testPerFamily: 8, preferencePairs: 60, preferenceTestPairs: 20 };

const userText = (c: Conversation) => c.messages.filter((m) => m.role === 'user').pop()!.content;
const answer = (r: Conversation | PreferencePair) => String(r.meta!.answer);
const params = (r: Conversation | PreferencePair) => r.meta!.params as Params;

let world: LoadedWorld;
before(() => {
  world = loadWorld(DIR); // verifies every file's sha256 against manifest.json
});

describe('data/world: generator', () => {
  it('gives identical files for the same seed and sizes, and a different world for another seed', () => {
    const a = worldFiles(generateWorld(SMALL));
    const b = worldFiles(generateWorld(SMALL));
    assert.deepEqual(a.map(([n]) => n), b.map(([n]) => n));
    a.forEach(([name, bytes], i) => assert.ok(Buffer.from(bytes).equals(Buffer.from(b[i][1])), `${name} differs between two runs`));
    const other = generateWorld({ ...SMALL, seed: 12 });
    const same = generateWorld(SMALL);
    assert.notEqual(other.corpus, same.corpus);
    assert.notDeepEqual(other.facts.people, same.facts.people);
    assert.notDeepEqual(other.sftTrain.map(userText), same.sftTrain.map(userText));
  });

  it('builds a consistent world for other seeds (every pair checked against the judge as it is made)', () => {
    for (let seed = 0; seed < 8; seed++) {
      const w = generateWorld({ seed, corpusParagraphs: 40, tasksPerFamily: 20, testPerFamily: 10, preferencePairs: 150, preferenceTestPairs: 50 });
      const judge = createJudge(w.facts);
      for (const c of [...w.sftTrain, ...w.sftTest]) assert.equal(judge.score(c, answer(c)), 1, `seed ${seed}: ${c.id}`);
      const clean = w.sftTrain.filter((c) => c.meta!.flaws === undefined);
      assert.ok(clean.length > 0 && clean.length < w.sftTrain.length, `seed ${seed}: ${clean.length} clean of ${w.sftTrain.length}`);
      for (const c of clean) assert.equal(c.messages[c.messages.length - 1].content, answer(c), `seed ${seed}: ${c.id}`);
    }
  });

  it('keeps facts and corpus when only the task sizes change', () => {
    const a = generateWorld(SMALL);
    const b = generateWorld({ ...SMALL, tasksPerFamily: 5, preferencePairs: 7 });
    assert.equal(a.corpus, b.corpus);
    assert.deepEqual(a.facts, b.facts);
  });

  it('mixes skill paragraphs into the corpus when asked: statements over training keys, tasks and pairs unchanged', () => {
    const plain = generateWorld(SMALL);
    const w = generateWorld({ ...SMALL, skillParagraphs: 200 });
    const plainParagraphs = new Set(plain.corpus.trimEnd().split('\n\n'));
    const paragraphs = w.corpus.trimEnd().split('\n\n');
    assert.equal(w.corpus.endsWith('\n'), plain.corpus.endsWith('\n'));
    assert.equal(paragraphs.length, plainParagraphs.size + 200);
    assert.ok([...plainParagraphs].every((p) => paragraphs.includes(p)), 'every corpus paragraph is kept');
    assert.notEqual(paragraphs.slice(0, 200).filter((p) => plainParagraphs.has(p)).length, 200, 'skills are shuffled in, not appended');
    assert.deepEqual(w.sftTrain, plain.sftTrain);
    assert.deepEqual(w.preferencesTest, plain.preferencesTest);
    const skills = paragraphs.filter((p) => !plainParagraphs.has(p));
    assert.ok(skills.some((p) => /In increasing order|From smallest to largest/.test(p)) && skills.some((p) => /as a bulleted list:\n- /.test(p)), 'sorting and formatting are stated');
    assert.ok(skills.every((p) => !p.includes('?') && !p.includes('<|')), 'statements, not requests or chat');
    // Held out: a sorted list or a formatted list of a test task is never stated.
    const text = skills.join('\n');
    for (const t of w.sftTest.filter((c) => c.category === 'sorting' || c.category === 'formatting')) {
      assert.ok(!text.includes(answer(t)), `${t.id}: its answer ${JSON.stringify(answer(t))} is in the skill paragraphs`);
    }
    assert.throws(() => generateWorld({ ...SMALL, skillParagraphs: -1 }), /skillParagraphs must be a whole number >= 0/);
  });

  it('the full mode world (FULL_WORLD_OPTIONS) keeps the committed held-out tasks and pairs, with skills and more demonstrations', function () {
    this.timeout(60_000);
    const full = generateWorld({ ...world.options, ...FULL_WORLD_OPTIONS });
    assert.deepEqual(full.sftTest, world.sftTest);
    assert.deepEqual(full.preferencesTrain, world.preferencesTrain);
    assert.deepEqual(full.preferencesTest, world.preferencesTest);
    assert.deepEqual(full.facts, world.facts);
    assert.equal(full.sftTrain.length, 1000 * world.manifest.families.length);
    assert.equal(full.corpus.trimEnd().split('\n\n').length, world.corpus.trimEnd().split('\n\n').length + 6000);
    const trainKeys = new Set(full.sftTrain.map((c) => `${c.category}:${c.meta!.key}`));
    assert.ok(world.sftTest.every((c) => !trainKeys.has(`${c.category}:${c.meta!.key}`)), 'no held-out key is demonstrated');
    // A chattier labelling pool: 700 of each family's 1,000 demonstrations padded; the other flaws at the committed shares.
    for (const family of world.manifest.families) {
      const demos = full.sftTrain.filter((c) => c.category === family);
      assert.equal(demos.filter((c) => recordFlaws(c).includes('padded')).length, 700, family);
    }
    assert.equal(full.sftTrain.filter((c) => recordFlaws(c).includes('made_up')).length, Math.round(1000 * world.options.sftFlaws.madeUp));
  });

  it('reproduces the committed data/world files byte for byte (in memory and through scripts/make-world.ts)', function () {
    this.timeout(120_000);
    for (const [name, bytes] of worldFiles(generateWorld())) {
      assert.ok(Buffer.from(bytes).equals(fs.readFileSync(path.join(DIR, name))), `${name} differs from the committed file`);
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'world-'));
    try {
      const run = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(ROOT, 'scripts/make-world.ts'), '--out', tmp], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      const manifest = JSON.parse(fs.readFileSync(path.join(tmp, WORLD_FILES.manifest), 'utf8'));
      assert.deepEqual(manifest, world.manifest);
      assert.ok(fs.readFileSync(path.join(tmp, WORLD_FILES.manifest)).equals(fs.readFileSync(path.join(DIR, WORLD_FILES.manifest))));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('has every family in train and test, sizes as in the manifest', () => {
    const o = world.options;
    for (const f of WORLD_FAMILIES) {
      assert.equal(world.sftTrain.filter((c) => c.category === f).length, o.tasksPerFamily, f);
      const nTest = world.sftTest.filter((c) => c.category === f).length;
      assert.ok(nTest >= 20 && nTest <= o.testPerFamily, `${f}: ${nTest} test tasks`);
    }
    assert.equal(world.preferencesTrain.length, o.preferencePairs);
    assert.equal(world.preferencesTest.length, o.preferenceTestPairs);
    for (const rule of world.manifest.rules) assert.ok(world.manifest.counts.preferencesTrain[rule] > 0, rule);
  });

  it('rejects bad options naming the field', () => {
    assert.throws(() => worldOptions({ tasksPerFamily: -1 }), /tasksPerFamily/);
    assert.throws(() => worldOptions({ seed: 1.5 }), /seed must be an integer/);
    assert.throws(() => worldOptions({ tasks: 3 } as never), /unknown option "tasks"/);
  });
});

describe('data/world: checkers', () => {
  const all = () => [...world.sftTrain, ...world.sftTest];

  it('accept the reference of every task, and harmless variants of it', () => {
    for (const c of all()) {
      const ref = answer(c);
      if (c.meta!.flaws === undefined) assert.equal(c.messages[c.messages.length - 1].content, ref, c.id);
      for (const reply of [ref, ` ${ref} `, ref.endsWith('.') ? ref : `${ref}.`]) {
        const r = checkReply(c, reply);
        assert.ok(r.correct, `${c.id}: ${JSON.stringify(reply)} rejected: ${r.reason}`);
      }
      if (c.category !== 'formatting' && !(c.category === 'string_edit' && params(c).op === 'upper')) {
        assert.ok(checkReply(c, ref.toLowerCase()).correct, `${c.id}: lower case rejected`);
      }
    }
  });

  it('reject an empty reply, the family\'s wrong reply, and another task\'s answer', () => {
    const facts = world.facts;
    const rng = makeRng(1, 'test-wrong');
    for (const c of all()) {
      const fam = familyNamed(c.category!);
      assert.equal(checkReply(c, '').correct, false, `${c.id}: empty accepted`);
      const wrong = fam.wrong(params(c), facts, rng);
      assert.equal(checkReply(c, wrong).correct, false, `${c.id}: wrong reply ${JSON.stringify(wrong)} accepted`);
      const others = world.sftTrain.filter((o) => o.category === c.category && o.meta!.key !== c.meta!.key
        && answer(o).toLowerCase() !== answer(c).toLowerCase());
      if (others.length) {
        const other = answer(rng.pick(others));
        assert.equal(checkReply(c, other).correct, false, `${c.id}: ${JSON.stringify(other)} of another task accepted for ${JSON.stringify(answer(c))}`);
      }
    }
  });

  it('reject off-by-one numbers and the answer about a different entity', () => {
    for (const c of all()) {
      if (/^\d+$/.test(answer(c))) {
        const n = Number(answer(c));
        assert.equal(checkReply(c, String(n + 1)).correct, false, c.id);
        assert.equal(checkReply(c, numberWord(n + 1)).correct, false, c.id);
      }
    }
    const facts = world.facts;
    const [mia, tom] = [facts.people[0], facts.people[1]];
    const ask = (text: string) => ({ category: 'person_lookup', meta: { params: parsePrompt(facts, text)!.params } });
    assert.equal(checkReply(ask(`Where does ${mia.name} live?`), `${tom.name} lives in ${tom.town}.`).correct, false);
    assert.equal(checkReply(ask(`How old is ${mia.name}?`), `${tom.name} is ${tom.age} years old.`).correct, false);
    assert.equal(checkReply(ask(`How old is ${mia.name}?`), String(tom.age)).correct, false);
    const fox = { category: 'animal_lookup', meta: { params: { op: 'food', animal: 'fox', value: 'berries' } } };
    assert.ok(checkReply(fox, 'berries').correct);
    assert.equal(checkReply(fox, 'A dog eats bones.').correct, false);
    assert.equal(checkReply(fox, 'A dog eats berries.').correct, false);
  });

  it('follow each family\'s stated variants on hand-written replies', () => {
    const facts = buildFacts(7);
    const cases: [string, string, boolean][] = [
      ['What is 7 + 5?', '12', true], ['What is 7 + 5?', 'The answer is 12.', true], ['What is 7 + 5?', '7 + 5 = 12', true],
      ['What is 7 + 5?', '12 13', false], ['Subtract 3 from 9.', '6', true], ['Subtract 3 from 9.', '-6', false],
      ['Make "lamp" uppercase.', 'LAMP', true], ['Make "lamp" uppercase.', '"LAMP".', true], ['Make "lamp" uppercase.', 'Lamp', false],
      ['Reverse the word "lamp".', 'PMAL', true], ['Reverse the word "lamp".', 'lamp', false],
      ['What is the first letter of "lamp"?', 'L', true], ['What is the last letter of "lamp"?', 'l', false],
      ['Count the word "cat" in: cat, dog, cat.', 'two', true], ['Count the word "cat" in: cat, dog, cat.', '3', false],
      ['Put 7, 2, 9 in increasing order.', '2, 7, 9', true], ['Put 7, 2, 9 in increasing order.', '[2, 7, 9]', true],
      ['Put 7, 2, 9 in increasing order.', '2 7 9', true], ['Put 7, 2, 9 in increasing order.', '9, 7, 2', false],
      ['Which is bigger, 14 or 9?', '14', true], ['Which is bigger, 14 or 9?', '9', false],
      ['What day comes after Sunday?', 'Monday', true], ['What day comes after Sunday?', 'monday.', true],
      ['What number comes before 10?', '9', true], ['What letter comes after "c"?', 'd', true],
      ['What does a fox eat?', 'A fox eats berries.', true], ['What does a fox eat?', 'It eats berries.', true],
      ['Where does an owl live?', 'in a tree', true], ['Where does an owl live?', 'tree', true], ['Where does an owl live?', 'a nest', false],
      ['What does a zebra eat?', REFUSAL, true], ['What does a zebra eat?', "I don't know.", true], ['What does a zebra eat?', 'grass', false],
      ['Make a bulleted list of red, cat, lamp.', '- red\n- cat\n- lamp', true], ['Make a bulleted list of red, cat, lamp.', '* red\n* cat\n* lamp', true],
      ['Make a bulleted list of red, cat, lamp.', '- red\n- lamp\n- cat', false], ['Make a numbered list of red, cat, lamp.', '1) red\n2) cat\n3) lamp', true],
      ['Make a numbered list of red, cat, lamp.', '1. red\n1. cat\n1. lamp', false], ['Join these words with commas: red cat lamp.', 'red,cat,lamp', true],
      ['Describe a fox in key: value lines.', 'home: den\nsound: yips\nfood: berries', true],
      ['Describe a fox in key: value lines.', 'sound: yips\nfood: berries', false],
    ];
    for (const [prompt, reply, want] of cases) {
      const task = parsePrompt(facts, prompt);
      assert.ok(task, `not parsed: ${prompt}`);
      const got = checkReply({ category: task.family, meta: { params: task.params } }, reply);
      assert.equal(got.correct, want, `${prompt} -> ${JSON.stringify(reply)}: ${got.reason ?? 'accepted'}`);
      if (!got.correct) assert.match(got.reason ?? '', /\S/);
    }
  });

  it('read every prompt back into its own family, template and parameters', () => {
    for (const r of [...world.sftTrain, ...world.sftTest, ...world.preferencesTrain]) {
      const text = r.kind === 'conversation' ? userText(r) : r.prompt[r.prompt.length - 1].content;
      const t = parsePrompt(world.facts, text);
      assert.ok(t, `${r.id}: ${text} not parsed`);
      assert.equal(t.family, r.category, `${r.id}: ${text}`);
      assert.equal(t.template, r.meta!.template, `${r.id}: ${text}`);
      assert.deepEqual(t.params, params(r), `${r.id}: ${text}`);
    }
  });
});

describe('data/world: held-out split', () => {
  it('never puts a test key of a family in train (SFT and preference pairs)', () => {
    const keys = (rs: (Conversation | PreferencePair)[]) => new Set(rs.map((r) => `${r.category}|${r.meta!.key}`));
    const train = keys([...world.sftTrain, ...world.preferencesTrain]);
    const test = keys([...world.sftTest, ...world.preferencesTest]);
    const leaked = [...test].filter((k) => train.has(k));
    assert.deepEqual(leaked, []);
    for (const f of WORLD_FAMILIES) assert.ok([...test].some((k) => k.startsWith(`${f}|`)), `${f} has no test keys`);
    assert.ok(world.sftTest.every((c) => c.meta!.split === 'test') && world.sftTrain.every((c) => c.meta!.split === 'train'));
  });

  it('holds out whole unknown subjects for refusals and whole words for string edits', () => {
    const subjects = (rs: Conversation[], f: string, k: string) => new Set(rs.filter((c) => c.category === f).map((c) => String(params(c)[k])));
    for (const [f, k] of [['refusal', 'subject'], ['string_edit', 'word']]) {
      const train = subjects(world.sftTrain, f, k);
      for (const s of subjects(world.sftTest, f, k)) assert.ok(!train.has(s), `${f}: ${s} in train and test`);
    }
  });

  it('documents every family, what it holds out, and every rule in data/README.md', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'data', 'README.md'), 'utf8');
    for (const f of FAMILIES) {
      assert.ok(f.heldOut.length > 20 && f.description.length > 20, f.name);
      assert.ok(readme.includes(`\`${f.name}\``), `data/README.md does not describe ${f.name}`);
    }
    for (const rule of world.manifest.rules) assert.ok(readme.includes(`\`${rule}\``), `data/README.md does not describe ${rule}`);
    for (const name of Object.values(WORLD_FILES)) assert.ok(readme.includes(name), `data/README.md does not describe ${name}`);
    for (const [name, file] of Object.entries(world.manifest.files)) {
      assert.ok(readme.includes(`| ${name} | ${file.bytes.toLocaleString('en-US')} |`), `data/README.md gives another size for ${name} (manifest: ${file.bytes})`);
    }
    for (const [flaw, n] of Object.entries(world.manifest.counts.sftTrainFlaws)) {
      assert.ok(readme.includes(flaw === 'clean' ? `${n.toLocaleString('en-US')} of the` : `\`${flaw}\``), `data/README.md does not describe ${flaw} (${n})`);
    }
    for (const [option, share] of Object.entries(world.options.sftFlaws)) assert.ok(readme.includes(`\`sftFlaws.${option}\` (${share})`), option);
  });
});

describe('data/world: preference pairs and judge', () => {
  it('prefers chosen over rejected on every pair, by the score its rule gives', () => {
    const judge = createJudge(world.facts);
    const expected: Record<string, number> = {
      correct_over_wrong: SCORES.wrong, concise_over_padded: SCORES.padded, asked_format_over_other: SCORES.otherFormat,
      refusal_over_made_up: SCORES.wrong, answer_over_refusal: SCORES.wrong,
    };
    for (const p of [...world.preferencesTrain, ...world.preferencesTest]) {
      assert.equal(judge.compare(p, p.chosen, p.rejected), 'a', p.id);
      assert.equal(judge.compare(p, p.rejected, p.chosen), 'b', p.id);
      assert.equal(judge.score(p, p.chosen), SCORES.exact, p.id);
      assert.equal(judge.score(p, p.rejected), expected[String(p.meta!.rule)], `${p.id} (${p.meta!.rule})`);
      assert.equal(p.chosen[0].content, answer(p));
      assert.ok(checkReply(p, p.chosen).correct && !checkReply(p, p.rejected).correct, p.id);
    }
  });

  it('scores hand-written replies as its rules say', () => {
    const facts = oracleJudge.facts;
    const mia = facts.people[0];
    const otherThing = facts.things.find((t) => t !== mia.thing)!;
    const cases: [string, string, number][] = [
      ['What is 7 + 5?', '12', 1], ['What is 7 + 5?', 'Sure! 12. I hope this helps.', 0.7], ['What is 7 + 5?', 'sure 12', 0.7],
      ['What is 7 + 5?', '13', 0], ['What is 7 + 5?', 'Sure! 13.', 0], ['What is 7 + 5?', '', 0], ['What is 7 + 5?', REFUSAL, 0],
      ['What is 7 + 5?', '12. The weather is nice.', 0],
      ['What does a fox eat?', 'A fox eats berries.', 1], ['What does a fox eat?', REFUSAL, 0], ['What does a fox eat?', 'A fox eats bones.', 0],
      ['What does a zebra eat?', REFUSAL, 1], ['What does a zebra eat?', `Of course. ${REFUSAL}`, 0.7], ['What does a zebra eat?', 'A zebra eats grass.', 0],
      [`What colour is ${mia.name}'s ${otherThing}?`, REFUSAL, 1], [`What colour is ${mia.name}'s ${mia.thing}?`, mia.colour, 1],
      ['Make a bulleted list of red, cat, lamp.', '- red\n- cat\n- lamp', 1],
      ['Make a bulleted list of red, cat, lamp.', 'Sure!\n- red\n- cat\n- lamp', 0.7],
      ['Make a bulleted list of red, cat, lamp.', 'red, cat, lamp', 0.4],
      ['Make a bulleted list of red, cat, lamp.', '1. red\n2. cat\n3. lamp', 0.4],
      ['Make a bulleted list of red, cat, lamp.', 'Here is the answer.\nred, cat and lamp', 0.1],
      ['Make a bulleted list of red, cat, lamp.', '- red\n- cat', 0],
      ['Describe a fox in key: value lines.', 'A fox yips, eats berries and lives in a den.', 0.4],
      ['Describe a fox in key: value lines.', 'A fox barks, eats berries and lives in a den.', 0],
    ];
    for (const [prompt, reply, want] of cases) {
      assert.equal(oracleJudge.score(prompt, reply), want, `${prompt} -> ${JSON.stringify(reply)}`);
    }
    assert.equal(oracleJudge.compare('What is 7 + 5?', '12', 'Sure! 12'), 'a');
    assert.equal(oracleJudge.compare('What is 7 + 5?', '13', '12'), 'b');
    assert.equal(oracleJudge.compare('What is 7 + 5?', '12', '12.'), 'tie');
    assert.equal(oracleJudge.compare('What is 7 + 5?', '13', '14'), 'tie');
    const withSystem = [{ role: 'system' as const, content: 'You are a helpful assistant.' }, { role: 'user' as const, content: 'What is 7 + 5?' }];
    assert.equal(oracleJudge.score(withSystem, [{ role: 'assistant', content: '12' }]), 1);
    assert.throws(() => oracleJudge.score('Tell me a joke.', 'No.'), /not a task of the world/);
  });
});

describe('data/world: corpus', () => {
  const sentences = () => world.corpus.split(/(?<=\.)\s+/);
  const stated = (words: string[]) => sentences().some((s) => words.every((w) => new RegExp(`(^|[^A-Za-z0-9])${w}([^A-Za-z0-9]|$)`).test(s)));

  it('is 300-600 kB of paragraphs', () => {
    const bytes = Buffer.byteLength(world.corpus);
    assert.ok(bytes > 300_000 && bytes < 600_000, `${bytes} bytes`);
  });

  it('states every fact the lookups ask about in a sentence beside its subject', () => {
    const f = world.facts;
    for (const p of f.people) {
      const pet = f.animals.find((a) => a.name === p.pet)!;
      assert.ok(stated([p.name, p.town]), `${p.name} ${p.town}`);
      assert.ok(stated([p.name, String(p.age)]), `${p.name} ${p.age}`);
      assert.ok(stated([p.name, p.thing, p.colour]), `${p.name} ${p.colour} ${p.thing}`);
      assert.ok(stated([p.name, String(p.pets), pet.plural]) || stated([p.name, numberWord(p.pets), pet.plural]), `${p.name} ${p.pets} ${pet.plural}`);
    }
    for (const a of f.animals) {
      for (const v of [a.sound, a.food, a.home]) assert.ok(stated([a.name, v]), `${a.name} ${v}`);
    }
    // And every reference answer of the lookup tasks is one of those facts.
    for (const c of [...world.sftTrain, ...world.sftTest].filter((x) => x.category!.endsWith('_lookup'))) {
      const p = params(c);
      const subject = String(p.name ?? p.animal);
      assert.ok(stated([subject, String(p.value)]) || stated([subject, numberWord(Number(p.value))]), `${c.id}`);
    }
  });

  it('has no chat markers, questions or answers, and never names an unknown subject', () => {
    const text = world.corpus;
    assert.ok(!text.includes('?'), 'a question mark');
    for (const marker of ['<|', '###', '</s>', '[INST]']) assert.ok(!text.includes(marker), marker);
    assert.doesNotMatch(text, /(^|\n|\. )(User|Assistant|System|Human|Q|A|Question|Answer|Instruction|Response):/);
    for (const u of [...world.facts.unknownPeople, ...world.facts.unknownAnimals]) {
      assert.doesNotMatch(text, new RegExp(`\\b${u}s?\\b`, 'i'), u);
    }
  });
});

describe('data/world: files', () => {
  it('loads the Arrow tables back into the same records as the JSONL files', () => {
    const read = (name: string) => fs.readFileSync(path.join(DIR, name));
    assert.deepEqual(conversationsFromArrow(read(WORLD_FILES.sftTrainArrow)), world.sftTrain);
    assert.deepEqual(conversationsFromArrow(read(WORLD_FILES.sftTestArrow)), world.sftTest);
    assert.deepEqual(preferencesFromArrow(read(WORLD_FILES.preferencesTrainArrow)), world.preferencesTrain);
    assert.deepEqual(preferencesFromArrow(read(WORLD_FILES.preferencesTestArrow)), world.preferencesTest);
  });

  it('names the file, line and field of a bad record', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'world-bad-'));
    try {
      for (const name of fs.readdirSync(DIR)) fs.copyFileSync(path.join(DIR, name), path.join(tmp, name));
      const file = path.join(tmp, WORLD_FILES.sftTest);
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      const expectError = (edit: (l: string) => string, pattern: RegExp) => {
        const copy = lines.slice();
        copy[2] = edit(copy[2]);
        fs.writeFileSync(file, copy.join('\n'));
        assert.throws(() => loadWorld(tmp, { verify: false }), (e: unknown) => e instanceof DataError && pattern.test(e.message));
      };
      expectError((l) => l.slice(0, 20), /sft-test\.jsonl, line 3: expected one JSON record per line/);
      expectError((l) => l.replace('"role":"user"', '"role":"robot"'), /line 3, field "messages\[\d\]\.role"/);
      expectError((l) => l.replace('"split":"test"', '"split":"train"'), /line 3, field "meta\.split": expected "test"/);
      expectError((l) => l.replace(/"category":"[a-z_]+"/, '"category":"poetry"'), /line 3, field "category"/);
      assert.throws(() => loadWorld(tmp), /sft-test\.jsonl: sha256 .* differs from manifest/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
