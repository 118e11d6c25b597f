// Seeded draws for the world. Every random choice goes through a named stream
// of runtime/seed's randomStream (seedrandom), so the same seed gives the same
// world on every machine, and a change to one part (say, the number of tasks)
// leaves the other streams (facts, corpus) untouched.
import { hashString, randomStream } from '../../runtime/seed';

export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [lo, hi], both ends included. */
  int(lo: number, hi: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(xs: readonly T[]): T[];
  /** k distinct elements, in drawn order. */
  sample<T>(xs: readonly T[], k: number): T[];
}

export function makeRng(seed: number, stream: string): Rng {
  const next = randomStream(`world:${seed}:${stream}`);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const shuffle = <T>(xs: readonly T[]): T[] => {
    const out = xs.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };
  return {
    next,
    int,
    pick: (xs) => {
      if (xs.length === 0) throw new Error('world: cannot pick from an empty list');
      return xs[Math.floor(next() * xs.length)];
    },
    chance: (p) => next() < p,
    shuffle,
    sample: (xs, k) => shuffle(xs).slice(0, k),
  };
}

/** A string's FNV-1a hash as a float in [0, 1): a stable coin for held-out splits of open key spaces. */
export function hashUnit(text: string): number {
  return hashString(text) / 0x100000000;
}
