// The sizes and seed of a generated world, documented per field and checked on
// creation. The defaults make the committed set in data/world/.

export interface WorldOptions {
  /** Seeds the facts, the corpus, the held-out splits, the tasks and the pairs (each its own stream). */
  seed: number;
  /** Paragraphs of the pre-training corpus (at least one per person, animal and town is always written). */
  corpusParagraphs: number;
  /** Train conversations per task family (drawn with replacement from the train keys). */
  tasksPerFamily: number;
  /** Test conversations per family: up to this many distinct prompts over the held-out keys. */
  testPerFamily: number;
  /** Preference pairs over train keys. */
  preferencePairs: number;
  /** Preference pairs over held-out keys. */
  preferenceTestPairs: number;
  /** Share of conversations and pairs that open with a system message. */
  systemShare: number;
}

export const DEFAULT_WORLD_SEED = 7;

export const DEFAULT_WORLD_OPTIONS: Readonly<WorldOptions> = {
  seed: DEFAULT_WORLD_SEED,
  corpusParagraphs: 2600,
  tasksPerFamily: 300,
  testPerFamily: 50,
  preferencePairs: 1500,
  preferenceTestPairs: 300,
  systemShare: 0.2,
};

/** The options with defaults filled in; throws naming the field on a bad value. */
export function worldOptions(given: Partial<WorldOptions> = {}): WorldOptions {
  const o: WorldOptions = { ...DEFAULT_WORLD_OPTIONS, ...given };
  for (const [k, v] of Object.entries(o) as [keyof WorldOptions, number][]) {
    if (k === 'systemShare') {
      if (!(typeof v === 'number' && v >= 0 && v <= 1)) throw new Error(`world options: systemShare must be in [0, 1], got ${v}`);
    } else if (!Number.isInteger(v) || (k !== 'seed' && v < 0)) {
      throw new Error(`world options: ${k} must be ${k === 'seed' ? 'an integer' : 'a whole number >= 0'}, got ${v}`);
    }
  }
  for (const k of Object.keys(given)) {
    if (!(k in DEFAULT_WORLD_OPTIONS)) throw new Error(`world options: unknown option "${k}" (known: ${Object.keys(DEFAULT_WORLD_OPTIONS).join(', ')})`);
  }
  return o;
}

export const SYSTEM_PROMPTS = ['You are a helpful assistant.', 'You are a helpful assistant. Keep your answers short.'] as const;
