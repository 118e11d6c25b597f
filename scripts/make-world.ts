// Writes the synthetic task world into data/world/: the pre-training corpus,
// the facts, SFT conversations (train demonstrations with their stated share of
// flaws, clean held-out test references), preference pairs, the same tables as
// Arrow IPC files, and manifest.json with counts and sha256s. The same options
// give byte-identical files on every machine.
//   npx tsx scripts/make-world.ts [--out data/world] [--seed 7] [--paragraphs 2600] [--skills 0]
//     [--tasks 300] [--test 50] [--pairs 1500] [--test-pairs 300]
//     [--padded 0.3] [--made-up 0.4] [--wrong-format 0.3]
import * as path from 'node:path';
import { DEFAULT_WORLD_OPTIONS, generateWorld, writeWorld } from '../kernel-lib/data/world';

const args = process.argv.slice(2);
const opt = (name: string, fallback: number | string): string => {
  const i = args.indexOf(`--${name}`);
  if (i >= 0 && args[i + 1] === undefined) throw new Error(`make-world: --${name} needs a value`);
  return i >= 0 ? args[i + 1] : String(fallback);
};
const num = (name: string, fallback: number): number => {
  const v = Number(opt(name, fallback));
  if (!Number.isFinite(v)) throw new Error(`make-world: --${name} must be a number, got ${opt(name, fallback)}`);
  return v;
};

const d = DEFAULT_WORLD_OPTIONS;
const out = opt('out', path.join(__dirname, '..', 'data', 'world'));
const started = Date.now();
const world = generateWorld({
  seed: num('seed', d.seed),
  corpusParagraphs: num('paragraphs', d.corpusParagraphs),
  skillParagraphs: num('skills', d.skillParagraphs),
  tasksPerFamily: num('tasks', d.tasksPerFamily),
  testPerFamily: num('test', d.testPerFamily),
  preferencePairs: num('pairs', d.preferencePairs),
  preferenceTestPairs: num('test-pairs', d.preferenceTestPairs),
  sftFlaws: {
    padded: num('padded', d.sftFlaws.padded),
    madeUp: num('made-up', d.sftFlaws.madeUp),
    wrongFormat: num('wrong-format', d.sftFlaws.wrongFormat),
  },
});
const manifest = writeWorld(world, out);
for (const [name, f] of Object.entries(manifest.files)) console.log(`${name.padEnd(26)} ${String(f.bytes).padStart(9)} bytes  ${f.sha256.slice(0, 16)}`);
const flaws = manifest.counts.sftTrainFlaws;
console.log(`SFT train demonstrations: ${Object.entries(flaws).map(([k, n]) => `${n} ${k}`).join(', ')}`);
console.log(`wrote ${out} (seed ${manifest.seed}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
