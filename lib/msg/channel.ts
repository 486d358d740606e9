/**
 * `Channel`: a named broadcast point. Coroutines (and other channels, making hierarchies)
 * subscribe; `send` puts a message in every subscriber's mailbox at once; `deliver` first waits
 * until at least `n` subscribers are there and says how many got the message. An optional
 * transform rewrites each message or drops it.
 *
 * Subscribers are anything with `send(msg)` and `isAlive`, so remote coroutines and channels (the
 * peers layer) subscribe through proxies with the same two members.
 *
 * @module
 */
import { checkTimeout, type Coro } from '../core/coro.js';
import { AsyncoroError, NotInCoroError, TimeoutError } from '../core/errors.js';
import { PENDING, Suspend, running } from '../core/op.js';
import { WaitQueue } from '../core/waitqueue.js';
import type { Op } from '../core/op.js';
import { remoteLocate, type LocateOptions } from '../remote/locate-hook.js';
import type { RemoteChannel } from '../remote/refs.js';

/** What can subscribe to a channel: a coroutine, another channel, or a proxy of a remote one. */
export interface Subscriber {
  send(msg: unknown): void;
  readonly isAlive: boolean;
}

/** Options of a channel. */
export interface ChannelOptions {
  /**
   * Called with each message before it is broadcast; returns the message to send (the same or
   * another) or {@link Channel.DROP} to drop it. An error it throws reaches the sender.
   */
  transform?: (msg: unknown, channel: Channel) => unknown;
}

/** A channel was used after `close()`. `code` is `'ERR_CHANNEL_CLOSED'`. */
export class ChannelClosedError extends AsyncoroError {
  constructor(name: string) {
    super(`channel '${name}' is closed`, 'ERR_CHANNEL_CLOSED');
  }
}

const DROP: unique symbol = Symbol('asyncoro.Channel.DROP');

/** Channels registered by name, per thread. */
const registry = new Map<string, Channel>();

class SubscribersOp extends Suspend<void> {
  constructor(
    readonly channel: Channel,
    readonly n: number,
    readonly timeout: number | undefined,
    readonly total: number | undefined,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    if (this.channel._live() >= this.n) return undefined;
    this.channel._waiters.push(c, c._q, undefined);
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    throw new TimeoutError(`deliver on channel '${this.channel.name}' waiting for ${this.n} subscriber(s)`, this.total!);
  }
}

/**
 * A broadcast channel.
 *
 * @example
 * ```ts
 * const news = new Channel('news', { transform: (m) => (typeof m === 'string' ? m.toUpperCase() : Channel.DROP) });
 * const reader = spawn(function* () { console.log(yield* receive()) });
 * news.subscribe(reader);
 * news.send('hello');          // reader prints HELLO
 * news.send(42);               // dropped by the transform
 * ```
 */
export class Channel implements Subscriber {
  /** Returned by a transform to drop the message. */
  static readonly DROP: typeof DROP = DROP;

  /** The channel's name. */
  readonly name: string;
  private readonly transform: ((msg: unknown, channel: Channel) => unknown) | undefined;
  private subs: Subscriber[] = [];
  /** Broadcasts in progress: (un)subscribing meanwhile copies the list instead of changing it. */
  private sending = 0;
  private closed = false;
  private sent = 0;
  private dropped = 0;
  /** @internal Coroutines waiting in `deliver` for enough subscribers. */
  readonly _waiters = new WaitQueue();

  constructor(name: string, options: ChannelOptions = {}) {
    if (typeof name !== 'string' || name === '') throw new TypeError('a channel needs a non-empty name');
    if (options.transform !== undefined && typeof options.transform !== 'function') {
      throw new TypeError('transform must be a function');
    }
    this.name = name;
    this.transform = options.transform;
  }

  /** The registered channel with this name on this thread, or undefined. */
  static locate(name: string): Channel | undefined;
  /**
   * With options, an operation that looks among peers too (see `Coro.locate`): the local channel
   * or a {@link RemoteChannel} proxy, or undefined.
   */
  static locate(name: string, options: LocateOptions): Op<Channel | RemoteChannel | undefined>;
  static locate(name: string, options?: LocateOptions): Channel | undefined | Op<Channel | RemoteChannel | undefined> {
    if (options !== undefined) return remoteLocate(1, name, options) as Op<Channel | RemoteChannel | undefined>;
    return registry.get(name);
  }

  /** True until `close()`. */
  get isAlive(): boolean {
    return !this.closed;
  }

  /** Registers the channel under its name, for {@link Channel.locate}. Throws if the name is taken. */
  register(): this {
    this.check();
    const other = registry.get(this.name);
    if (other !== undefined && other !== this) throw new AsyncoroError(`a channel named '${this.name}' is already registered`, 'ERR_NAME_TAKEN');
    registry.set(this.name, this);
    return this;
  }

  /** Removes the registration; returns whether there was one. */
  unregister(): boolean {
    if (registry.get(this.name) !== this) return false;
    registry.delete(this.name);
    return true;
  }

  /**
   * Adds a subscriber: a coroutine, or a channel (which then re-broadcasts to its own
   * subscribers, through its own transform). Returns false if it was already subscribed. A
   * channel that would receive its own messages back (a cycle) is refused.
   */
  subscribe(sub: Coro | Channel | Subscriber): boolean {
    this.check();
    if (sub === null || typeof sub !== 'object' || typeof (sub as Subscriber).send !== 'function') {
      throw new TypeError('a subscriber is a Coro, a Channel, or has send(msg) and isAlive');
    }
    if (!sub.isAlive) return false;
    if (this.subs.includes(sub)) return false;
    if (sub instanceof Channel && (sub === this || sub.reaches(this))) {
      throw new AsyncoroError(`subscribing channel '${sub.name}' to '${this.name}' would make a cycle`, 'ERR_CHANNEL_CYCLE');
    }
    if (this.sending > 0) this.subs = this.subs.slice();
    this.subs.push(sub);
    // Wake every deliver waiting for subscribers; each checks its own count again.
    this._waiters.wakeAll(undefined);
    return true;
  }

  /** Removes a subscriber; returns whether it was subscribed. */
  unsubscribe(sub: Coro | Channel | Subscriber): boolean {
    const i = this.subs.indexOf(sub);
    if (i < 0) return false;
    if (this.sending > 0) this.subs = this.subs.slice();
    this.subs.splice(i, 1);
    return true;
  }

  /** Whether this channel passes messages on to `target`, directly or through other channels. */
  private reaches(target: Channel): boolean {
    for (const s of this.subs) {
      if (s === target) return true;
      if (s instanceof Channel && s.reaches(target)) return true;
    }
    return false;
  }

  /** @internal Live subscribers, dropping the ended ones. */
  _live(): number {
    let dead = 0;
    for (const s of this.subs) if (!s.isAlive) dead++;
    if (dead > 0) this.subs = this.subs.filter((s) => s.isAlive);
    return this.subs.length;
  }

  /**
   * Broadcasts `msg` (after the transform) to every live subscriber; never blocks. Returns how
   * many direct subscribers it reached (0 if the transform dropped it).
   */
  send(msg: unknown): number {
    this.check();
    const out = this.transform === undefined ? msg : this.transform(msg, this);
    if (out === DROP) {
      this.dropped++;
      return 0;
    }
    this._live();
    // A subscriber may (un)subscribe while receiving (a channel's transform, a receive
    // predicate, a proxy's send run code): the broadcast goes to the list as it was, and changes
    // made meanwhile go to a copy.
    const subs = this.subs;
    let n = 0;
    this.sending++;
    try {
      for (let i = 0; i < subs.length; i++) {
        const s = subs[i]!;
        if (!s.isAlive) continue;
        s.send(out);
        n++;
      }
    } finally {
      this.sending--;
    }
    this.sent++;
    return n;
  }

  /**
   * Waits until at least `n` subscribers are there (throwing {@link TimeoutError} after
   * `timeout` ms, the message unsent), then broadcasts `msg` and returns how many got it.
   *
   * @example
   * ```ts
   * const got: number = yield* channel.deliver('start', { n: 3, timeout: 5000 });
   * ```
   */
  *deliver(msg: unknown, options: { n?: number; timeout?: number } = {}): Generator<unknown, number, unknown> {
    const n = options.n ?? 0;
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be an integer >= 0, got ${n}`);
    checkTimeout(options.timeout);
    this.check();
    if (n > 0 && this._live() < n) yield* this.waitFor(n, options.timeout);
    return this.send(msg);
  }

  private *waitFor(n: number, timeout: number | undefined): Generator<unknown, void, unknown> {
    const c = running;
    if (c === null) throw new NotInCoroError('Channel.deliver');
    // Woken by every subscribe; the deadline covers all the rounds.
    const clock = c._s.clock;
    const end = timeout === undefined ? Infinity : clock.now() + timeout;
    while (this._live() < n) {
      this.check();
      const left = end === Infinity ? undefined : Math.max(0, end - clock.now());
      if (left === 0) throw new TimeoutError(`deliver on channel '${this.name}' waiting for ${n} subscriber(s)`, timeout!);
      yield* new SubscribersOp(this, n, left, timeout);
    }
    this.check();
  }

  /** How many live subscribers the channel has. */
  get subscriberCount(): number {
    return this._live();
  }

  /** Counters: subscribers, messages broadcast, messages the transform dropped. */
  statistics(): { subscribers: number; sent: number; dropped: number; waiting: number } {
    return { subscribers: this._live(), sent: this.sent, dropped: this.dropped, waiting: this._waiters.countLive() };
  }

  /**
   * Closes the channel: unregisters it, drops its subscribers, and ends every `deliver` waiting
   * for subscribers with {@link ChannelClosedError}. Later calls throw it too. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unregister();
    this.subs = [];
    this._waiters.wakeAll(new ChannelClosedError(this.name), true);
  }

  private check(): void {
    if (this.closed) throw new ChannelClosedError(this.name);
  }

  toString(): string {
    return `Channel(${this.name})`;
  }
}
