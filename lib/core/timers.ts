/**
 * The timer queue: entries `(deadline, coroutine, wait sequence)` in buckets of one millisecond.
 * A deadline is rounded up to the next whole millisecond (so a timer never fires early, and no
 * later than Node's own millisecond timers would); every entry of one millisecond goes into that
 * bucket's FIFO ring, and a small binary heap orders the distinct bucket keys. A million timers
 * spread over a few seconds are then a few thousand heap keys, and firing one costs a ring shift
 * instead of a heap pop over a million entries (which misses the cache at every level).
 *
 * Cancelling is lazy: a coroutine that wakes for another reason bumps its wait sequence, and its
 * entry is dropped when it reaches the front (or when stale entries outnumber live ones and the
 * queue is compacted). Entries of the same millisecond fire in the order they were added.
 *
 * @module
 * @internal
 */
import { Ring } from './ring.js';

export class TimerHeap<T> {
  /** Binary min-heap of the distinct bucket keys (whole milliseconds). */
  private keys = new Float64Array(64);
  private nkeys = 0;
  /** Bucket per key: item, seq, item, seq, ... */
  private buckets = new Map<number, Ring<unknown>>();
  /** The bucket of the smallest key, cached. */
  private front: Ring<unknown> | undefined;
  /** Entries, stale ones included. */
  size = 0;
  /** Entries known to be stale (their coroutine woke another way). */
  stale = 0;

  /** Adds an entry due at `deadline` (ms; rounded up to a whole millisecond). */
  push(deadline: number, item: T, seq: number): void {
    const key = Math.ceil(deadline);
    let b = this.buckets.get(key);
    if (b === undefined) {
      b = new Ring<unknown>(16);
      this.buckets.set(key, b);
      this.pushKey(key);
      if (this.keys[0] === key) this.front = b;
    }
    b.push(item);
    b.push(seq);
    this.size++;
  }

  /** The earliest deadline (a whole millisecond), or `Infinity` when empty. */
  topDeadline(): number {
    return this.nkeys === 0 ? Infinity : this.keys[0]!;
  }
  topItem(): T | undefined {
    return this.frontBucket()?.at(0) as T | undefined;
  }
  topSeq(): number {
    return this.frontBucket()!.at(1) as number;
  }

  /** Removes the top entry. */
  pop(): void {
    const b = this.frontBucket();
    if (b === undefined) return;
    b.shift();
    b.shift();
    this.size--;
    if (b.length === 0) {
      this.buckets.delete(this.keys[0]!);
      this.popKey();
      this.front = undefined;
    }
  }

  /** Rebuilds the queue with only the entries `live` accepts; resets `stale`. */
  compact(live: (item: T, seq: number) => boolean): void {
    const keys = Array.from(this.keys.subarray(0, this.nkeys)).sort((a, b) => a - b);
    const old = this.buckets;
    this.buckets = new Map();
    this.nkeys = 0;
    this.size = 0;
    this.stale = 0;
    this.front = undefined;
    for (const key of keys) {
      const b = old.get(key)!;
      for (let i = 0; i < b.length; i += 2) {
        const item = b.at(i) as T;
        const seq = b.at(i + 1) as number;
        if (live(item, seq)) this.push(key, item, seq);
      }
    }
  }

  private frontBucket(): Ring<unknown> | undefined {
    if (this.nkeys === 0) return undefined;
    return (this.front ??= this.buckets.get(this.keys[0]!));
  }

  private pushKey(key: number): void {
    if (this.nkeys === this.keys.length) {
      const k = new Float64Array(this.keys.length * 2);
      k.set(this.keys);
      this.keys = k;
    }
    const h = this.keys;
    let i = this.nkeys++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]! <= key) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = key;
  }

  private popKey(): void {
    const h = this.keys;
    const n = --this.nkeys;
    if (n === 0) return;
    const last = h[n]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && h[c + 1]! < h[c]!) c++;
      if (last <= h[c]!) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}
