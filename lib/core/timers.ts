/**
 * The timer heap: a binary min-heap of `(deadline, coroutine, wait sequence)` entries kept in
 * parallel arrays, so adding a timer allocates nothing but occasional growth. Cancelling is lazy:
 * a coroutine that wakes for another reason bumps its wait sequence, and its entry is dropped when
 * it reaches the top (or when stale entries outnumber live ones and the heap is compacted). Equal
 * deadlines fire in the order they were added.
 *
 * @module
 * @internal
 */
export class TimerHeap<T> {
  private dl = new Float64Array(64);
  private ord = new Float64Array(64);
  private sq = new Int32Array(64);
  private items: (T | undefined)[] = [];
  private counter = 0;
  /** Entries in the heap, stale ones included. */
  size = 0;
  /** Entries known to be stale (their coroutine woke another way). */
  stale = 0;

  /** Adds an entry. */
  push(deadline: number, item: T, seq: number): void {
    if (this.size === this.dl.length) this.grow();
    let i = this.size++;
    const o = this.counter++;
    // Sift up.
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.dl[p]! < deadline || (this.dl[p] === deadline && this.ord[p]! < o)) break;
      this.move(p, i);
      i = p;
    }
    this.dl[i] = deadline;
    this.ord[i] = o;
    this.sq[i] = seq;
    this.items[i] = item;
  }

  /** The earliest deadline, or `Infinity` when empty. */
  topDeadline(): number {
    return this.size === 0 ? Infinity : this.dl[0]!;
  }
  topItem(): T | undefined {
    return this.items[0];
  }
  topSeq(): number {
    return this.sq[0]!;
  }

  /** Removes the top entry. */
  pop(): void {
    const n = --this.size;
    const lastDl = this.dl[n]!;
    const lastOrd = this.ord[n]!;
    const lastSq = this.sq[n]!;
    const lastItem = this.items[n];
    this.items[n] = undefined;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (this.dl[c + 1]! < this.dl[c]! || (this.dl[c + 1] === this.dl[c] && this.ord[c + 1]! < this.ord[c]!))) c++;
      if (lastDl < this.dl[c]! || (lastDl === this.dl[c] && lastOrd < this.ord[c]!)) break;
      this.move(c, i);
      i = c;
    }
    this.dl[i] = lastDl;
    this.ord[i] = lastOrd;
    this.sq[i] = lastSq;
    this.items[i] = lastItem;
  }

  /** Rebuilds the heap with only the entries `live` accepts; resets `stale`. */
  compact(live: (item: T, seq: number) => boolean): void {
    const n = this.size;
    const keepDl: number[] = [];
    const keepOrd: number[] = [];
    const keepSq: number[] = [];
    const keepItems: T[] = [];
    for (let i = 0; i < n; i++) {
      const item = this.items[i]!;
      if (live(item, this.sq[i]!)) {
        keepDl.push(this.dl[i]!);
        keepOrd.push(this.ord[i]!);
        keepSq.push(this.sq[i]!);
        keepItems.push(item);
      }
      this.items[i] = undefined;
    }
    this.size = 0;
    this.stale = 0;
    // Re-inserting in (deadline, order) order keeps the original FIFO order for equal deadlines.
    const idx = keepItems.map((_, i) => i).sort((a, b) => keepDl[a]! - keepDl[b]! || keepOrd[a]! - keepOrd[b]!);
    for (const i of idx) {
      // Sorted input is already a valid heap.
      const k = this.size++;
      this.dl[k] = keepDl[i]!;
      this.ord[k] = keepOrd[i]!;
      this.sq[k] = keepSq[i]!;
      this.items[k] = keepItems[i];
    }
  }

  private move(from: number, to: number): void {
    this.dl[to] = this.dl[from]!;
    this.ord[to] = this.ord[from]!;
    this.sq[to] = this.sq[from]!;
    this.items[to] = this.items[from];
  }

  private grow(): void {
    const n = this.dl.length * 2;
    const dl = new Float64Array(n);
    dl.set(this.dl);
    const ord = new Float64Array(n);
    ord.set(this.ord);
    const sq = new Int32Array(n);
    sq.set(this.sq);
    this.dl = dl;
    this.ord = ord;
    this.sq = sq;
  }
}
