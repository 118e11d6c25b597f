// Reading a written world back: the JSONL files into records, each line checked
// against the canonical shape, with errors that name the file, line and field.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError, type Conversation, type Message, type PreferencePair } from '../records';
import type { WorldFacts } from './facts';
import { isWorldFamily, WORLD_FAMILIES } from './families';
import type { Split } from './family';
import type { WorldData } from './generate';
import { PREFERENCE_RULES } from './preferences';
import { SFT_FLAWS } from './flaws';
import { WORLD_FILES, sha256, type WorldManifest } from './write';

export interface LoadedWorld extends WorldData {
  manifest: WorldManifest;
}

export interface LoadWorldOptions {
  /** Check every file's sha256 against manifest.json first (default true). */
  verify?: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function readText(dir: string, name: string): string {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) throw new DataError({ file }, 'file not found (make it with: npx tsx scripts/make-world.ts)');
  return fs.readFileSync(file, 'utf8');
}

function messagesAt(v: unknown, file: string, line: number, field: string): Message[] {
  if (!Array.isArray(v) || v.length === 0) throw new DataError({ file, line, field }, 'expected a non-empty array of messages');
  return v.map((m, i) => {
    const at = { file, line, field: `${field}[${i}]` };
    if (!isObj(m)) throw new DataError(at, `expected a message object, got ${JSON.stringify(m)}`);
    if (m.role !== 'system' && m.role !== 'user' && m.role !== 'assistant') {
      throw new DataError({ ...at, field: `${at.field}.role` }, `expected "system", "user" or "assistant", got ${JSON.stringify(m.role)}`);
    }
    if (typeof m.content !== 'string') throw new DataError({ ...at, field: `${at.field}.content` }, `expected a string, got ${typeof m.content}`);
    return { role: m.role, content: m.content };
  });
}

/** Parses and checks every line of a world JSONL file; `kind` and `split` are what the file must hold. */
export function parseWorldJsonl(text: string, file: string, kind: 'conversation', split: Split): Conversation[];
export function parseWorldJsonl(text: string, file: string, kind: 'preference', split: Split): PreferencePair[];
export function parseWorldJsonl(text: string, file: string, kind: 'conversation' | 'preference', split: Split): (Conversation | PreferencePair)[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((raw, i) => {
    const line = i + 1;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      throw new DataError({ file, line }, `expected one JSON record per line (${(e as Error).message})`);
    }
    if (!isObj(v)) throw new DataError({ file, line }, `expected a JSON object, got ${JSON.stringify(v)?.slice(0, 40)}`);
    if (v.kind !== kind) throw new DataError({ file, line, field: 'kind' }, `expected "${kind}", got ${JSON.stringify(v.kind)}`);
    for (const f of ['source', 'id'] as const) {
      if (typeof v[f] !== 'string') throw new DataError({ file, line, field: f }, `expected a string, got ${JSON.stringify(v[f])}`);
    }
    if (!isWorldFamily(v.category)) {
      throw new DataError({ file, line, field: 'category' }, `expected a task family (${WORLD_FAMILIES.join(', ')}), got ${JSON.stringify(v.category)}`);
    }
    const meta = v.meta;
    if (!isObj(meta)) throw new DataError({ file, line, field: 'meta' }, 'expected an object');
    if (meta.split !== split) throw new DataError({ file, line, field: 'meta.split' }, `expected "${split}", got ${JSON.stringify(meta.split)}`);
    if (!isObj(meta.params) || typeof meta.params.op !== 'string') throw new DataError({ file, line, field: 'meta.params' }, 'expected an object with "op"');
    if (typeof meta.answer !== 'string') throw new DataError({ file, line, field: 'meta.answer' }, 'expected the reference reply as a string');
    if (meta.flaws !== undefined) {
      const known = SFT_FLAWS as readonly unknown[];
      if (split !== 'train' || kind !== 'conversation') throw new DataError({ file, line, field: 'meta.flaws' }, 'expected no flaws: only SFT training demonstrations carry them');
      if (!Array.isArray(meta.flaws) || meta.flaws.length === 0 || !meta.flaws.every((f) => known.includes(f))) {
        throw new DataError({ file, line, field: 'meta.flaws' }, `expected a non-empty list of ${SFT_FLAWS.join(', ')}, got ${JSON.stringify(meta.flaws)}`);
      }
    }
    const base = { source: v.source as string, id: v.id as string, category: v.category, meta };
    if (kind === 'conversation') return { kind, messages: messagesAt(v.messages, file, line, 'messages'), ...base };
    if (!(PREFERENCE_RULES as readonly unknown[]).includes(meta.rule)) {
      throw new DataError({ file, line, field: 'meta.rule' }, `expected one of ${PREFERENCE_RULES.join(', ')}, got ${JSON.stringify(meta.rule)}`);
    }
    return {
      kind,
      prompt: messagesAt(v.prompt, file, line, 'prompt'),
      chosen: messagesAt(v.chosen, file, line, 'chosen'),
      rejected: messagesAt(v.rejected, file, line, 'rejected'),
      ...base,
    };
  });
}

/** Checks each file listed in the manifest against its size and sha256. */
export function verifyWorld(dir: string, manifest: WorldManifest): void {
  for (const [name, want] of Object.entries(manifest.files)) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) throw new DataError({ file }, 'listed in manifest.json but missing');
    const got = sha256(fs.readFileSync(file));
    if (got !== want.sha256) throw new DataError({ file }, `sha256 ${got} differs from manifest.json's ${want.sha256}; regenerate with npx tsx scripts/make-world.ts`);
  }
}

/** Reads the world written by writeWorld (by default data/world/). */
export function loadWorld(dir: string, options: LoadWorldOptions = {}): LoadedWorld {
  const manifestFile = path.join(dir, WORLD_FILES.manifest);
  let manifest: WorldManifest;
  try {
    manifest = JSON.parse(readText(dir, WORLD_FILES.manifest)) as WorldManifest;
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError({ file: manifestFile }, `expected JSON (${(e as Error).message})`);
  }
  if (options.verify ?? true) verifyWorld(dir, manifest);
  const jsonlFile = (name: string) => [readText(dir, name), path.join(dir, name)] as const;
  return {
    manifest,
    options: manifest.options,
    facts: JSON.parse(readText(dir, WORLD_FILES.facts)) as WorldFacts,
    corpus: readText(dir, WORLD_FILES.corpus),
    sftTrain: parseWorldJsonl(...jsonlFile(WORLD_FILES.sftTrain), 'conversation', 'train'),
    sftTest: parseWorldJsonl(...jsonlFile(WORLD_FILES.sftTest), 'conversation', 'test'),
    preferencesTrain: parseWorldJsonl(...jsonlFile(WORLD_FILES.preferencesTrain), 'preference', 'train'),
    preferencesTest: parseWorldJsonl(...jsonlFile(WORLD_FILES.preferencesTest), 'preference', 'test'),
  };
}
