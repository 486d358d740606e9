/**
 * Errors of the peers layer. Each is an {@link AsyncoroError} with a stable `code`.
 *
 * @module
 */
import { AsyncoroError } from '../core/errors.js';

/**
 * The peer an operation needed went offline (its connection was lost, it was killed, it shut
 * down) before the operation completed: a `deliver` waiting for its acknowledgement, an RCI call,
 * a locate, a file transfer. `code` is `'ERR_PEER_LOST'`.
 *
 * @example
 * ```ts
 * try { yield* remote.deliver('job', 5000) }
 * catch (e) { if (e instanceof PeerLostError) console.log(`${e.location} is gone`) }
 * ```
 */
export class PeerLostError extends AsyncoroError {
  /** The peer's address, `host:port`. */
  readonly location: string;
  constructor(what: string, location: string) {
    super(`${what}: peer ${location} is offline`, 'ERR_PEER_LOST');
    this.location = location;
  }
}

/**
 * An error raised on a peer, carried back: an RCI function that threw, a remote coroutine's
 * failure seen through `finish()`, a file the peer refused. `remoteName`, `remoteCode` and
 * `remoteStack` are the original error's name, code and stack on the peer. `code` is
 * `'ERR_REMOTE'`.
 *
 * @example
 * ```ts
 * try { yield* rcoro.finish() }
 * catch (e) { if (e instanceof RemoteError) console.log(e.remoteName, e.message, e.remoteStack) }
 * ```
 */
export class RemoteError extends AsyncoroError {
  /** The name of the error on the peer (`'TypeError'`, `'RangeError'`, ...). */
  readonly remoteName: string;
  /** The `code` of the error on the peer, if it had one. */
  readonly remoteCode: string | undefined;
  /** The stack of the error on the peer, as text. */
  readonly remoteStack: string;
  /** The peer's address, `host:port`. */
  readonly location: string;
  constructor(location: string, name: string, message: string, stack: string, code: string | undefined) {
    super(message, 'ERR_REMOTE');
    this.remoteName = name;
    this.remoteCode = code;
    this.remoteStack = stack;
    this.location = location;
  }
}

/**
 * A message could not be queued for a peer: its send queue holds `maxQueueBytes` already (the
 * peer reads slower than this side writes). `send` never waits, so it says so; `deliver` and
 * `drain()` wait for room instead. `code` is `'ERR_QUEUE_FULL'`.
 *
 * @example
 * ```ts
 * try { remote.send(big) } catch (e) { if (e instanceof SendQueueFullError) yield* remote.drain() }
 * ```
 */
export class SendQueueFullError extends AsyncoroError {
  readonly location: string;
  readonly queued: number;
  constructor(location: string, queued: number) {
    super(`the send queue to ${location} is full (${queued} bytes waiting)`, 'ERR_QUEUE_FULL');
    this.location = location;
    this.queued = queued;
  }
}

/**
 * A peers operation needs a network this scheduler has not joined (`joinNetwork`), or one that
 * has been closed. `code` is `'ERR_NO_NETWORK'`.
 */
export class NoNetworkError extends AsyncoroError {
  constructor(what: string) {
    super(`${what}: this scheduler has not joined a network (joinNetwork), or it was closed`, 'ERR_NO_NETWORK');
  }
}

/**
 * `tls` was asked for in the network options, but TLS for peer connections is not available: the
 * one TLS error class of lib/io (`code` `'ERR_TLS_UNAVAILABLE'`).
 */
export { TlsUnavailableError } from '../io/errors.js';

/**
 * A peer (the receiving side of `sendFile`/`delFile`) refused a file operation: a name or
 * directory that would leave its destination directory, a file over its size limit, a file that
 * exists without `overwrite`. Raised on the receiver and carried back; `code` names the reason:
 * `'ERR_PATH_ESCAPE'`, `'ERR_FILE_TOO_LARGE'`, `'ERR_FILE_EXISTS'`.
 */
export class FileRefusedError extends AsyncoroError {
  constructor(message: string, code: 'ERR_PATH_ESCAPE' | 'ERR_FILE_TOO_LARGE' | 'ERR_FILE_EXISTS' | 'ERR_FILE') {
    super(message, code);
  }
}
