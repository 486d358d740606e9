/**
 * The native TLS engine: OpenSSL in the addon (`native/tls.cc`) as a memory engine, driven over
 * the socket's own `recvInto` and `send`, so it runs on every I/O driver of AsyncSocket.
 *
 * The engine owns two buffers and a small `Int32Array` of positions shared with the addon:
 * ciphertext read from the socket goes into `inBuf` at `IN_END` and OpenSSL consumes it from
 * `IN_START`; OpenSSL appends ciphertext to `outBuf` at `OUT_END` and the engine sends it from
 * `OUT_START`. Reads and writes of plaintext go straight between OpenSSL and the caller's buffer.
 *
 * Who sends the output: whoever produced it, one coroutine at a time. A read can produce output
 * too (an alert, a key update answer) while a writer is sending; the one that finds a send in
 * progress waits for it to end (`flushing`, `idle`) instead of sending from the same buffer.
 * Reads from the socket happen only in the reading coroutine (or the handshake, which runs
 * alone): OpenSSL never needs to read in order to write, since renegotiation is off.
 *
 * @internal
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { Coro, suspend } from '../core/coro.js';
import { SystemError, TimeoutError } from '../core/errors.js';
import { running, type Op } from '../core/op.js';
import { native } from '../native/binding.js';
import type { NativeTlsConn, NativeTlsContext } from '../native/types.js';
import { Event } from '../sync/event.js';
import { SocketClosedError } from './errors.js';
import { SendTimeoutError, type AsyncSocket } from './socket.js';
import { Deadline, tlsFailure, verifyName, type EngineSetup, type TlsEngine, type TlsState } from './tls-engine.js';

const T = native.tls;
const IN_START = T.IN_START;
const IN_END = T.IN_END;
const OUT_START = T.OUT_START;
const OUT_END = T.OUT_END;
const WANT_READ = T.WANT_READ;
const WANT_WRITE = T.WANT_WRITE;
const ERROR = T.ERROR;

/**
 * Each buffer's size: two full TLS records (16 KiB of plaintext each, plus overhead) fit, so a
 * bulk transfer moves about 32 KiB per system call. 64 KiB per connection in all.
 */
export const ENGINE_BUFFER = 32768;

/**
 * Buffers of closed connections, for the next ones (a handshake then allocates none). Only a
 * buffer no system call can still be using goes back: on io_uring a read or send that was
 * cancelled (a timeout, a close in the middle) may finish in the kernel later, into that memory.
 */
const spare: Buffer[] = [];
const SPARE_LIMIT = 64;
let buffersMade = 0;

/** @internal For the tests: engine buffers allocated so far, and how many wait in `spare`. */
export function engineBuffers(): { made: number; spare: number } {
  return { made: buffersMade, spare: spare.length };
}

function engineBuffer(): Buffer {
  const b = spare.pop();
  if (b !== undefined) return b;
  buffersMade++;
  return Buffer.allocUnsafeSlow(2 * ENGINE_BUFFER);
}

const VERIFY: Record<EngineSetup['verify'], number> = {
  none: T.VERIFY_NONE,
  peer: T.VERIFY_PEER,
  require: T.VERIFY_REQUIRE,
  request: T.VERIFY_REQUEST,
};

/** Chooses a context for the server name a client asked for (SNI); undefined keeps the current one. */
export type ContextChooser = (servername: string) => Promise<NativeTlsContext | undefined> | NativeTlsContext | undefined;

export class NativeEngine implements TlsEngine {
  readonly engine = 'native' as const;
  private readonly conn: NativeTlsConn;
  private readonly st = new Int32Array(T.STATE_LENGTH);
  private readonly inBuf: Buffer;
  private readonly outBuf: Buffer;
  /** What the last read that returned -1 needs: WANT_READ (ciphertext) or WANT_WRITE (room). */
  private readNeeds = WANT_READ;
  /** A read produced output (an alert, a key update's answer) that nobody has sent yet. */
  private readProduced = false;
  /**
   * The last read finished a record (it returned less than asked) and no ciphertext is left: the
   * next read can only want more, so it is not made (OpenSSL reads one record at a time from
   * the input buffer, so it holds nothing beyond the record it returns from).
   */
  private drained = false;
  /** A coroutine is sending from the output buffer. */
  private flushing = false;
  /** Bytes sent from the output buffer so far, ever: flush() waits for a count, not a position. */
  private flushed = 0;
  /** Set when a send in progress ends, for a coroutine that waits for it; made on first need. */
  private idle: Event | null = null;
  private closed = false;
  private settled: TlsState | undefined;
  /** A socket call on the buffers is (or may still be, in the kernel) in progress. */
  private busy = 0;
  private tainted = false;
  private readonly mem: Buffer;

  constructor(
    private readonly sock: AsyncSocket,
    ctx: NativeTlsContext,
    private readonly setup: EngineSetup,
    private readonly choose: ContextChooser | undefined,
  ) {
    const mem = engineBuffer();
    this.mem = mem;
    this.inBuf = mem.subarray(0, ENGINE_BUFFER);
    this.outBuf = mem.subarray(ENGINE_BUFFER);
    const conn = new T.Conn(ctx, setup.server, this.inBuf, this.outBuf, this.st);
    this.conn = conn;
    try {
      this.configure();
    } catch (e) {
      conn.free();
      throw e;
    }
  }

  private configure(): void {
    const { conn, setup } = this;
    const check = (rc: number, what: string) => {
      if (rc < 0) throw tlsFailure(`TLS ${what}`, rc === ERROR ? conn.error().reason : `invalid ${what}`, undefined, undefined);
    };
    check(conn.setVerify(VERIFY[setup.verify]), 'verification mode');
    if (setup.host !== undefined) {
      const ip = setup.sni === undefined;
      check(conn.setHost(setup.host, ip, !ip), 'host name');
    }
    if (setup.alpn !== undefined) check(conn.setAlpn(setup.alpn, setup.server), 'ALPN protocols');
    if (setup.session !== undefined && !setup.server) check(conn.setSession(setup.session), 'session');
    if (this.choose !== undefined && setup.server) check(conn.setHelloPause(), 'SNI');
  }

  /** Ciphertext waiting in the output buffer. */
  private pending(): number {
    return this.st[OUT_END]! - this.st[OUT_START]!;
  }

  private failure(what: string): Error {
    if (this.closed) return new SocketClosedError(what);
    const f = this.conn.error();
    return tlsFailure(what, f.reason, f.verify !== T.X509_V_OK ? verifyName(f.verify) : undefined, this.setup.host);
  }

  /**
   * Runs one socket call on the buffers. A call that failed with the system's error, or timed
   * out, is over: the socket waits for a cancelled completion before it throws TimeoutError. One
   * that ended otherwise (the socket closed under it, its coroutine terminated) may have left an
   * operation in the kernel that can still write into the buffer: that buffer then never goes
   * back to `spare`.
   */
  private *io<T>(op: Op<T>): Generator<unknown, T, unknown> {
    this.busy++;
    try {
      const n = yield* op;
      this.busy--;
      return n;
    } catch (e) {
      if (e instanceof SystemError || e instanceof TimeoutError) this.busy--;
      else this.tainted = true;
      throw e;
    }
  }

  /** Reads ciphertext from the socket into the input buffer; an end of stream is remembered. */
  private *fill(dl: Deadline): Generator<unknown, void, unknown> {
    const st = this.st;
    let start = st[IN_START]!;
    let end = st[IN_END]!;
    if (start === end) {
      start = end = 0;
    } else if (end === ENGINE_BUFFER) {
      // Unconsumed bytes at the very end: move them to the front to make room.
      this.inBuf.copyWithin(0, start, end);
      end -= start;
      start = 0;
    }
    st[IN_START] = start;
    st[IN_END] = end;
    const n = yield* this.io(this.sock.recvInto(this.inBuf, end, ENGINE_BUFFER - end, dl.opts()));
    if (this.closed) throw new SocketClosedError(dl.what);
    if (n === 0) st[T.EOF] = 1;
    else st[IN_END] = st[IN_END]! + n;
    this.drained = false;
  }

  /**
   * Sends what the output buffer holds now. A coroutine sending keeps on until the buffer is
   * empty, output others add meanwhile included; one that finds a send in progress waits for it
   * to end (by then its output is out, unless the sender failed: then it sends itself).
   */
  *flush(dl: Deadline): Generator<unknown, void, unknown> {
    const st = this.st;
    const mark = this.flushed + this.pending();
    while (this.flushed < mark) {
      if (this.closed) throw new SocketClosedError(dl.what);
      if (this.flushing) {
        const idle = (this.idle ??= new Event());
        const left = dl.left();
        if (!(yield* idle.wait(left))) throw new TimeoutError(dl.what, dl.limit ?? 0);
        continue;
      }
      this.flushing = true;
      try {
        while (st[OUT_END]! > st[OUT_START]!) {
          const start = st[OUT_START]!;
          const end = st[OUT_END]!;
          // [start, end) is not empty, so the addon will not move the positions meanwhile (it
          // restarts at 0 only once the buffer is empty); it may append after end. sendall
          // writes at once, and needs no generator when the kernel takes it all.
          try {
            yield* this.io(this.sock.sendall(this.outBuf.subarray(start, end), dl.opts()));
          } catch (e) {
            if (e instanceof SendTimeoutError) {
              st[OUT_START] = start + e.bytesSent;
              this.flushed += e.bytesSent;
            }
            throw e;
          }
          st[OUT_START] = end;
          this.flushed += end - start;
        }
      } finally {
        this.flushing = false;
        const idle = this.idle;
        if (idle !== null) {
          this.idle = null;
          idle.set();
        }
      }
    }
  }

  *handshake(dl: Deadline): Generator<unknown, void, unknown> {
    for (;;) {
      const r = this.conn.handshake();
      if (r === 1) break;
      if (r === ERROR) {
        const err = this.failure(dl.what);
        yield* this.sendAlert();
        throw err;
      }
      if (r === T.HELLO) {
        yield* this.chooseContext(dl);
        continue;
      }
      if (this.pending() > 0) yield* this.flush(dl);
      if (r === WANT_READ) yield* this.fill(dl);
    }
    // The last flight (a server's session tickets too) goes out before the socket is handed over.
    if (this.pending() > 0) yield* this.flush(dl);
    this.settled = this.readState();
  }

  /** After a failed handshake: the alert that says why goes to the peer if it can at once. */
  private *sendAlert(): Generator<unknown, void, unknown> {
    const n = this.pending();
    if (n === 0 || this.flushing || this.closed) return;
    try {
      yield* this.io(this.sock.send(this.outBuf.subarray(this.st[OUT_START], this.st[OUT_END]), { timeout: 0 }));
    } catch {
      // The peer may be gone already; the handshake's own error is what matters.
    }
  }

  /** A paused ClientHello: asks the SNI callback for a context, then lets the handshake go on. */
  private *chooseContext(dl: Deadline): Generator<unknown, void, unknown> {
    const name = this.conn.helloName();
    let chosen = this.choose!(name);
    if (chosen instanceof Promise) {
      const me = running!;
      let outcome: { ctx?: NativeTlsContext | undefined; err?: unknown } | undefined;
      chosen.then(
        (ctx) => {
          outcome = { ctx };
          me.resume();
        },
        (err: unknown) => {
          outcome = { err };
          me.resume();
        },
      );
      while (outcome === undefined) {
        const left = dl.left();
        const woken = yield* suspend(left, 'timeout');
        if (woken === 'timeout' && outcome === undefined) throw new TimeoutError(dl.what, dl.limit ?? 0);
      }
      if (outcome.err !== undefined) throw outcome.err;
      chosen = outcome.ctx;
    }
    const rc = this.conn.setContext(chosen as NativeTlsContext | undefined);
    if (rc < 0) throw this.failure(dl.what);
  }

  private readState(): TlsState {
    const i = this.conn.info()!;
    const verified = i.verify === T.X509_V_OK;
    return {
      protocol: i.protocol,
      cipher: i.cipher,
      alpnProtocol: i.alpn,
      servername: this.setup.server ? i.servername : (this.setup.sni ?? null),
      reused: i.reused,
      authorized: i.peerCertificate && verified,
      authorizationError: verified ? null : verifyName(i.verify),
    };
  }

  state(): TlsState {
    return this.settled!;
  }

  tryRead(buf: Uint8Array, off: number, len: number): number {
    if (this.drained) {
      this.readNeeds = WANT_READ;
      return -1;
    }
    const queued = this.pending();
    const r = this.conn.read(buf, off, len);
    // Only the read itself can have added output here (this is one synchronous step).
    if (this.pending() > queued) this.readProduced = true;
    if (r > 0) {
      this.drained = r < len && this.st[IN_START] === this.st[IN_END];
      return r;
    }
    if (r === 0) return 0;
    if (r === WANT_READ || r === WANT_WRITE) {
      this.readNeeds = r;
      return -1;
    }
    throw this.failure('recv');
  }

  *waitRead(dl: Deadline): Generator<unknown, void, unknown> {
    if (this.readNeeds === WANT_WRITE) {
      // OpenSSL must write to go on reading, and the output buffer is full: room first.
      yield* this.flush(dl);
    } else if (this.readProduced) {
      // Output the read produced goes out before the wait (the peer may wait for it). If a
      // writer is sending, it sends this too; waiting for it here could deadlock with a peer
      // that writes back only once we read.
      if (!this.flushing && this.pending() > 0) yield* this.flush(dl);
    }
    this.readProduced = false;
    if (this.readNeeds === WANT_READ) yield* this.fill(dl);
    this.readNeeds = WANT_READ;
  }

  tryWrite(buf: Uint8Array, off: number, len: number): number {
    const r = this.conn.write(buf, off, len);
    if (r > 0) return r;
    if (r === WANT_WRITE) return -1;
    throw this.failure('send');
  }

  waitWrite(dl: Deadline): Generator<unknown, void, unknown> {
    return this.flush(dl);
  }

  shutdownWrite(): void {
    if (this.closed) return;
    this.conn.shutdown();
    if (this.pending() === 0 && !this.flushing) {
      this.sock.shutdown('write');
      return;
    }
    // close_notify waits behind other output: it and the end of the stream follow it out.
    const sock = this.sock;
    const dl = new Deadline();
    dl.begin(undefined, 'shutdown');
    const self = this;
    new Coro(function* () {
      try {
        yield* self.flush(dl);
        if (!self.closed) sock.shutdown('write');
      } catch {
        // Closed meanwhile, or the peer went away: nothing is left to end.
      }
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const sock = this.sock;
    if (this.settled !== undefined && !this.flushing && !sock.isClosed) {
      // close_notify, sent straight to the fd: close() cannot wait, and a send the kernel does
      // not take at once is dropped (the peer then sees the end of the stream alone).
      this.conn.shutdown();
      const start = this.st[OUT_START]!;
      const n = this.pending();
      if (n > 0) native.write(sock.fd, this.outBuf, start, n);
    }
    sock.close();
    this.conn.free();
    if (this.busy === 0 && !this.tainted && spare.length < SPARE_LIMIT) spare.push(this.mem);
    const idle = this.idle;
    this.idle = null;
    idle?.set();
  }

  peerCertificate(): X509Certificate | undefined {
    const der = this.closed ? null : this.conn.peerCertificate();
    return der !== null ? new X509Certificate(der) : undefined;
  }

  session(): Buffer | undefined {
    return (this.closed ? null : this.conn.session()) ?? undefined;
  }
}
