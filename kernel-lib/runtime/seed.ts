// One seed for everything random in a run. tfjs's random ops and layer
// initialisers draw their seed from Math.random() when none is given, so a
// seeded Math.random makes them repeatable too.
import seedrandom from 'seedrandom';

let currentSeed: number | null = null;
const nativeRandom = Math.random;

/** Seeds Math.random (and with it tfjs's unseeded random ops) for the whole process. */
export function seedEverything(seed: number): void {
  if (!Number.isInteger(seed)) throw new Error(`runtime: seed must be an integer, got ${seed}`);
  const rng = seedrandom(String(seed));
  Math.random = () => rng.quick();
  currentSeed = seed;
}

/** Puts back the unseeded Math.random. */
export function unseed(): void {
  Math.random = nativeRandom;
  currentSeed = null;
}

/** The seed set by seedEverything, or null. */
export function currentGlobalSeed(): number | null {
  return currentSeed;
}

/**
 * An independent seeded generator of floats in [0, 1), for code that wants its
 * own stream; a string seed names the stream (e.g. `windows:0:12:0`).
 */
export function randomStream(seed: number | string): () => number {
  const rng = seedrandom(String(seed));
  return () => rng.quick();
}

/**
 * FNV-1a of a string as an unsigned 32-bit integer: a stable, order-free
 * coin for assigning items to splits by their id alone.
 */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
