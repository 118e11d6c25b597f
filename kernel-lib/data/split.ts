// Deterministic splits: the same records, seed and fractions give the same
// split on every machine, and a record's side does not depend on the order of
// the others within its stratum. Stratified splits keep each value of a field
// (a category, a task family) in the same proportions in every part.
import { hashString, randomStream } from '../runtime/seed';

export interface SplitOptions<T> {
  seed: number | string;
  /** Fractions of each part, e.g. { train: 0.8, validation: 0.1, test: 0.1 }; they must sum to 1. */
  fractions: Record<string, number>;
  /** Split each group separately (e.g. by category) so each part has the same mix. */
  stratifyBy?: (item: T) => string | undefined;
  /** A stable id per item (default: its index); the shuffle sorts by a seeded hash of it. */
  id?: (item: T, index: number) => string;
}

/** The item's place in the shuffle: a hash of the seed and its id, independent of the other items. */
function rank(seed: string, id: string): number {
  return hashString(`${seed}\u0000${id}`);
}

export function splitRecords<T>(items: T[], options: SplitOptions<T>): Record<string, T[]> {
  const names = Object.keys(options.fractions);
  const total = names.reduce((a, k) => a + options.fractions[k], 0);
  if (names.length === 0 || names.some((k) => !(options.fractions[k] >= 0)) || Math.abs(total - 1) > 1e-9) {
    throw new Error(`splitRecords: fractions must be non-negative and sum to 1, got ${JSON.stringify(options.fractions)}`);
  }
  const seed = String(options.seed);
  const idOf = options.id ?? ((_: T, i: number) => String(i));
  const groups = new Map<string, { item: T; key: number; tie: string }[]>();
  items.forEach((item, i) => {
    const g = options.stratifyBy?.(item) ?? '';
    const id = idOf(item, i);
    const list = groups.get(g) ?? [];
    list.push({ item, key: rank(seed, id), tie: id });
    groups.set(g, list);
  });
  const out: Record<string, T[]> = Object.fromEntries(names.map((k) => [k, []]));
  // Leftover items from rounding go to parts in turn, starting at a seeded part, so no part is always favoured.
  const start = Math.floor(randomStream(`split:${seed}`)() * names.length);
  for (const [, list] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
    list.sort((a, b) => a.key - b.key || a.tie.localeCompare(b.tie));
    const counts = names.map((k) => Math.floor(options.fractions[k] * list.length));
    let left = list.length - counts.reduce((a, b) => a + b, 0);
    for (let j = 0; left > 0; j++) {
      const k = (start + j) % names.length;
      if (options.fractions[names[k]] > 0) {
        counts[k]++;
        left--;
      }
    }
    let at = 0;
    names.forEach((k, i) => {
      for (const e of list.slice(at, at + counts[i])) out[k].push(e.item);
      at += counts[i];
    });
  }
  return out;
}
