/**
 * `Queue`: a FIFO queue between coroutines, bounded or not, whose `put` waits while it is full
 * and `get` waits while it is empty, both in FIFO order and both with timeouts.
 *
 * @module
 */
import { checkTimeout, type Coro } from '../core/coro.js';
import { TimeoutError, WouldBlock } from '../core/errors.js';
import { PENDING, Suspend, type Op } from '../core/op.js';
import { Ring } from '../core/ring.js';
import { WaitQueue } from '../core/waitqueue.js';

class GetOp<T> extends Suspend<T> {
  constructor(
    readonly q: Queue<T>,
    readonly timeout: number | undefined,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    const q = this.q;
    if (q._items.length > 0) return q._take();
    q._getters.push(c, c._q, undefined);
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    throw new TimeoutError('Queue.get()', this.timeout!);
  }
}

class PutOp<T> extends Suspend<void> {
  constructor(
    readonly q: Queue<T>,
    readonly item: T,
    readonly timeout: number | undefined,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    const q = this.q;
    if (q._offer(this.item)) return undefined;
    q._putters.push(c, c._q, this.item);
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    throw new TimeoutError('Queue.put()', this.timeout!);
  }
}

/**
 * A FIFO queue of `T` for coroutines. With `maxsize` > 0 it holds at most that many items and
 * `put` waits for room; `maxsize` 0 (the default) is unbounded. A timed-out `get`/`put` throws
 * {@link TimeoutError}; the `*Nowait` forms throw {@link WouldBlock} instead of waiting.
 *
 * @example
 * ```ts
 * const q = new Queue<string>(10);
 * spawn(function* () { for (const w of ['a', 'b']) yield* q.put(w) });
 * spawn(function* () { console.log(yield* q.get(), yield* q.get()) });
 * ```
 */
export class Queue<T> {
  /** The bound (0: unbounded). */
  readonly maxsize: number;
  /** @internal */
  readonly _items = new Ring<T>(8);
  /** @internal */
  readonly _getters = new WaitQueue();
  /** @internal Waiting putters with their items as payloads. */
  readonly _putters = new WaitQueue();

  constructor(maxsize = 0) {
    if (!Number.isInteger(maxsize) || maxsize < 0) throw new RangeError(`maxsize must be an integer >= 0, got ${maxsize}`);
    this.maxsize = maxsize;
  }

  /** Items queued. */
  get size(): number {
    return this._items.length;
  }
  get empty(): boolean {
    return this._items.length === 0;
  }
  get full(): boolean {
    return this.maxsize > 0 && this._items.length >= this.maxsize;
  }

  /** Adds `item`, waiting for room while full; throws {@link TimeoutError} after `timeout` ms. */
  put(item: T, timeout?: number): Op<void> {
    checkTimeout(timeout);
    return new PutOp(this, item, timeout);
  }

  /** Takes the oldest item, waiting while empty; throws {@link TimeoutError} after `timeout` ms. */
  get(timeout?: number): Op<T> {
    checkTimeout(timeout);
    return new GetOp(this, timeout);
  }

  /** Adds `item` now or throws {@link WouldBlock} when full. Usable outside coroutines. */
  putNowait(item: T): void {
    if (!this._offer(item)) throw new WouldBlock(`Queue.putNowait(): the queue is full (maxsize ${this.maxsize})`);
  }

  /** Takes the oldest item now or throws {@link WouldBlock} when empty. Usable outside coroutines. */
  getNowait(): T {
    if (this._items.length === 0) throw new WouldBlock('Queue.getNowait(): the queue is empty');
    return this._take();
  }

  /** Items and waiters. */
  statistics(): { size: number; maxsize: number; getters: number; putters: number } {
    return { size: this._items.length, maxsize: this.maxsize, getters: this._getters.countLive(), putters: this._putters.countLive() };
  }

  /** @internal Hands `item` to a waiting getter, or queues it if there is room; false when full. */
  _offer(item: T): boolean {
    if (this._getters.wakeOne(item) !== undefined) return true;
    if (this.full) return false;
    this._items.push(item);
    return true;
  }

  /** @internal Takes the head item, then lets the longest-waiting putter in. */
  _take(): T {
    const item = this._items.shift() as T;
    const p = this._putters.peek();
    if (p !== undefined) {
      const pending = this._putters.peekPayload() as T;
      this._putters.drop();
      this._items.push(pending);
      p._s._wakeNow(p, undefined, false);
    }
    return item;
  }
}
