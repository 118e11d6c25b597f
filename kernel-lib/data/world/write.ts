// Writing a generated world to a folder: the corpus, the facts, the records as
// JSONL (keys in a fixed order, so the bytes are stable) and as Arrow IPC, and
// a manifest with the options, counts and each file's sha256.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Conversation, Message, PreferencePair } from '../records';
import { WORLD_FAMILIES } from './families';
import type { WorldData } from './generate';
import type { WorldOptions } from './options';
import { PREFERENCE_RULES } from './preferences';
import { SFT_FLAWS, recordFlaws } from './flaws';
import { conversationsToArrow, preferencesToArrow } from './arrow';

export const WORLD_FILES = {
  corpus: 'corpus.txt',
  facts: 'facts.json',
  sftTrain: 'sft-train.jsonl',
  sftTest: 'sft-test.jsonl',
  preferencesTrain: 'preferences-train.jsonl',
  preferencesTest: 'preferences-test.jsonl',
  sftTrainArrow: 'sft-train.arrow',
  sftTestArrow: 'sft-test.arrow',
  preferencesTrainArrow: 'preferences-train.arrow',
  preferencesTestArrow: 'preferences-test.arrow',
  manifest: 'manifest.json',
} as const;

export interface WorldManifest {
  generator: string;
  seed: number;
  options: WorldOptions;
  families: string[];
  rules: string[];
  counts: {
    corpusParagraphs: number;
    sftTrain: Record<string, number>;
    /** Training demonstrations carrying each flaw (one can carry two), and those with none. */
    sftTrainFlaws: Record<string, number>;
    sftTest: Record<string, number>;
    preferencesTrain: Record<string, number>;
    preferencesTest: Record<string, number>;
  };
  /** Every other file of the folder: its size in bytes and sha256 (hex). */
  files: Record<string, { bytes: number; sha256: string }>;
}

const messages = (ms: Message[]): Message[] => ms.map((m) => ({ role: m.role, content: m.content }));

/** Known meta keys first, in this order, then any others as they come. */
function orderedMeta(meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!meta) return undefined;
  const order = ['split', 'rule', 'flaws', 'key', 'template', 'answer', 'params'];
  const out: Record<string, unknown> = {};
  for (const k of order) if (k in meta) out[k] = meta[k];
  for (const k of Object.keys(meta)) if (!(k in out)) out[k] = meta[k];
  return out;
}

export function conversationLine(c: Conversation): string {
  return JSON.stringify({
    kind: c.kind, messages: messages(c.messages), source: c.source, id: c.id, category: c.category, meta: orderedMeta(c.meta),
  });
}

export function preferenceLine(p: PreferencePair): string {
  return JSON.stringify({
    kind: p.kind, prompt: messages(p.prompt), chosen: messages(p.chosen), rejected: messages(p.rejected),
    source: p.source, id: p.id, category: p.category, meta: orderedMeta(p.meta),
  });
}

const jsonl = (lines: string[]) => Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function countBy<T>(xs: T[], key: (x: T) => string, order: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of order) out[k] = 0;
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

/** Every file of the world folder and its bytes, the manifest last. */
export function worldFiles(data: WorldData): [string, Uint8Array][] {
  const files: [string, Uint8Array][] = [
    [WORLD_FILES.corpus, Buffer.from(data.corpus, 'utf8')],
    [WORLD_FILES.facts, Buffer.from(`${JSON.stringify(data.facts, null, 1)}\n`, 'utf8')],
    [WORLD_FILES.sftTrain, jsonl(data.sftTrain.map(conversationLine))],
    [WORLD_FILES.sftTest, jsonl(data.sftTest.map(conversationLine))],
    [WORLD_FILES.preferencesTrain, jsonl(data.preferencesTrain.map(preferenceLine))],
    [WORLD_FILES.preferencesTest, jsonl(data.preferencesTest.map(preferenceLine))],
    [WORLD_FILES.sftTrainArrow, conversationsToArrow(data.sftTrain)],
    [WORLD_FILES.sftTestArrow, conversationsToArrow(data.sftTest)],
    [WORLD_FILES.preferencesTrainArrow, preferencesToArrow(data.preferencesTrain)],
    [WORLD_FILES.preferencesTestArrow, preferencesToArrow(data.preferencesTest)],
  ];
  const byFamily = (xs: { category?: string }[]) => countBy(xs, (x) => x.category ?? '', WORLD_FAMILIES);
  const byRule = (xs: PreferencePair[]) => countBy(xs, (x) => String(x.meta?.rule), PREFERENCE_RULES);
  const manifest: WorldManifest = {
    generator: 'scripts/make-world.ts',
    seed: data.options.seed,
    options: data.options,
    families: [...WORLD_FAMILIES],
    rules: [...PREFERENCE_RULES],
    counts: {
      corpusParagraphs: data.corpus.split('\n\n').length,
      sftTrain: byFamily(data.sftTrain),
      sftTrainFlaws: Object.fromEntries([
        ...SFT_FLAWS.map((f) => [f, data.sftTrain.filter((c) => recordFlaws(c).includes(f)).length]),
        ['clean', data.sftTrain.filter((c) => recordFlaws(c).length === 0).length],
      ]),
      sftTest: byFamily(data.sftTest),
      preferencesTrain: byRule(data.preferencesTrain),
      preferencesTest: byRule(data.preferencesTest),
    },
    files: Object.fromEntries(files.map(([name, bytes]) => [name, { bytes: bytes.length, sha256: sha256(bytes) }])),
  };
  files.push([WORLD_FILES.manifest, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8')]);
  return files;
}

/** Writes the world into `dir` (each file to a temporary name, then renamed) and returns the manifest. */
export function writeWorld(data: WorldData, dir: string): WorldManifest {
  fs.mkdirSync(dir, { recursive: true });
  const files = worldFiles(data);
  for (const [name, bytes] of files) {
    const target = path.join(dir, name);
    const tmp = `${target}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, target);
  }
  return JSON.parse(Buffer.from(files[files.length - 1][1]).toString('utf8')) as WorldManifest;
}
