// The BPE merge loop: the bytes of one pre-tokenized piece start as one
// symbol each, and the adjacent pair with the lowest merge rank is merged,
// again and again, until no adjacent pair has a merge. This is the published
// algorithm every byte-level tokenizer.json expects; it is written here (and
// not taken from a tokenizer package) because the assistant masks need each
// token's byte span, which the JS packages do not report, and because a
// piece cache plus a heap keep long pieces linear-ish.

import { PairHeap } from './pair_heap';

const UTF8 = new TextEncoder();

/** Merges as a lookup: pair (left id, right id) -> rank and the id it makes. */
export class MergeTable {
  private readonly rankOf = new Map<number, number>();
  private readonly resultOf: Int32Array;
  private readonly width: number;

  constructor(vocabSize: number, merges: ReadonlyArray<readonly [number, number, number]>) {
    this.width = Math.max(vocabSize, 1);
    this.resultOf = new Int32Array(merges.length);
    merges.forEach(([a, b, merged], rank) => {
      const key = a * this.width + b;
      // A pair listed twice keeps its first (lowest) rank, as tokenizers does.
      if (!this.rankOf.has(key)) this.rankOf.set(key, rank);
      this.resultOf[rank] = merged;
    });
  }

  get size(): number {
    return this.resultOf.length;
  }

  rank(a: number, b: number): number | undefined {
    return this.rankOf.get(a * this.width + b);
  }

  result(rank: number): number {
    return this.resultOf[rank];
  }
}

/** Pieces shorter than this use a plain scan for the lowest rank; longer ones the heap. */
const HEAP_FROM = 48;

/**
 * Token ids for a sequence of initial symbols (one per byte), after every
 * merge the table allows. `symbols` is consumed.
 */
export function applyMerges(symbols: number[], table: MergeTable): number[] {
  if (symbols.length < 2) return symbols;
  return symbols.length < HEAP_FROM ? mergeByScan(symbols, table) : mergeByHeap(symbols, table);
}

function mergeByScan(s: number[], table: MergeTable): number[] {
  for (;;) {
    let best = Infinity;
    let at = -1;
    for (let i = 0; i + 1 < s.length; i++) {
      const r = table.rank(s[i], s[i + 1]);
      if (r !== undefined && r < best) {
        best = r;
        at = i;
      }
    }
    if (at < 0) return s;
    s.splice(at, 2, table.result(best));
  }
}

function mergeByHeap(s: number[], table: MergeTable): number[] {
  const n = s.length;
  const id = Int32Array.from(s);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const heap = new PairHeap();
  for (let i = 0; i + 1 < n; i++) {
    const r = table.rank(id[i], id[i + 1]);
    if (r !== undefined) heap.push(r, i);
  }
  while (heap.size > 0) {
    const [rank, i] = heap.pop();
    const j = next[i];
    // Stale entries: a side of the pair was merged away since it was pushed.
    if (!alive[i] || j < 0 || table.rank(id[i], id[j]) !== rank) continue;
    id[i] = table.result(rank);
    alive[j] = 0;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    if (prev[i] >= 0) {
      const r = table.rank(id[prev[i]], id[i]);
      if (r !== undefined) heap.push(r, prev[i]);
    }
    if (next[i] >= 0) {
      const r = table.rank(id[i], id[next[i]]);
      if (r !== undefined) heap.push(r, i);
    }
  }
  const out: number[] = [];
  for (let i = 0; i >= 0; i = next[i]) out.push(id[i]);
  return out;
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return UTF8.encode(text);
}
