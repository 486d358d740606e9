/**
 * The contract between {@link TlsSocket} and its two engines: the native one (OpenSSL in the
 * addon, `tls-native.ts`) and the fallback (Node's `tls`, `tls-node.ts`). An engine exposes
 * non-waiting tries and the waits that make them progress; the socket builds `recv`, `recvall`,
 * `sendall`, framing and timeouts on them once, so both engines behave alike. Also here: the
 * translation of both engines' failures into the typed errors users see.
 *
 * @internal
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { NotInCoroError } from '../core/errors.js';
import { running, type Op } from '../core/op.js';
import { native } from '../native/binding.js';
import { CertificateError, HostnameMismatchError, TlsProtocolError, type TlsError } from './errors.js';
import type { OpOptions } from './socket.js';

/** The two TLS implementations. */
export type TlsEngineName = 'native' | 'node';

/**
 * The time limit of one operation in one direction, taken at its first wait (so an operation
 * that never waits never reads the clock). One per direction per socket, reused.
 */
export class Deadline {
  limit: number | undefined = undefined;
  what = '';
  private at = NaN;

  begin(limit: number | undefined, what: string): void {
    this.limit = limit;
    this.what = what;
    this.at = NaN;
  }

  /** Milliseconds left for the next wait, or undefined without a limit. */
  left(): number | undefined {
    if (this.limit === undefined) return undefined;
    const c = running;
    if (c === null) throw new NotInCoroError(this.what);
    const now = c._s.clock.now();
    if (Number.isNaN(this.at)) this.at = now + this.limit;
    const left = this.at - now;
    return left > 0 ? left : 0;
  }

  /** The options of a socket call that may wait: the time left, or undefined. */
  opts(): OpOptions | undefined {
    const left = this.left();
    return left === undefined ? undefined : { timeout: left };
  }
}

/** What a handshake settled. */
export interface TlsState {
  /** `'TLSv1.3'` or `'TLSv1.2'`. */
  readonly protocol: string;
  /** The cipher's OpenSSL name (`'TLS_AES_256_GCM_SHA384'`). */
  readonly cipher: string | null;
  /** The protocol ALPN chose, or null. */
  readonly alpnProtocol: string | null;
  /** Server: the name the client asked for (SNI); client: the name it sent; null if none. */
  readonly servername: string | null;
  readonly reused: boolean;
  /** The peer presented a certificate and it verified (for a client: also for the host). */
  readonly authorized: boolean;
  /** Why the peer's certificate did not verify (`'CERT_HAS_EXPIRED'`), or null. */
  readonly authorizationError: string | null;
}

/** How a connection verifies its peer, from `rejectUnauthorized` and `requestCert`. */
export type VerifyMode = 'none' | 'peer' | 'require' | 'request';

/** Per-connection settings, normalised from the user's options. */
export interface EngineSetup {
  readonly server: boolean;
  readonly verify: VerifyMode;
  /** Client: the name or IP address the server's certificate must be for. */
  readonly host: string | undefined;
  /** Client: the server name sent (SNI), or undefined (none for an IP address). */
  readonly sni: string | undefined;
  /** ALPN protocols in wire format. */
  readonly alpn: Buffer | undefined;
  /** Client: a session to resume (DER). */
  readonly session: Uint8Array | undefined;
}

/** One TLS connection over one AsyncSocket. */
export interface TlsEngine {
  readonly engine: TlsEngineName;
  /** Runs the handshake; a timeout surfaces as the TimeoutError of a wait. */
  handshake(dl: Deadline): Op<void>;
  /** Plaintext into `buf[off, off + len)`: > 0 bytes, 0 at the end of the stream, -1: wait first. */
  tryRead(buf: Uint8Array, off: number, len: number): number;
  /** Waits until {@link tryRead} can make progress. */
  waitRead(dl: Deadline): Op<void>;
  /** Takes plaintext from `buf[off, off + len)`: > 0 bytes taken, or -1: wait first. */
  tryWrite(buf: Uint8Array, off: number, len: number): number;
  /** Waits until {@link tryWrite} can take more. */
  waitWrite(dl: Deadline): Op<void>;
  /** Waits until everything taken so far went to the kernel. */
  flush(dl: Deadline): Op<void>;
  /** Sends close_notify and then ends the transport's write side, without waiting. */
  shutdownWrite(): void;
  /** Sends close_notify if it can go at once, then closes the transport. Idempotent. */
  close(): void;
  /** What the handshake settled. */
  state(): TlsState;
  peerCertificate(): X509Certificate | undefined;
  session(): Buffer | undefined;
}

const verifyNames = native.tls.verifyNames;
const knownVerifyNames = new Set(Object.values(verifyNames));

/** Node's code for a host name (or IP) mismatch, which OpenSSL reports as a verify result. */
export const ALTNAME_INVALID = 'ERR_TLS_CERT_ALTNAME_INVALID';

/** The name of a verification result, as Node names it (a host mismatch as Node's code). */
export function verifyName(code: number): string {
  const name = verifyNames[code] ?? `X509_V_ERR_${code}`;
  return name === 'HOSTNAME_MISMATCH' || name === 'IP_ADDRESS_MISMATCH' ? ALTNAME_INVALID : name;
}

/**
 * The typed error for a failure: a verification result (by name) is a certificate problem, a
 * host mismatch its own kind, a missing client certificate a certificate problem too, anything
 * else a protocol error with OpenSSL's reason.
 */
export function tlsFailure(what: string, reason: string, verify: string | undefined, host: string | undefined): TlsError {
  if (verify === ALTNAME_INVALID) return new HostnameMismatchError(what, host ?? '?');
  if (verify !== undefined) return new CertificateError(what, verify, reason);
  if (reason === 'peer did not return a certificate') {
    return new CertificateError(what, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', reason);
  }
  return new TlsProtocolError(what, reason);
}

/** Whether `code` names a verification result (Node puts these in `err.code`). */
export function isVerifyName(code: unknown): code is string {
  return typeof code === 'string' && knownVerifyNames.has(code);
}
