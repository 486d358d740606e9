/**
 * `RCI`: remote coroutine invocation. A node registers a generator function under a name; a peer
 * locates it and calls it, which starts a coroutine running the function on the registering
 * node and returns its proxy. Only registered functions run, by name, and only for peers that
 * authenticated; nothing that arrives is evaluated as code.
 *
 * @module
 */
import { checkTimeout, type CoroFn } from '../core/coro.js';
import { AsyncoroError } from '../core/errors.js';
import { F } from './wire.js';
import { currentNetwork, networkOf, type LocateOptions } from './network.js';
import type { Peer } from './peer.js';
import type { RemoteCoro } from './refs.js';
import { rciRegistry } from './registry.js';

/**
 * A function peers may run, or a handle to one registered on a peer.
 *
 * @example
 * ```ts
 * // on the worker node
 * new RCI(function* square(n: number) { return n * n }).register();
 * // on another node
 * const rci = yield* RCI.locate('square', { timeout: 2000 });
 * const rcoro = yield* rci.call(7);
 * console.log(yield* rcoro.finish()); // 49
 * ```
 */
export class RCI<A extends unknown[] = any[], R = unknown> {
  /** The name it is registered (or was located) under. */
  readonly name: string;
  /** @internal The function, on the registering node. */
  readonly _fn: CoroFn<R, A> | undefined;
  /** @internal The peer it lives on, for a located handle. */
  readonly _peer: Peer | undefined;

  /**
   * Wraps `fn` (a generator function) for registering under `name` (default: the function's
   * name).
   */
  constructor(fn: CoroFn<R, A>, options?: { name?: string });
  /** @internal */
  constructor(fn: CoroFn<R, A> | undefined, options: { name?: string } | undefined, peer: Peer);
  constructor(fn: CoroFn<R, A> | undefined, options: { name?: string } = {}, peer?: Peer) {
    if (peer === undefined) {
      if (typeof fn !== 'function') throw new TypeError('an RCI needs a generator function');
      const name = options.name ?? fn.name;
      if (typeof name !== 'string' || name === '') throw new TypeError('an RCI needs a name: give the function one, or pass { name }');
      this.name = name;
    } else this.name = options.name!;
    this._fn = fn;
    this._peer = peer;
  }

  /** Where it runs: `host:port` of its peer, or `'local'`. */
  get location(): string {
    return this._peer?.location ?? 'local';
  }

  /**
   * Lets peers call the function by its name. Throws if another function has the name. Returns
   * the RCI.
   */
  register(): this {
    if (this._fn === undefined || this._peer !== undefined) throw new AsyncoroError('only a local RCI can be registered', 'ERR_NOT_LOCAL');
    const held = rciRegistry.get(this.name);
    if (held !== undefined && held !== this._fn) throw new AsyncoroError(`an RCI named '${this.name}' is already registered`, 'ERR_NAME_TAKEN');
    rciRegistry.set(this.name, this._fn as CoroFn<unknown, any>);
    return this;
  }

  /** Withdraws the registration; returns whether there was one. */
  unregister(): boolean {
    if (this._fn === undefined || rciRegistry.get(this.name) !== this._fn) return false;
    return rciRegistry.delete(this.name);
  }

  /**
   * Finds the function registered as `name` on a peer (`location`), or on any peer online (the
   * first to answer). Throws `AsyncoroError` with code `'ERR_NOT_FOUND'` when none has it.
   */
  static *locate<A extends unknown[] = any[], R = unknown>(name: string, options: LocateOptions = {}): Generator<unknown, RCI<A, R>, unknown> {
    if (typeof name !== 'string' || name === '') throw new TypeError('RCI.locate needs a name');
    checkTimeout(options.timeout);
    const net = currentNetwork(`RCI.locate('${name}')`);
    const peer = (yield* net.locate(2, name, options)) as Peer | undefined;
    if (peer === undefined) throw new AsyncoroError(`no peer has an RCI named '${name}'`, 'ERR_NOT_FOUND');
    return new RCI<A, R>(undefined, { name }, peer);
  }

  /**
   * Starts the function on its peer with `args` (sent as a message: values, Coros, Channels)
   * and returns the new coroutine's proxy. An error starting it there comes back as a
   * {@link RemoteError}; the coroutine's own outcome is for `yield* rcoro.finish()`.
   */
  *call(...args: A): Generator<unknown, RemoteCoro, unknown> {
    const p = this._peer;
    if (p === undefined) throw new AsyncoroError(`RCI '${this.name}' is local: locate it to call it from a peer`, 'ERR_NOT_REMOTE');
    if (networkOf() === undefined) currentNetwork(`RCI '${this.name}'.call`);
    return (yield* p.request([F.CALL, 0, this.name, args], undefined, `call of RCI '${this.name}' at ${p.location}`)) as RemoteCoro;
  }

  toString(): string {
    return `RCI(${this.name}@${this.location})`;
  }
}
