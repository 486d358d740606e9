/**
 * The errors asyncoro throws. Every error a user can meet is a subclass of {@link AsyncoroError},
 * so `instanceof` tells them apart, and each carries a stable `code` string.
 *
 * @module
 */
import { native } from '../native/binding.js';

/** Base class of every error asyncoro throws on purpose. */
export class AsyncoroError extends Error {
  /** A stable, machine-readable name for the condition, e.g. `'ERR_BACKEND_UNAVAILABLE'`. */
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A poller backend or mode that this host or this binary does not have.
 *
 * @example
 * ```ts
 * try { openPoller({ poller: 'kqueue' }) }
 * catch (e) { if (e instanceof BackendUnavailableError) console.log(e.available) }
 * ```
 */
export class BackendUnavailableError extends AsyncoroError {
  /** The backends this host does have, best first. */
  readonly available: readonly string[];
  constructor(message: string, available: readonly string[]) {
    super(message, 'ERR_BACKEND_UNAVAILABLE');
    this.available = available;
  }
}

/** A system call failed: `errno` is the positive error number, `code` its name (`'EBADF'`). */
export class SystemError extends AsyncoroError {
  readonly errno: number;
  readonly syscall: string;
  constructor(syscall: string, errno: number) {
    const e = Math.abs(errno);
    const name = native.errnoName(e) || `E${e}`;
    super(`${syscall}: ${native.strerror(e)} (${name})`, name);
    this.errno = e;
    this.syscall = syscall;
  }
}

/**
 * Throws a {@link SystemError} when a native call returned `-errno`; otherwise returns the result.
 *
 * @example
 * ```ts
 * const n = check('read', native.read(fd, buf, 0, buf.length));
 * ```
 */
export function check(syscall: string, result: number): number {
  if (result < 0) throw new SystemError(syscall, result);
  return result;
}
