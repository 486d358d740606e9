/**
 * Errors of the I/O layer. System call failures are {@link SystemError}s with the errno's name as
 * `code` (`'ECONNRESET'`, `'EPIPE'`, `'ECONNREFUSED'`, ...); these are the conditions that are not
 * a single failed call.
 *
 * @module
 */
import { AsyncoroError, TimeoutError } from '../core/errors.js';

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
 * Base class of the TLS failures: {@link CertificateError}, {@link TlsProtocolError}. `reason` is
 * OpenSSL's text for the cause.
 *
 * @example
 * ```ts
 * try { yield* sock.startTls({ servername: 'example.com' }) }
 * catch (e) { if (e instanceof TlsError) console.log(e.code, e.reason) }
 * ```
 */
export class TlsError extends AsyncoroError {
  /** What went wrong, in OpenSSL's words (`'certificate verify failed'`, `'wrong version number'`). */
  readonly reason: string;
  constructor(message: string, code: string, reason: string) {
    super(message, code);
    this.reason = reason;
  }
}

/**
 * The peer's certificate was refused: it did not verify against the trusted CAs (expired, issuer
 * unknown, self-signed, ...), or no certificate came when one was required. `code` is the name
 * Node uses for the verification result (`'CERT_HAS_EXPIRED'`,
 * `'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'`, `'DEPTH_ZERO_SELF_SIGNED_CERT'`), or
 * `'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'`.
 *
 * @example
 * ```ts
 * try { yield* sock.startTls({ servername: 'localhost' }) }
 * catch (e) { if (e instanceof CertificateError && e.code === 'CERT_HAS_EXPIRED') renew() }
 * ```
 */
export class CertificateError extends TlsError {
  constructor(what: string, code: string, reason: string) {
    super(`${what}: the peer's certificate was refused: ${reason} (${code})`, code, reason);
  }
}

/**
 * The server's certificate verified but is not for the name (or IP address) the client asked
 * for. `code` is `'ERR_TLS_CERT_ALTNAME_INVALID'`, as in Node; `host` is the name checked.
 *
 * @example
 * ```ts
 * try { yield* sock.startTls({ servername: 'example.com' }) }
 * catch (e) { if (e instanceof HostnameMismatchError) console.log(e.host) }
 * ```
 */
export class HostnameMismatchError extends CertificateError {
  /** The host name or IP address the certificate was checked against. */
  readonly host: string;
  constructor(what: string, host: string) {
    super(what, 'ERR_TLS_CERT_ALTNAME_INVALID', `the certificate is not for ${host}`);
    this.host = host;
  }
}

/**
 * The TLS exchange failed for a reason other than the peer's certificate: no protocol version or
 * cipher in common, a record that is not TLS, the peer's fatal alert (`alert` names it: the peer
 * refused our certificate with `'bad_certificate'`, `'unknown_ca'`, `'certificate_required'`),
 * the connection ending in the middle of the handshake. `code` is `'ERR_SSL_'` and the reason in
 * capitals, as Node names OpenSSL's errors (`'ERR_SSL_WRONG_VERSION_NUMBER'`).
 *
 * @example
 * ```ts
 * try { yield* conn.recv(100) }
 * catch (e) { if (e instanceof TlsProtocolError && e.alert === 'certificate_required') login() }
 * ```
 */
export class TlsProtocolError extends TlsError {
  /** The fatal alert the peer sent, in RFC 8446 spelling (`'handshake_failure'`), if it sent one. */
  readonly alert: string | undefined;
  constructor(what: string, reason: string) {
    const code = `ERR_SSL_${reason.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_|_$/g, '')}`;
    super(`${what}: ${reason}`, code, reason);
    const m = /alert (.+)$/.exec(reason);
    this.alert = m !== null ? m[1]!.replace(/ /g, '_') : undefined;
  }
}

/**
 * The TLS handshake did not finish in time (`handshakeTimeout`, or the timeout of the call that
 * waited for it). The connection is closed. A {@link TimeoutError}, so code that handles
 * timeouts in general handles this one too.
 *
 * @example
 * ```ts
 * try { yield* sock.startTls({ handshakeTimeout: 5000 }) }
 * catch (e) { if (e instanceof TlsHandshakeTimeoutError) console.log('peer too slow') }
 * ```
 */
export class TlsHandshakeTimeoutError extends TimeoutError {
  constructor(timeout: number) {
    super('TLS handshake', timeout);
  }
}

/**
 * The TLS implementation asked for cannot run here: `ASYNCORO_TLS=native` (or `engine:
 * 'native'`) where the running Node exposes no usable OpenSSL 3, or Node's `tls` (the fallback)
 * under a scheduler in exclusive mode, where Node's event loop does not run. `code` is
 * `'ERR_TLS_UNAVAILABLE'`.
 *
 * @example
 * ```ts
 * try { yield* sock.startTls({ engine: 'native' }) }
 * catch (e) { if (e instanceof TlsUnavailableError) console.log(e.message) }
 * ```
 */
export class TlsUnavailableError extends AsyncoroError {
  constructor(message: string) {
    super(message, 'ERR_TLS_UNAVAILABLE');
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
