/**
 * The one place lib/core and lib/msg reach into the peers layer: `Coro.locate(name, options)` and
 * `Channel.locate(name, options)` look among peers through the function installed here by
 * lib/remote/network.ts when it loads. (lib/core imports nothing else of lib/remote, so the
 * layers do not load each other in a cycle.)
 *
 * @module
 * @internal
 */
import { AsyncoroError } from '../core/errors.js';
import type { Op } from '../core/op.js';

/** A location as users give it: `'host:port'`, a peer's name, or `{ host, port }`. */
export type LocationLike = string | { host: string; port: number };

/** Options of `Coro.locate`, `Channel.locate` and `RCI.locate` when they look among peers. */
export interface LocateOptions {
  /** Only this peer: `'host:port'`, its name, or `{ host, port }`. Default: this node, then every peer online. */
  location?: LocationLike;
  /** Milliseconds to wait for answers (and, with `location`, for the connection). */
  timeout?: number;
}

type Locate = (kind: 0 | 1, name: string, options: LocateOptions) => Op<unknown>;
let impl: Locate | undefined;

/** @internal Installed by lib/remote/network.ts. */
export function setRemoteLocate(fn: Locate): void {
  impl = fn;
}

/** @internal */
export function remoteLocate(kind: 0 | 1, name: string, options: LocateOptions): Op<unknown> {
  if (options === null || typeof options !== 'object') throw new TypeError('locate options must be an object');
  if (impl === undefined) throw new AsyncoroError('locating among peers needs the peers layer (lib/remote), which is not loaded', 'ERR_NO_NETWORK');
  return impl(kind, name, options);
}
