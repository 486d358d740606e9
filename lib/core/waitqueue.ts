/**
 * A FIFO queue of waiting coroutines with lazy deletion, shared by every primitive that makes
 * coroutines wait in turn (locks, semaphores, conditions, queues, `finish`). Each entry is the
 * coroutine, its wait sequence when it started waiting, and an optional payload (a queued item),
 * stored as three consecutive ring slots so queueing allocates nothing. An entry whose coroutine
 * has since been woken another way (timeout, terminate) has a stale sequence and is skipped.
 *
 * @module
 * @internal
 */
import type { Coro } from './coro.js';
import { Ring } from './ring.js';

const S_SUSPENDED = 2;

export class WaitQueue {
  private ring = new Ring<unknown>(6);


  /** Entries, stale ones included. */
  get size(): number {
    return this.ring.length / 3;
  }

  push(c: Coro<unknown>, seq: number, payload: unknown): void {
    // Waits that time out leave stale entries behind a live head; when the queue has doubled
    // since the last sweep, drop them, so it stays proportional to the live waiters (amortised
    // O(1) per push).
    if (this.ring.length >= this.sweepAt) this.sweep();
    this.ring.push(c);
    this.ring.push(seq);
    this.ring.push(payload);
  }

  private sweepAt = 3 * 64;

  private sweep(): void {
    const old = this.ring;
    const next = new Ring<unknown>(old.length);
    for (let i = 0; i < old.length; i += 3) {
      const c = old.at(i) as Coro<unknown>;
      if ((c._f & 3) === S_SUSPENDED && c._q === old.at(i + 1)) {
        next.push(c);
        next.push(old.at(i + 1));
        next.push(old.at(i + 2));
      }
    }
    this.ring = next;
    this.sweepAt = Math.max(3 * 64, 2 * next.length);
  }

  /**
   * Removes stale entries from the head and returns the first coroutine still waiting (leaving it
   * queued), or undefined.
   */
  peek(): Coro<unknown> | undefined {
    for (;;) {
      const c = this.ring.at(0) as Coro<unknown> | undefined;
      if (c === undefined) return undefined;
      if ((c._f & 3) === S_SUSPENDED && c._q === this.ring.at(1)) return c;
      this.ring.shift();
      this.ring.shift();
      this.ring.shift();
    }
  }

  /** The payload of the entry {@link peek} returned. */
  peekPayload(): unknown {
    return this.ring.at(2);
  }

  /** Drops the head entry. */
  drop(): void {
    this.ring.shift();
    this.ring.shift();
    this.ring.shift();
  }

  /**
   * Wakes the first coroutine still waiting with `value`; returns it, or undefined when nobody is
   * waiting.
   */
  wakeOne(value: unknown): Coro<unknown> | undefined {
    const c = this.peek();
    if (c === undefined) return undefined;
    this.drop();
    c._s._wakeNow(c, value, false);
    return c;
  }

  /** Wakes every coroutine still waiting, in order, with `value` (or throws it in); returns how many. */
  wakeAll(value: unknown, isError = false): number {
    let n = 0;
    for (;;) {
      const c = this.peek();
      if (c === undefined) return n;
      this.drop();
      c._s._wakeNow(c, value, isError);
      n++;
    }
  }

  /** How many entries are still waiting (walks the queue). */
  countLive(): number {
    let n = 0;
    for (let i = 0; i < this.ring.length; i += 3) {
      const c = this.ring.at(i) as Coro<unknown>;
      if ((c._f & 3) === S_SUSPENDED && c._q === this.ring.at(i + 1)) n++;
    }
    return n;
  }
}
