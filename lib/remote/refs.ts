/**
 * Proxies of coroutines and channels that live on a peer. A {@link RemoteCoro} or
 * {@link RemoteChannel} arrives inside a message (a `Coro` or `Channel` sent by the peer turns
 * into one), or from `Coro.locate(name, {location})` / `Channel.locate(name, {location})` or an
 * RCI call. One proxy exists per remote coroutine (per peer and id) and per remote channel, so
 * `===`, `Channel.subscribe` and `unsubscribe` work with them as with local ones.
 *
 * A proxy has the members of a subscriber (`send`, `isAlive`), so a local {@link Channel} can
 * have remote subscribers, and of a monitor target, so a remote coroutine can monitor a local one.
 *
 * @module
 */
import { checkTimeout, type Coro } from '../core/coro.js';
import type { Op } from '../core/op.js';
import { F } from './wire.js';
import { monitorRemote, type MonitorTarget } from './monitor-seam.js';

/**
 * @internal What a proxy needs of the peer it lives on (lib/remote/peer.ts implements it).
 */
export interface PeerLink {
  readonly host: string;
  readonly port: number;
  readonly incarnation: string;
  readonly location: string;
  /** Connected (or connecting, with messages queued): sends go out. */
  readonly reachable: boolean;
  /** Queues a frame; drops it if the peer is offline; throws SendQueueFullError if the queue is full. */
  post(frame: unknown[]): void;
  /** Sends a request frame (its slot 1 is filled with the request id) and waits for the answer. */
  request(frame: unknown[], timeout: number | undefined, what: string): Op<unknown>;
  /** Waits until the send queue is below its low-water mark. */
  drain(timeout: number | undefined): Op<void>;
  /** The proxy's coroutine has ended on the peer. */
  forgetCoro(id: number): void;
  /** @internal Remote monitors kept by the peer link. */
  watch(id: number, monitor: MonitorTarget): boolean;
  /** @internal */
  unwatch(id: number, monitor: MonitorTarget): void;
}

/** What a reference to a coroutine or channel on a peer knows of where it lives. */
abstract class RemoteRef {
  /** @internal */
  readonly _peer: PeerLink;

  /** @internal */
  constructor(peer: PeerLink) {
    this._peer = peer;
  }

  /** The peer's address, `host:port`. */
  get location(): string {
    return this._peer.location;
  }
  /** @internal */
  get host(): string {
    return this._peer.host;
  }
  /** @internal */
  get port(): number {
    return this._peer.port;
  }
  /** @internal */
  get incarnation(): string {
    return this._peer.incarnation;
  }
}

/**
 * A coroutine on a peer.
 *
 * @example
 * ```ts
 * const logger = yield* Coro.locate('logger', { location: '10.0.0.2:9000', timeout: 2000 });
 * if (logger !== undefined) logger.send(['log', 'hello', self()]);
 * ```
 */
export class RemoteCoro extends RemoteRef {
  /** The coroutine's id on its peer. */
  readonly id: number;
  /** The coroutine's name (when the reference was made). */
  readonly name: string;
  /** @internal Known to have ended. */
  _dead = false;

  /** @internal Made by the network (one per peer and id). */
  constructor(peer: PeerLink, id: number, name: string) {
    super(peer);
    this.id = id;
    this.name = name;
  }

  /**
   * False once the coroutine is known to have ended or its peer is offline. (A coroutine that
   * ended is learnt of at the next message to it, so a proxy may say true a little too long.)
   */
  get isAlive(): boolean {
    return !this._dead && this._peer.reachable;
  }

  /**
   * Queues `msg` for the coroutine; never waits (messages to one coroutine arrive in order). A
   * message to an ended coroutine or an offline peer is dropped, as for a local one. Throws
   * {@link SendQueueFullError} when the peer's send queue is full: see {@link drain}.
   */
  send(msg: unknown): void {
    if (this._dead) return;
    this._peer.post([F.SEND, this.id, msg]);
  }

  /**
   * Sends `msg` and waits for the peer to acknowledge it: 1 if it was queued in the coroutine's
   * mailbox, 0 if the coroutine had ended. Throws {@link PeerLostError} if the peer goes offline
   * first, {@link TimeoutError} after `timeout` ms.
   *
   * @example
   * ```ts
   * const got: number = yield* remote.deliver({ job: 1 }, 5000);
   * ```
   */
  deliver(msg: unknown, timeout?: number): Op<number> {
    checkTimeout(timeout);
    return this._peer.request([F.DELIVER, 0, this.id, msg], timeout, `deliver to ${String(this)}`) as Op<number>;
  }

  /**
   * Asks the peer to terminate the coroutine (a `CoroExit` thrown into it there). Returns whether
   * the request went out; use {@link finish} to wait for its end.
   */
  terminate(): boolean {
    if (this._dead || !this._peer.reachable) return false;
    this._peer.post([F.TERM, this.id]);
    return true;
  }

  /**
   * Waits for the coroutine to end and returns its result. Its error comes back as a
   * {@link RemoteError} (with the remote message and stack), a termination as a
   * `TerminatedError`-named RemoteError; {@link PeerLostError} if the peer goes away first.
   *
   * @example
   * ```ts
   * const rcoro = yield* rci.call(10);
   * const result = yield* rcoro.finish(10_000);
   * ```
   */
  finish(timeout?: number): Op<unknown> {
    checkTimeout(timeout);
    return this._peer.request([F.FINISH, 0, this.id, timeout ?? null], undefined, `finish of ${String(this)}`);
  }

  /**
   * Makes `monitor` (a local coroutine or channel) receive a `MonitorStatus` when this remote
   * coroutine ends (its `coro` is this proxy; an error comes as a {@link RemoteError}), or when
   * its peer is lost (kind `'error'`, a {@link PeerLostError}). `yield* self().monitor(remote)`
   * says the same from the monitor's side. Answers after a round trip to the peer: true, or
   * false if `monitor` was watching already or has ended.
   *
   * @example
   * ```ts
   * yield* self().monitor(rcoro);
   * const st = yield* receive((m): m is MonitorStatus => m instanceof MonitorStatus && m.coro === rcoro);
   * ```
   */
  notify(monitor: MonitorTarget): Op<boolean> {
    return monitorRemote(this, monitor);
  }

  /**
   * Waits until the peer's send queue has room again (below its low-water mark), and in any case
   * lets the writer send what is queued: a coroutine that sends in a loop calls it every few
   * hundred messages.
   *
   * @example
   * ```ts
   * for (let i = 0; i < 1e6; i++) {
   *   remote.send(i);
   *   if (i % 256 === 255) yield* remote.drain();
   * }
   * ```
   */
  drain(timeout?: number): Op<void> {
    checkTimeout(timeout);
    return this._peer.drain(timeout);
  }

  override toString(): string {
    return `RemoteCoro(${this.name}/${this.id}@${this._peer.location})`;
  }
}

/**
 * A channel on a peer: `send` broadcasts there; `subscribe` adds a local coroutine to its
 * subscribers.
 *
 * @example
 * ```ts
 * const news = yield* Channel.locate('news', { location: 'hub:9000' });
 * if (news !== undefined) yield* news.subscribe(self());
 * ```
 */
export class RemoteChannel extends RemoteRef {
  readonly name: string;

  /** @internal Made by the network (one per peer and name). */
  constructor(peer: PeerLink, name: string) {
    super(peer);
    this.name = name;
  }

  /** True while its peer is online (or being connected to). */
  get isAlive(): boolean {
    return this._peer.reachable;
  }

  /** Broadcasts `msg` on the channel, on its peer; never waits. */
  send(msg: unknown): void {
    this._peer.post([F.CSEND, this.name, msg]);
  }

  /**
   * The channel's `deliver` run on its peer: waits there for `n` subscribers (up to `timeout`),
   * broadcasts, and returns how many got the message.
   */
  deliver(msg: unknown, options: { n?: number; timeout?: number } = {}): Op<number> {
    const n = options.n ?? 0;
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be an integer >= 0, got ${n}`);
    checkTimeout(options.timeout);
    return this._peer.request([F.CDELIVER, 0, this.name, msg, n, options.timeout ?? null], undefined, `deliver on ${String(this)}`) as Op<number>;
  }

  /**
   * Subscribes `sub` (a local coroutine, or a proxy of a coroutine elsewhere) to the channel on
   * its peer; returns false if it was subscribed already. Acknowledged by the peer.
   */
  subscribe(sub: Coro | RemoteCoro, timeout?: number): Op<boolean> {
    checkTimeout(timeout);
    return this._peer.request([F.CSUB, 0, this.name, sub], timeout, `subscribe to ${String(this)}`) as Op<boolean>;
  }

  /** Removes a subscriber on the peer; returns whether it was subscribed. */
  unsubscribe(sub: Coro | RemoteCoro, timeout?: number): Op<boolean> {
    checkTimeout(timeout);
    return this._peer.request([F.CUNSUB, 0, this.name, sub], timeout, `unsubscribe from ${String(this)}`) as Op<boolean>;
  }

  /** Waits until the peer's send queue has room again. */
  drain(timeout?: number): Op<void> {
    checkTimeout(timeout);
    return this._peer.drain(timeout);
  }

  override toString(): string {
    return `RemoteChannel(${this.name}@${this._peer.location})`;
  }
}
