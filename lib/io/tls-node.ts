/**
 * The fallback TLS engine: Node's `tls.TLSSocket` over a Duplex stream of our AsyncSocket, for
 * a Node whose OpenSSL the addon cannot use (or with `ASYNCORO_TLS=node`).
 *
 * Two daemon coroutines pump the socket: one reads ciphertext into the Duplex while Node's TLS
 * wants it, one sends what Node's TLS writes. The TLS socket's own operations wait for Node's
 * events ('readable', 'end', a write's callback) in a suspension the event handlers wake. Node's
 * streams run on Node's event loop, so this engine needs a scheduler in integrated or thread
 * mode (in exclusive mode `run()` keeps the loop from running).
 *
 * @internal
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { Duplex } from 'node:stream';
import * as nodeTls from 'node:tls';
import { suspend, type Coro } from '../core/coro.js';
import { AsyncoroError, TimeoutError } from '../core/errors.js';
import { PENDING, Suspend } from '../core/op.js';
import type { Scheduler } from '../core/scheduler.js';
import { SocketClosedError } from './errors.js';
import type { AsyncSocket } from './socket.js';
import {
  ALTNAME_INVALID,
  isVerifyName,
  tlsFailure,
  type Deadline,
  type EngineSetup,
  type TlsEngine,
  type TlsState,
} from './tls-engine.js';

/** A Duplex stream of ciphertext over an AsyncSocket, pumped by two coroutines. */
class SocketDuplex extends Duplex {
  private reader: Coro<void> | null = null;
  private writer: Coro<void> | null = null;
  /** Node's side wants more ciphertext (its buffer is below its high-water mark). */
  readWanted = false;
  /** The chunk Node's side gave to send, and its callback. */
  pendingWrite: [Buffer, (err?: Error | null) => void] | null = null;
  /** Destroyed: the pumps end. */
  done = false;

  constructor(
    readonly sock: AsyncSocket,
    private readonly sched: Scheduler,
  ) {
    super({ allowHalfOpen: true });
  }

  override _read(): void {
    this.readWanted = true;
    if (this.reader === null) {
      this.reader = this.sched.spawn(readLoop, this);
      this.reader.daemon = true;
    } else {
      this.reader.resume();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // A Writable hands over one chunk at a time, so one slot is enough.
    this.pendingWrite = [chunk, cb];
    if (this.writer === null) {
      this.writer = this.sched.spawn(writeLoop, this);
      this.writer.daemon = true;
    } else {
      this.writer.resume();
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    try {
      if (!this.sock.isClosed) this.sock.shutdown('write');
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.done = true;
    // A pump waiting in a socket call gets SocketClosedError; one idle in suspend() is woken and
    // sees `done`. (This may run inside a pump, through Node's stream calls: nothing is thrown.)
    this.sock.close();
    this.reader?.resume();
    this.writer?.resume();
    cb(err);
  }
}

function* readLoop(d: SocketDuplex): Generator<unknown, void, unknown> {
  try {
    while (!d.done) {
      if (!d.readWanted) {
        yield* suspend();
        continue;
      }
      // The request is taken before the read: a _read() that comes while push() runs (Node
      // may ask for more from inside it) sets it again and is not lost.
      d.readWanted = false;
      const data = yield* d.sock.recv(65536);
      if (data.length === 0) {
        d.push(null);
        return;
      }
      if (d.push(data)) d.readWanted = true;
    }
  } catch (e) {
    if (!(e instanceof SocketClosedError) && !d.done) d.destroy(e as Error);
  }
}

function* writeLoop(d: SocketDuplex): Generator<unknown, void, unknown> {
  for (;;) {
    if (d.done) {
      d.pendingWrite?.[1](new SocketClosedError('send'));
      return;
    }
    const w = d.pendingWrite;
    d.pendingWrite = null;
    if (w === null) {
      yield* suspend();
      continue;
    }
    try {
      yield* d.sock.sendall(w[0]);
    } catch (e) {
      w[1](e as Error);
      return;
    }
    w[1]();
  }
}

/** A wait for Node's events, woken by their handlers; one per direction, reused. */
class NodeWait extends Suspend<void> {
  private waiter: Coro<unknown> | null = null;
  private timeout: number | undefined;
  private what = '';
  private limit = 0;

  constructor(private readonly ready: () => boolean) {
    super();
  }

  arm(dl: Deadline): this {
    this.timeout = dl.left();
    this.what = dl.what;
    this.limit = dl.limit ?? 0;
    return this;
  }

  _start(c: Coro<unknown>): unknown {
    if (this.ready()) return undefined;
    this.waiter = c;
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }

  override _timeout(): unknown {
    this.waiter = null;
    throw new TimeoutError(this.what, this.limit);
  }

  override _cancel(): void {
    this.waiter = null;
  }

  wake(): void {
    const c = this.waiter;
    if (c === null) return;
    this.waiter = null;
    if (c._pendingOp() === this) c._s._wakeNow(c, undefined, false);
  }
}

/** The reason given when the stream ends before the handshake is done (as the native engine says). */
const PEER_CLOSED = 'the peer closed the connection during the handshake';

/** Node's write-side buffer the engine fills before it waits for callbacks. */
const HIGH_WATER = 256 * 1024;
const CHUNK = 65536;

export class NodeEngine implements TlsEngine {
  readonly engine = 'node' as const;
  private readonly duplex: SocketDuplex;
  private readonly tls: nodeTls.TLSSocket;
  private secure = false;
  private ended = false;
  private gone = false;
  private error: Error | undefined;
  private chunk: Buffer | undefined;
  /** Plaintext given to Node's TLS whose write callback has not come yet. */
  private unacked = 0;
  private closed = false;
  private settled: TlsState | undefined;
  private readonly hwait = new NodeWait(() => this.secure || this.ended || this.gone || this.error !== undefined);
  private readonly rwait = new NodeWait(() => this.ended || this.gone || this.error !== undefined || this.chunk !== undefined || this.tls.readableLength > 0);
  private readonly wwait = new NodeWait(() => this.unacked < HIGH_WATER || this.gone || this.error !== undefined);
  private readonly fwait = new NodeWait(() => this.unacked === 0 || this.gone || this.error !== undefined);

  constructor(
    sock: AsyncSocket,
    sched: Scheduler,
    ctx: nodeTls.SecureContext,
    private readonly setup: EngineSetup,
    options: {
      SNICallback?: ((servername: string, cb: (err: Error | null, ctx?: nodeTls.SecureContext) => void) => void) | undefined;
    },
  ) {
    this.duplex = new SocketDuplex(sock, sched);
    const alpn = setup.alpn !== undefined ? { ALPNProtocols: setup.alpn } : {};
    if (setup.server) {
      this.tls = new nodeTls.TLSSocket(this.duplex, {
        isServer: true,
        secureContext: ctx,
        requestCert: setup.verify === 'require' || setup.verify === 'request',
        rejectUnauthorized: setup.verify === 'require',
        ...alpn,
        ...(options.SNICallback !== undefined ? { SNICallback: options.SNICallback } : {}),
      });
      this.tls.once('secure', () => this.onSecure());
    } else {
      this.tls = nodeTls.connect({
        socket: this.duplex,
        secureContext: ctx,
        rejectUnauthorized: setup.verify === 'peer',
        // The identity checked is `host` (a name or an IP address); SNI carries names only.
        ...(setup.host !== undefined ? { host: setup.host } : {}),
        ...(setup.sni !== undefined ? { servername: setup.sni } : {}),
        ...(setup.session !== undefined ? { session: Buffer.from(setup.session) } : {}),
        ...alpn,
      });
      this.tls.once('secureConnect', () => this.onSecure());
    }
    this.tls.on('readable', () => this.rwait.wake());
    this.tls.on('end', () => {
      this.ended = true;
      this.hwait.wake();
      this.rwait.wake();
    });
    this.tls.on('error', (e: Error) => {
      this.error ??= e;
      this.wakeAll();
    });
    this.tls.on('close', () => {
      this.gone = true;
      this.duplex.destroy();
      this.wakeAll();
    });
  }

  private onSecure(): void {
    this.secure = true;
    this.hwait.wake();
  }

  private wakeAll(): void {
    this.hwait.wake();
    this.rwait.wake();
    this.wwait.wake();
    this.fwait.wake();
  }

  /** The typed error for what Node reported (or for the connection going away). */
  private failure(what: string): Error {
    if (this.closed) return new SocketClosedError(what);
    const e = this.error as (Error & { code?: unknown; reason?: unknown }) | undefined;
    if (e === undefined) return tlsFailure(what, 'the connection ended during the TLS exchange', undefined, undefined);
    // Our own socket's failures (a reset, a closed socket) come through the Duplex unchanged.
    if (e instanceof AsyncoroError) return e;
    if (e.code === ALTNAME_INVALID) return tlsFailure(what, e.message, ALTNAME_INVALID, this.setup.host);
    if (isVerifyName(e.code)) return tlsFailure(what, e.message, e.code, this.setup.host);
    if (typeof e.reason === 'string') return tlsFailure(what, e.reason, undefined, undefined);
    // "Client network socket disconnected before secure TLS connection was established"
    if (e.code === 'ECONNRESET' && !this.secure) return tlsFailure(what, PEER_CLOSED, undefined, undefined);
    return tlsFailure(what, e.message, undefined, undefined);
  }

  *handshake(dl: Deadline): Generator<unknown, void, unknown> {
    while (!this.secure) {
      if (this.error !== undefined || this.gone) throw this.failure(dl.what);
      if (this.ended) throw tlsFailure(dl.what, PEER_CLOSED, undefined, undefined);
      yield* this.hwait.arm(dl);
    }
    const tls = this.tls;
    let authorized = tls.authorized;
    let authError = tls.authorizationError as unknown;
    if (this.setup.server && this.setup.verify !== 'none') {
      // A server socket made without a tls.Server is left to judge the client's certificate
      // itself, as tls.Server does after the handshake: Node lets OpenSSL accept any
      // certificate and keeps the verdict in the handle (`ssl`, long-standing, undocumented).
      const handle = (tls as unknown as { ssl?: { verifyError?: () => (Error & { code?: unknown }) | null } }).ssl;
      const verdict = handle?.verifyError?.() ?? null;
      authorized = verdict === null && tls.getPeerX509Certificate() !== undefined;
      authError = verdict !== null ? String(verdict.code ?? verdict.message) : null;
      if (this.setup.verify === 'require' && verdict !== null) {
        this.closed = true;
        tls.destroy();
        this.duplex.destroy();
        const code = String(authError);
        throw tlsFailure(dl.what, verdict.message, isVerifyName(code) ? code : 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', undefined);
      }
    }
    const servername = this.setup.server ? tls.servername : this.setup.sni;
    this.settled = {
      protocol: tls.getProtocol() ?? '',
      cipher: tls.getCipher()?.name ?? null,
      alpnProtocol: typeof tls.alpnProtocol === 'string' ? tls.alpnProtocol : null,
      servername: typeof servername === 'string' ? servername : null,
      reused: tls.isSessionReused(),
      authorized,
      authorizationError:
        authError === null || authError === undefined
          ? null
          : authError instanceof Error
            ? String((authError as Error & { code?: unknown }).code ?? authError.message)
            : String(authError),
    };
  }

  state(): TlsState {
    return this.settled!;
  }

  tryRead(buf: Uint8Array, off: number, len: number): number {
    let c = this.chunk;
    if (c === undefined) {
      const got = this.tls.read() as Buffer | null;
      if (got === null) {
        if (this.ended) return 0;
        if (this.error !== undefined) throw this.failure('recv');
        if (this.gone) return 0;
        return -1;
      }
      c = got;
    }
    const n = Math.min(len, c.length);
    buf.set(n === c.length ? c : c.subarray(0, n), off);
    this.chunk = n < c.length ? c.subarray(n) : undefined;
    return n;
  }

  *waitRead(dl: Deadline): Generator<unknown, void, unknown> {
    yield* this.rwait.arm(dl);
  }

  tryWrite(buf: Uint8Array, off: number, len: number): number {
    if (this.error !== undefined) throw this.failure('send');
    if (this.gone) throw new SocketClosedError('send');
    if (this.unacked >= HIGH_WATER) return -1;
    const n = Math.min(len, CHUNK);
    // A copy: Node keeps the chunk until it is written, and the caller may reuse its buffer.
    const copy = Buffer.from(buf.subarray(off, off + n));
    this.unacked += n;
    this.tls.write(copy, (err?: Error | null) => {
      this.unacked -= n;
      if (err) this.error ??= err;
      this.wwait.wake();
      this.fwait.wake();
    });
    return n;
  }

  *waitWrite(dl: Deadline): Generator<unknown, void, unknown> {
    yield* this.wwait.arm(dl);
  }

  *flush(dl: Deadline): Generator<unknown, void, unknown> {
    while (this.unacked > 0) {
      if (this.error !== undefined) throw this.failure(dl.what);
      if (this.gone) throw new SocketClosedError(dl.what);
      yield* this.fwait.arm(dl);
    }
    if (this.error !== undefined) throw this.failure(dl.what);
  }

  shutdownWrite(): void {
    if (!this.closed) this.tls.end();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const tls = this.tls;
    this.wakeAll();
    if (this.secure && this.error === undefined && this.unacked === 0 && !this.gone) {
      // close_notify and the end of the stream go out through the pumps in a moment; the socket
      // is closed when they have (or after a second, if the peer does not take them).
      const done = () => tls.destroy();
      this.duplex.once('finish', done);
      setTimeout(done, 1000).unref();
      tls.end();
    } else {
      // Closed at once, so a failed handshake leaves no socket open behind it.
      tls.destroy();
      this.duplex.destroy();
    }
  }

  peerCertificate(): X509Certificate | undefined {
    return this.tls.getPeerX509Certificate();
  }

  session(): Buffer | undefined {
    return this.tls.getSession();
  }
}
