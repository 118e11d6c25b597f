// The sizes and seed of a generated world, documented per field and checked on
// creation. The defaults make the committed set in data/world/.

/**
 * Shares of the SFT training demonstrations written with a flaw, as a real
 * labelling pool has them (the held-out test references stay clean). Each
 * share is exact: round(share * n) of a family's n demonstrations, chosen by a
 * seeded stream of its own, and the flaws are drawn independently (a padded
 * demonstration can also be made up). The preference pairs reject exactly
 * these flaws, so preference tuning has something to remove.
 */
export interface SftFlawShares {
  /** Share of every family's demonstrations that open with "Sure!" (and half of them close with "I hope this helps."). */
  padded: number;
  /** Share of the refusal family's demonstrations that give a made-up answer in the lookup's format instead of the refusal. */
  madeUp: number;
  /** Share of the formatting family's demonstrations written in another format than the asked one. */
  wrongFormat: number;
}

export interface WorldOptions {
  /** Seeds the facts, the corpus, the held-out splits, the tasks and the pairs (each its own stream). */
  seed: number;
  /** Paragraphs of the pre-training corpus (at least one per person, animal and town is always written). */
  corpusParagraphs: number;
  /**
   * Skill paragraphs mixed into the corpus (skills.ts): the algorithmic
   * families' operations stated as plain sentences over their training keys
   * ("In increasing order, 47, 32, 50 read 32, 47, 50."). 0 writes none.
   */
  skillParagraphs: number;
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
  /** Flawed shares of the SFT training demonstrations (see SftFlawShares). */
  sftFlaws: SftFlawShares;
}

export const DEFAULT_WORLD_SEED = 7;

// Why these shares: each flaw stays a minority of its family's demonstrations,
// so a model that imitates the majority still learns every task (content,
// refusal, asked format), while the flaw is common enough that an imitating
// model reproduces it where it is unsure. Greedy decoding keeps only the most
// likely next token, so a flaw shows in greedy replies only where it wins a
// decision: one fixed opener ("Sure!" in 30% of replies) beats an answer whose
// first token the model spreads over many guesses (arithmetic, sorting), and a
// made-up answer (40% of refusal demonstrations) starts like the 600 lookup
// answers to the same templates, so a held-out unknown name tips toward it. A
// wrong format (30%) is split over two other formats, so it wins fewer greedy
// decisions than its share. Sampled replies carry each flaw at roughly its share.
export const DEFAULT_SFT_FLAWS: Readonly<SftFlawShares> = { padded: 0.3, madeUp: 0.4, wrongFormat: 0.3 };

export const DEFAULT_WORLD_OPTIONS: Readonly<WorldOptions> = {
  seed: DEFAULT_WORLD_SEED,
  corpusParagraphs: 2600,
  skillParagraphs: 0,
  tasksPerFamily: 300,
  testPerFamily: 50,
  preferencePairs: 1500,
  preferenceTestPairs: 300,
  systemShare: 0.2,
  sftFlaws: DEFAULT_SFT_FLAWS,
};

/**
 * The workbook's full mode trains on a larger draw of the committed world:
 * the same seed, facts, held-out splits and preference pairs (each part has
 * its own random stream), with 6,000 skill paragraphs in the corpus and 1,000
 * demonstrations per family instead of 300. Quick mode's 300 pre-training
 * steps are too few for a base model to learn to copy from its prompt, so
 * quick mode keeps the committed files. Measured with notebook 03's model
 * (scripts/experiments/skill_pretraining.ts, seed 0, two workers): 3,000
 * pre-training steps on this corpus, then 1,000 SFT steps on these
 * demonstrations, reach about half of the held-out tasks (data/README.md has
 * the figures), against 15% from the committed world's full-mode recipe.
 *
 * Its labelling pool is chattier: 70% of the demonstrations open with the
 * chatty labeller's "Sure!" (the corpus, the held-out tasks and the pairs do
 * not change). Why: the oracle's padding penalty applies only to right
 * answers (a padded wrong answer ties with a bare wrong one), so the share of
 * held-out prompts on which preference tuning can beat SFT is about "right
 * and padded". Full mode's SFT model is right on half of them; at 30%
 * padding it pads 27% of its greedy replies, and a policy that removed every
 * flaw and changed nothing else would win only 0.56 against it, greedy
 * (scripts/experiments/flaw_ceiling.ts). At 70% it opens 99% of its replies
 * with the filler, and removing the flaws is worth 0.77: the preference
 * stages have a measurable habit to remove, as real chat data's "Sure!
 * Here is..." openers give them.
 */
export const FULL_WORLD_OPTIONS: Readonly<Pick<WorldOptions, 'skillParagraphs' | 'tasksPerFamily' | 'sftFlaws'>> = {
  skillParagraphs: 6000,
  tasksPerFamily: 1000,
  sftFlaws: { ...DEFAULT_SFT_FLAWS, padded: 0.7 },
};

type WorldOptionsInput = Partial<Omit<WorldOptions, 'sftFlaws'>> & { sftFlaws?: Partial<SftFlawShares> };

const isShare = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v <= 1;

/** The options with defaults filled in; throws naming the field on a bad value. */
export function worldOptions(given: WorldOptionsInput = {}): WorldOptions {
  for (const k of Object.keys(given)) {
    if (!(k in DEFAULT_WORLD_OPTIONS)) throw new Error(`world options: unknown option "${k}" (known: ${Object.keys(DEFAULT_WORLD_OPTIONS).join(', ')})`);
  }
  const flawsGiven = given.sftFlaws ?? {};
  if (typeof flawsGiven !== 'object' || flawsGiven === null) throw new Error(`world options: sftFlaws must be an object of shares, got ${JSON.stringify(flawsGiven)}`);
  for (const k of Object.keys(flawsGiven)) {
    if (!(k in DEFAULT_SFT_FLAWS)) throw new Error(`world options: unknown flaw "sftFlaws.${k}" (known: ${Object.keys(DEFAULT_SFT_FLAWS).join(', ')})`);
  }
  const sftFlaws: SftFlawShares = { ...DEFAULT_SFT_FLAWS, ...flawsGiven };
  for (const [k, v] of Object.entries(sftFlaws)) {
    if (!isShare(v)) throw new Error(`world options: sftFlaws.${k} must be a share in [0, 1], got ${v}`);
  }
  const o: WorldOptions = { ...DEFAULT_WORLD_OPTIONS, ...given, sftFlaws };
  for (const [k, v] of Object.entries(o) as [keyof WorldOptions, unknown][]) {
    if (k === 'sftFlaws') continue;
    if (k === 'systemShare') {
      if (!isShare(v)) throw new Error(`world options: systemShare must be in [0, 1], got ${v}`);
    } else if (!Number.isInteger(v) || (k !== 'seed' && (v as number) < 0)) {
      throw new Error(`world options: ${k} must be ${k === 'seed' ? 'an integer' : 'a whole number >= 0'}, got ${v}`);
    }
  }
  return o;
}

export type { WorldOptionsInput };

export const SYSTEM_PROMPTS = ['You are a helpful assistant.', 'You are a helpful assistant. Keep your answers short.'] as const;
