/**
 * The typed description of everything the native addon exports: the only place the shape of the
 * native surface is written down on the TypeScript side. Every call is flat and non-throwing: it
 * returns a count (or 0) on success and `-errno` on failure, `EAGAIN` included. Policy (timeouts,
 * retries, typed errors) lives above this layer.
 *
 * @module
 */

/** The backends a binary can contain. Which ones this host has: {@link NativeBinding.backends}. */
export type BackendName = 'epoll' | 'poll' | 'select' | 'io_uring' | 'kqueue' | 'devpoll' | 'iocp';

/** How a poller runs inside Node (DESIGN.md section 2). */
export type PollerMode = 'integrated' | 'thread' | 'exclusive';

/** Event bits, and the bits of {@link NativePoller.features}. */
export interface EventBits {
  /** Requested and reported: the fd is readable (or at EOF). */
  readonly READ: number;
  /** Requested and reported: the fd is writable. */
  readonly WRITE: number;
  /** Reported even when not requested: an error is pending on the fd. */
  readonly ERROR: number;
  /** Reported even when not requested: the peer hung up. */
  readonly HANGUP: number;
  /** Requested: edge-triggered (only where `features & FEAT_EDGE`). */
  readonly EDGE: number;
  /** Requested: disarm after one report until `modify()` re-arms. */
  readonly ONESHOT: number;
  /** Reported on the {@link TOKEN_WAKEUP} triple only. */
  readonly WAKEUP: number;
  /** The token of the triple that reports a wake-up (`wakeup()` or a write to `wakeupFd`). */
  readonly TOKEN_WAKEUP: number;
  readonly FEAT_EDGE: number;
  readonly FEAT_ONESHOT: number;
  /** The backend's own fd can be watched by Node's loop: integrated mode is possible. */
  readonly FEAT_POLLABLE_FD: number;
  /** A blocked wait works on a snapshot of the registrations (poll, select). */
  readonly FEAT_SNAPSHOT: number;
}

/** One backend this host can open, as reported by {@link NativeBinding.backends}. */
export interface BackendInfo {
  readonly name: BackendName;
  /** `FEAT_*` bits of {@link EventBits}. */
  readonly features: number;
}

/**
 * A native poller. Events arrive in the `Int32Array` given to the constructor as
 * `[token, events, fd]` triples; its content is valid only during `onEvents(count)` (integrated
 * and thread modes) or until the next `wait()` (exclusive mode).
 */
export interface NativePoller {
  /** Registers `fd` for `events` (READ/WRITE/EDGE/ONESHOT) under `token >= 0`. `-EEXIST` if registered. */
  add(fd: number, events: number, token: number): number;
  /** Changes a registration (and re-arms a one-shot one). `-ENOENT` if not registered. */
  modify(fd: number, events: number, token: number): number;
  /** Forgets a registration; call it before closing the fd. `-ENOENT` if not registered. */
  remove(fd: number): number;
  /** Exclusive mode only: waits up to `timeoutMs` (-1: forever) and returns the triple count. */
  wait(timeoutMs: number): number;
  /** Keep the process alive while this poller is open (the default in integrated and thread modes). */
  ref(): void;
  /** Let the process exit even though this poller is open. */
  unref(): void;
  /** Makes the poller report a WAKEUP triple soon; coalesces. 0 or -errno. */
  wakeup(): number;
  /** Stops delivery, joins the waiting thread and closes the backend. Idempotent. */
  close(): void;
  readonly backend: BackendName;
  readonly mode: PollerMode;
  /** The backend's own fd (epoll's), or -1. */
  readonly fd: number;
  /** Write end of the wake-up channel: give it to another thread to use with `wakeup(fd)`. */
  readonly wakeupFd: number;
  /** How many triples fit in the event array. */
  readonly capacity: number;
  readonly features: number;
  readonly closed: boolean;
}

export interface NativePollerConstructor {
  /**
   * Opens a poller. Throws (a bug in the caller, not a runtime condition) on bad arguments, an
   * unknown backend or a mode the backend cannot do.
   */
  new (
    backend: BackendName,
    mode: PollerMode,
    events: Int32Array,
    onEvents?: (count: number) => void,
  ): NativePoller;
}

/** The whole native surface. */
export interface NativeBinding {
  readonly Poller: NativePollerConstructor;
  /** The backends compiled in and openable on this host, best first. */
  backends(): BackendInfo[];
  /** Wakes the poller whose `wakeupFd` this is; callable from any thread. 0 or -errno. */
  wakeup(fd: number): number;
  readonly events: EventBits;
  /** A pair of connected non-blocking Unix sockets into `out[0]`, `out[1]`. */
  socketpair(out: Int32Array, datagram?: boolean): number;
  /** A non-blocking pipe: `out[0]` reads, `out[1]` writes. */
  pipe(out: Int32Array): number;
  setNonBlocking(fd: number, on?: boolean): number;
  /** Reads into `buf[off, off + len)`: bytes read, 0 at EOF, or -errno. */
  read(fd: number, buf: Uint8Array, off: number, len: number): number;
  /** Writes `buf[off, off + len)`: bytes written or -errno (EPIPE, never SIGPIPE). */
  write(fd: number, buf: Uint8Array, off: number, len: number): number;
  close(fd: number): number;
  /** A close-on-exec duplicate of `fd`. */
  dup(fd: number): number;
  /** Symbolic errno values of this platform, e.g. `errno.EAGAIN`. */
  readonly errno: Readonly<Record<string, number>>;
  /** `"EAGAIN"` for `-EAGAIN` (either sign); `""` if unknown. */
  errnoName(code: number): string;
  /** The C library's message for an errno (either sign). */
  strerror(code: number): string;
}
