/**
 * A growable ring buffer (double-ended queue): the ready queue, mailboxes and wait queues are
 * built on it. Pushing and shifting allocate nothing until the ring has to grow (it doubles), and
 * shifted slots are cleared so the ring never keeps a dead value alive.
 *
 * @module
 * @internal
 */
export class Ring<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private mask: number;
  /** How many items are queued. */
  length = 0;

  /** @param capacity initial capacity, rounded up to a power of two (at least 2). */
  constructor(capacity = 8) {
    let c = 2;
    while (c < capacity) c <<= 1;
    this.buf = new Array<T | undefined>(c).fill(undefined);
    this.mask = c - 1;
  }

  /** Appends at the tail. */
  push(item: T): void {
    if (this.length > this.mask) this.grow();
    this.buf[(this.head + this.length) & this.mask] = item;
    this.length++;
  }

  /** Removes and returns the head; `undefined` when empty. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const i = this.head;
    const item = this.buf[i];
    this.buf[i] = undefined;
    this.head = (i + 1) & this.mask;
    this.length--;
    return item;
  }

  /** The item `i` places from the head (0 is the head), without removing it. */
  at(i: number): T | undefined {
    return i < 0 || i >= this.length ? undefined : this.buf[(this.head + i) & this.mask];
  }

  /** Removes and returns the item `i` places from the head, keeping the others' order. */
  removeAt(i: number): T | undefined {
    if (i < 0 || i >= this.length) return undefined;
    if (i === 0) return this.shift();
    const m = this.mask;
    const item = this.buf[(this.head + i) & m];
    for (let k = i; k < this.length - 1; k++) {
      this.buf[(this.head + k) & m] = this.buf[(this.head + k + 1) & m];
    }
    this.buf[(this.head + this.length - 1) & m] = undefined;
    this.length--;
    return item;
  }

  /**
   * Gives back the memory of a large, now empty ring (the ready queue after a burst of a million
   * spawns would otherwise keep a million slots).
   */
  shrinkIfIdle(keep = 1024, above = 65536): void {
    // Rings up to `above` slots are kept: re-growing them after every burst would cost more than
    // the memory (512 KB) is worth.
    if (this.length !== 0 || this.buf.length <= above) return;
    let c = 2;
    while (c < keep) c <<= 1;
    this.buf = new Array<T | undefined>(c).fill(undefined);
    this.head = 0;
    this.mask = c - 1;
  }

  /** Drops every item. */
  clear(): void {
    while (this.length > 0) this.shift();
  }

  private grow(): void {
    const old = this.buf;
    const n = old.length;
    const next = new Array<T | undefined>(n * 2).fill(undefined);
    for (let k = 0; k < this.length; k++) next[k] = old[(this.head + k) & this.mask];
    this.buf = next;
    this.head = 0;
    this.mask = n * 2 - 1;
  }
}
