// What a task family is: templates to ask with, a key space split into train
// and held-out test keys, the reference reply, an exact checker, and a wrong
// reply in the same format (for preference pairs). Parameters are plain JSON so
// they travel in a record's meta and the checker needs nothing else.
import type { WorldFacts } from './facts';
import { hashUnit, type Rng } from './rng';
import type { Template } from './template';

export type Split = 'train' | 'test';
export type ParamValue = string | number | string[] | number[];
export type Params = { op: string } & Record<string, ParamValue>;

export interface Check {
  correct: boolean;
  /** Why a reply was rejected (absent when correct). */
  reason?: string;
}

/** How a family draws parameters from one side of its held-out split. */
export interface KeyPlan<P extends Params> {
  draw(rng: Rng, split: Split): P;
}

export interface TaskFamily<P extends Params = Params> {
  name: string;
  /** One line: what is asked and what the reply is. */
  description: string;
  /** What the test split holds out from train. */
  heldOut: string;
  templates: readonly Template[];
  /** Regex source per template slot, for reading prompts back. */
  slotPatterns: Readonly<Record<string, string>>;
  plan(facts: WorldFacts, rng: Rng): KeyPlan<P>;
  /** The unit of the held-out split: a test key never occurs in train. */
  key(p: P): string;
  slots(p: P): Record<string, string>;
  /** Parameters from a matched template's slots, or null when they are not this family's task. */
  fromSlots(op: string, slots: Record<string, string>, facts: WorldFacts): P | null;
  reference(p: P): string;
  check(p: P, reply: string): Check;
  /** A reply in the reference's format with a wrong answer. */
  wrong(p: P, facts: WorldFacts, rng: Rng): string;
  /** Formatting tasks only: the right content in a format other than the asked one. */
  otherFormat?(p: P, rng: Rng): string;
  /** Formatting tasks only: whether a reply that fails check() still holds the right content in some other format. */
  sameContent?(p: P, reply: string): boolean;
}

/** A key space small enough to list: a fixed share of its keys (at least one) is held out for test. */
export function listedPlan<P extends Params>(all: readonly P[], key: (p: P) => string, testShare: number, rng: Rng): KeyPlan<P> {
  const byKey = new Map<string, P[]>();
  for (const p of all) {
    const k = key(p);
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k)!.push(p);
  }
  const keys = holdOut([...byKey.keys()], testShare, rng);
  const test = keys.test.flatMap((k) => byKey.get(k)!);
  const train = keys.train.flatMap((k) => byKey.get(k)!);
  return { draw: (r, split) => r.pick(split === 'test' ? test : train) };
}

/** A shuffled list cut in two: a share (at least one item) for test, the rest for train. */
export function holdOut<T>(items: readonly T[], testShare: number, rng: Rng): Record<Split, T[]> {
  const xs = rng.shuffle(items);
  const nTest = Math.max(1, Math.round(xs.length * testShare));
  if (nTest >= xs.length) throw new Error(`world: ${xs.length} keys cannot be split ${testShare} to test`);
  return { test: xs.slice(0, nTest), train: xs.slice(nTest) };
}

/** An open key space: a key is held out when its seeded hash falls under the share; draws are redrawn until they land on the asked side. */
export function hashedPlan<P extends Params>(
  drawAny: (rng: Rng) => P, key: (p: P) => string, testShare: number, salt: string,
): KeyPlan<P> {
  const sideOf = (p: P): Split => (hashUnit(`${salt}:${key(p)}`) < testShare ? 'test' : 'train');
  return {
    draw(rng, split) {
      for (let tries = 0; tries < 10_000; tries++) {
        const p = drawAny(rng);
        if (sideOf(p) === split) return p;
      }
      throw new Error(`world: no ${split} key found for ${salt} in 10000 draws`);
    },
  };
}

/** Draws from two plans with the given weight on the first. */
export function mixedPlan<P extends Params>(a: KeyPlan<P>, b: KeyPlan<P>, weightA: number): KeyPlan<P> {
  return { draw: (rng, split) => (rng.chance(weightA) ? a : b).draw(rng, split) };
}

export const ok: Check = { correct: true };
export const no = (reason: string): Check => ({ correct: false, reason });
