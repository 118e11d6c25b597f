// A binary min-heap of (key, tie) number pairs, ordered by key and then by
// tie. The BPE merge loop pops the lowest merge rank (leftmost on ties); the
// trainer pops the highest pair count by pushing its negation (smallest pair
// id on ties). Both skip entries that went stale since they were pushed.
export class PairHeap {
  private keys: number[] = [];
  private ties: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  push(key: number, tie: number): void {
    this.keys.push(key);
    this.ties.push(tie);
    let i = this.keys.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes and returns the smallest [key, tie]. */
  pop(): [number, number] {
    const top: [number, number] = [this.keys[0], this.ties[0]];
    const lastKey = this.keys.pop()!;
    const lastTie = this.ties.pop()!;
    if (this.keys.length > 0) {
      this.keys[0] = lastKey;
      this.ties[0] = lastTie;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.keys.length && this.less(l, m)) m = l;
        if (r < this.keys.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }

  private less(i: number, j: number): boolean {
    return this.keys[i] < this.keys[j] || (this.keys[i] === this.keys[j] && this.ties[i] < this.ties[j]);
  }

  private swap(i: number, j: number): void {
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
    [this.ties[i], this.ties[j]] = [this.ties[j], this.ties[i]];
  }
}
