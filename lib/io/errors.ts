/**
 * Errors of the I/O layer. System call failures are {@link SystemError}s with the errno's name as
 * `code` (`'ECONNRESET'`, `'EPIPE'`, `'ECONNREFUSED'`, ...); these are the conditions that are not
 * a single failed call.
 *
 * @module
 */
import { AsyncoroError } from '../core/errors.js';

/**
 * The socket was closed, before the operation or while it waited. `code` is `'ERR_SOCKET_CLOSED'`.
 *
 * @example
 * ```ts
 * try { yield* sock.recv(10) } catch (e) { if (e instanceof SocketClosedError) return }
 * ```
 */
export class SocketClosedError extends AsyncoroError {
  constructor(what: string) {
    super(`${what}: the socket is closed`, 'ERR_SOCKET_CLOSED');
  }
}

/**
 * The peer ended the stream (EOF) before an exact-size read was complete (`recvall`, a message
 * of `recvMsg`). The bytes that did arrive are in `partial`; nothing is dropped silently.
 *
 * @example
 * ```ts
 * try { yield* sock.recvall(100) } catch (e) { if (e instanceof EOFError) console.log(e.partial.length) }
 * ```
 */
export class EOFError extends AsyncoroError {
  /** The bytes received before the end of the stream. */
  readonly partial: Buffer;
  /** How many bytes were expected. */
  readonly expected: number;
  constructor(what: string, partial: Buffer, expected: number) {
    super(`${what}: the peer closed the stream after ${partial.length} of ${expected} bytes`, 'ERR_EOF');
    this.partial = partial;
    this.expected = expected;
  }
}

/**
 * A framed message (`sendMsg`/`recvMsg`) is larger than the socket's `maxMessageSize`. On receive
 * the stream cannot be resynchronised, so the socket is closed. `code` is `'ERR_MESSAGE_TOO_LARGE'`.
 */
export class MessageTooLargeError extends AsyncoroError {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super(`message of ${size} bytes exceeds the limit of ${limit} bytes`, 'ERR_MESSAGE_TOO_LARGE');
    this.size = size;
    this.limit = limit;
  }
}

/** An address that cannot be used: bad host, port or path, or a name that did not resolve. */
export class AddressError extends AsyncoroError {
  constructor(message: string) {
    super(message, 'ERR_ADDRESS');
  }
}

/**
 * The `AsyncFile` (a pipe end, a FIFO, a device) was closed, before the operation or while it
 * waited, or was handed to a child process. `code` is `'ERR_FILE_CLOSED'`.
 *
 * @example
 * ```ts
 * try { yield* file.read(100) } catch (e) { if (e instanceof FileClosedError) return }
 * ```
 */
export class FileClosedError extends AsyncoroError {
  constructor(what: string) {
    super(`${what}: the file is closed`, 'ERR_FILE_CLOSED');
  }
}
