/**
 * `AsyncSocket`: TCP (IPv4 and IPv6), UDP and Unix domain sockets whose every waiting call is an
 * {@link Op} used with `yield*` inside a coroutine.
 *
 * Each call tries the system call first and waits for readiness only when the kernel says
 * EAGAIN; a wait suspends just the calling coroutine. One coroutine may read and another write at
 * the same time (full duplex), but two may not read (or write) at once. Per-operation timeouts end
 * with a {@link TimeoutError}; nothing received is lost to a timeout: bytes that an exact-size
 * read had already taken stay buffered in the socket for the next read.
 *
 * @module
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { native } from '../native/binding.js';
import type { DecodedAddress } from '../native/types.js';
import { EV } from '../core/poller.js';
import { PENDING, Suspend, running, type Op } from '../core/op.js';
import type { Coro } from '../core/coro.js';
import type { Scheduler } from '../core/scheduler.js';
import { IO_ACCEPT, IO_CONNECT, IO_RECV, IO_RECVFROM, IO_SEND, IO_SENDTO, type IoOwner } from '../core/driver.js';
import { CoroStateError, NotInCoroError, SystemError, TimeoutError } from '../core/errors.js';
import { AddressError, EOFError, MessageTooLargeError, SocketClosedError } from './errors.js';
import { startTls, type TlsOptions, type TlsSocket } from './tls.js';

const K = native.sockets;
const EAGAIN = native.errno['EAGAIN']!;
const EINPROGRESS = native.errno['EINPROGRESS']!;
const ECANCELED = native.errno['ECANCELED']!;
const ENOPROTOOPT = native.errno['ENOPROTOOPT']!;

/** An internet address as Node writes it; `host` may be a name, resolved without blocking. */
export interface InetAddress {
  readonly host: string;
  readonly port: number;
}

/** What `bind`, `connect` and `sendto` take: an internet address, or a Unix socket path. */
export type Address = InetAddress | string;

/** The kinds of socket. */
export type SocketKind = 'tcp' | 'udp' | 'unix' | 'unix-dgram';

/** Options of the constructors. */
export interface SocketOptions {
  /** 4 or 6 for TCP and UDP; default: the family of the first address bound or connected to. */
  readonly family?: 4 | 6;
  /** The largest frame `recvMsg` accepts and `sendMsg` sends; default 64 MiB. */
  readonly maxMessageSize?: number;
}

/** Options of the Unix constructor. */
export interface UnixSocketOptions {
  /** `'stream'` (default) or `'dgram'`. */
  readonly type?: 'stream' | 'dgram';
  readonly maxMessageSize?: number;
}

/** Per-operation options. */
export interface OpOptions {
  /** Milliseconds before the operation ends with a {@link TimeoutError}. */
  readonly timeout?: number;
}

/** A datagram and where it came from. */
export interface Datagram {
  readonly data: Buffer;
  readonly address: DecodedAddress;
}

/** Counters of one socket. */
export interface SocketStatistics {
  readonly bytesReceived: number;
  readonly bytesSent: number;
  /** Times a call found the kernel not ready (EAGAIN) and waited. */
  readonly waits: number;
}

/**
 * `sendall` or `sendMsg` ran out of time after sending part of the data. `bytesSent` says how
 * much went out; the stream cannot take the rest back, so usually the socket is closed next.
 */
export class SendTimeoutError extends TimeoutError {
  readonly bytesSent: number;
  constructor(what: string, timeout: number, bytesSent: number) {
    super(what, timeout);
    this.bytesSent = bytesSent;
  }
}

const SCRATCH = 65536;

/**
 * One receive buffer for every socket of this thread: `recv` and `recvfrom` read into it and copy
 * out the bytes that arrived before anything can suspend, so sharing it is safe, and an idle
 * connection costs no buffer at all.
 */
let shared: Buffer | undefined;
function scratch(): Buffer {
  return (shared ??= Buffer.allocUnsafeSlow(SCRATCH));
}
const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * The wait of one socket in one direction. Each socket has two, made once, so waiting allocates
 * nothing; since one coroutine at a time reads (and one writes), they are never shared.
 *
 * On a readiness backend the wait is for the fd to become ready, and the coroutine wakes with the
 * event bits. On a completion backend (io_uring) a wait that names an operation (`kind`) hands it
 * to the kernel instead, and the coroutine wakes with its result: a byte count, an fd, or -errno.
 */
class SocketWait extends Suspend<number> {
  fd = -1;
  timeout: number | undefined = undefined;
  /** The current operation's timeout in ms, and its deadline (NaN until its first wait). */
  limit: number | undefined = undefined;
  deadline = NaN;
  what = '';
  waiter: Coro<unknown> | null = null;
  /** The completion operation to run (IO_RECV, IO_SEND, IO_ACCEPT, ...), or 0 for a readiness wait. */
  kind = 0;
  buf: Uint8Array | null = null;
  /** connect's and sendto's encoded address. */
  addr: Uint8Array | null = null;
  off = 0;
  len = 0;
  /** The completion operation in flight, or -1 (a readiness wait). */
  token = -1;
  /** The timeout ran out while the operation was in flight: it is being cancelled. */
  timedOut = false;
  /**
   * Operations in this direction whose coroutine left while the kernel still ran them
   * (terminated): until they end, a new wait parks instead of starting a second operation, so
   * bytes keep their order.
   */
  orphans = 0;
  /** The wait is parked behind an orphan, and its coroutine's sequence number. */
  parked = false;
  seq = 0;
  constructor(
    readonly dir: number,
    readonly owner: IoOwner,
  ) {
    super();
  }
  /**
   * Starts an operation in this direction: its timeout covers all of its waits. Another
   * coroutine's operation still waiting in this direction makes it a CoroStateError
   * (`ERR_FD_BUSY`): one reader and one writer at a time.
   */
  begin(timeout: number | undefined): void {
    const w = this.waiter;
    if (w !== null && w !== running && w._pendingOp() === this) {
      throw new CoroStateError(`${w} is already waiting to ${this.dir === EV.READ ? 'read from' : 'write to'} this socket (fd ${this.fd})`, 'ERR_FD_BUSY');
    }
    this.limit = timeout;
    this.deadline = NaN;
  }
  /** The scheduler the socket's fd is registered with (persistently, from its first wait). */
  sched: Scheduler | null = null;
  _start(c: Coro<unknown>): unknown {
    const s = c._s;
    this.timedOut = false;
    this.token = -1;
    this.parked = false;
    this.seq = c._q;
    if (this.orphans > 0) {
      // Woken (with -EAGAIN, to try again) when the orphaned operation has ended.
      this.parked = true;
    } else if (this.kind !== 0 && s._io.completion) {
      this.token = s._io.submit(c, this.kind, this.fd, this.buf, this.off, this.len, this.owner, this.addr);
    } else {
      // Every socket call waits only after its system call said EAGAIN, which is what a
      // persistent (edge-triggered on epoll) registration needs.
      s._watchFd(c, this.fd, this.dir, true);
    }
    this.sched = s;
    if (this.timeout !== undefined) s._addTimer(c, this.timeout);
    this.waiter = c;
    return PENDING;
  }
  override _timeout(c: Coro<unknown>): unknown {
    if (this.token >= 0) {
      // The kernel may be writing into the buffer: cancel, and wake when the operation ends
      // (as cancelled, or with what it did first, which is then not lost).
      this.timedOut = true;
      c._s._io.cancel(this.token);
      return PENDING;
    }
    this.buf = null;
    // The error names the operation's whole timeout, not what was left at its last wait.
    throw new TimeoutError(this.what, this.limit ?? this.timeout!);
  }
  override _cancel(c: Coro<unknown>): void {
    // A completion's buffer stays with the driver until the kernel is done with it.
    this.buf = null;
    this.addr = null;
    if (this.parked) this.parked = false;
    else if (this.token >= 0) {
      this.orphans++;
      c._s._io.cancel(this.token);
      this.token = -1;
    } else c._s._unwatchFd(c, this.fd);
  }
}

/** The one iterator result a {@link Ready} op returns: `yield*` reads it at once and keeps nothing. */
const finished: { done: true; value: unknown } = { done: true, value: undefined };

/**
 * An operation that completed when it was made: `yield*` gets its value without suspending. Each
 * socket has one per direction, so the common case (the kernel had the data, or took all of it)
 * allocates no generator.
 */
class Ready<T> implements Op<T>, Iterator<unknown, T, unknown> {
  value: T;
  constructor(value: T) {
    this.value = value;
  }
  [Symbol.iterator](): Iterator<unknown, T, unknown> {
    return this;
  }
  next(): IteratorResult<unknown, T> {
    finished.value = this.value;
    return finished as IteratorResult<unknown, T>;
  }
}
const DONE_VOID = new Ready<void>(undefined);

function checkSize(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`${what}: size must be an integer from 0 to 2^31-1, got ${n}`);
}

function checkOpts(opts: OpOptions | undefined): number | undefined {
  const t = opts?.timeout;
  if (t !== undefined && (typeof t !== 'number' || !(t >= 0))) throw new RangeError(`timeout must be a number >= 0, got ${String(t)}`);
  return t;
}

function asBuffer(data: Uint8Array | string, what: string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Uint8Array) return data;
  throw new TypeError(`${what}: data must be a Buffer, Uint8Array or string`);
}

/** The IP version of an address given as a multicast group, source or interface address. */
function ipOf(addr: unknown, what: string, role: string): 4 | 6 {
  if (typeof addr !== 'string') throw new TypeError(`${what}: the ${role} must be an IP address string, got ${addr === null ? 'null' : typeof addr}`);
  const ip = isIP(addr.replace(/%.*$/, ''));
  if (ip === 0) throw new AddressError(`${what}: the ${role} ${JSON.stringify(addr)} is not an IP address (names are not resolved here)`);
  return ip as 4 | 6;
}

/** Whether an IP address is a multicast one: 224.0.0.0/4 or ff00::/8. */
function isMulticast(addr: string, ip: 4 | 6): boolean {
  if (ip === 4) {
    const first = Number(addr.slice(0, addr.indexOf('.')));
    return first >= 224 && first <= 239;
  }
  return /^ff[0-9a-f]{2}:/i.test(addr);
}

/**
 * Whether `addr` is an IP address literal in a multicast range: 224.0.0.0/4 (IPv4) or ff00::/8
 * (IPv6, a `%scope` suffix allowed). False for anything else, names included.
 *
 * @example
 * ```ts
 * isMulticastAddress('239.1.2.3');   // true
 * isMulticastAddress('ff02::1%eth0'); // true
 * isMulticastAddress('10.0.0.1');    // false
 * ```
 */
export function isMulticastAddress(addr: string): boolean {
  if (typeof addr !== 'string') return false;
  const ip = isIP(addr.replace(/%.*$/, ''));
  if (ip === 4 && addr.includes('%')) return false;
  return ip !== 0 && isMulticast(addr, ip as 4 | 6);
}

/**
 * The scope that names an interface for sockaddr(): the index of one of its link-local IPv6
 * addresses when it has one (their scope id is the interface's index), else its name, which
 * sockaddr() looks up with if_nametoindex. Windows needs the first: `networkInterfaces()` lists
 * its interfaces under their friendly names ('Ethernet'), which if_nametoindex does not know.
 */
function scopeOf(name: string, list: readonly { family: string; scopeid?: number }[] | undefined): string {
  const linkLocal = list?.find((a) => a.family === 'IPv6' && a.scopeid !== undefined && a.scopeid > 0);
  return linkLocal !== undefined ? String(linkLocal.scopeid) : name;
}

/** The scope (see scopeOf) of the interface that has `address`, or undefined if none has it. */
function interfaceWith(address: string): string | undefined {
  for (const [name, list] of Object.entries(networkInterfaces())) {
    if (list !== undefined && list.some((a) => a.address === address)) return scopeOf(name, list);
  }
  return undefined;
}

function clockNow(): number {
  const c = running;
  if (c === null) throw new NotInCoroError('a socket operation');
  return c._s.clock.now();
}

/**
 * An asynchronous socket.
 *
 * @example
 * ```ts
 * spawn(function* () {
 *   const server = AsyncSocket.tcp();
 *   yield* server.bind({ host: '127.0.0.1', port: 0 });
 *   server.listen();
 *   for (;;) {
 *     const conn = yield* server.accept();
 *     spawn(function* () {
 *       const data = yield* conn.recvall(4);
 *       yield* conn.sendall(data);
 *       conn.close();
 *     });
 *   }
 * });
 * ```
 */
export class AsyncSocket implements IoOwner {
  /** The kind of socket. */
  readonly kind: SocketKind;
  /** The largest frame `recvMsg` accepts and `sendMsg` sends. */
  readonly maxMessageSize: number;
  private _fd: number;
  private family: 4 | 6 | 'unix' | undefined;
  private closed = false;
  private readonly rop = new SocketWait(EV.READ, this);
  private readonly wop = new SocketWait(EV.WRITE, this);
  /** The result of a `recvInto` that needed no wait. */
  private readonly readyRead = new Ready<number>(0);
  /** Connections a completion backend accepted after their accept's coroutine stopped waiting. */
  private orphanFds: number[] | undefined;
  private pushback: Buffer | undefined;
  /** Datagrams a completion backend received after their recvfrom's coroutine stopped waiting. */
  private datagrams: Datagram[] | undefined;
  private addrBuf: Uint8Array | undefined;
  private lastTo: { key: string; addr: Uint8Array } | undefined;
  private pendingOptions: [number, number, number][] | undefined;
  /** A group was joined, and (on Linux) IP_MULTICAST_ALL turned off: see {@link addMembership}. */
  private membersOnly = false;
  /**
   * The scheduler's read-event count for this fd when a read came back short (the kernel's
   * buffer was then empty), or -1. While the count has not moved, the next read waits without
   * first making a read that would only say EAGAIN.
   */
  private drainedAt = -1;
  private received = 0;
  private sent = 0;
  private waits = 0;

  private constructor(kind: SocketKind, fd: number, family: 4 | 6 | 'unix' | undefined, maxMessageSize: number | undefined) {
    this.kind = kind;
    this._fd = fd;
    this.family = family;
    const max = maxMessageSize ?? DEFAULT_MAX_MESSAGE;
    if (!Number.isInteger(max) || max < 1 || max > 0x7fffffff) throw new RangeError(`maxMessageSize must be an integer from 1 to 2^31-1, got ${max}`);
    this.maxMessageSize = max;
  }

  /** A TCP socket; its family comes from `options.family` or from the first address it uses. */
  static tcp(options: SocketOptions = {}): AsyncSocket {
    return AsyncSocket.inet('tcp', options);
  }

  /** A UDP socket; its family comes from `options.family` or from the first address it uses. */
  static udp(options: SocketOptions = {}): AsyncSocket {
    return AsyncSocket.inet('udp', options);
  }

  /** A Unix domain socket, stream (default) or datagram. */
  static unix(options: UnixSocketOptions = {}): AsyncSocket {
    const type = options.type ?? 'stream';
    if (type !== 'stream' && type !== 'dgram') throw new TypeError(`type must be 'stream' or 'dgram', got ${String(type)}`);
    const s = new AsyncSocket(type === 'stream' ? 'unix' : 'unix-dgram', -1, 'unix', options.maxMessageSize);
    s.open();
    return s;
  }

  /**
   * Wraps a socket fd someone else opened (for example one inherited from a parent process). It is
   * made non-blocking, and from now on belongs to the AsyncSocket, which closes it.
   */
  static fromFd(fd: number, kind: SocketKind, options: { maxMessageSize?: number } = {}): AsyncSocket {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`fd must be an integer >= 0, got ${fd}`);
    const type = native.getsockopt(fd, K.SOL_SOCKET, K.SO_TYPE);
    if (type < 0) throw new SystemError('getsockopt(SO_TYPE)', type);
    const stream = kind === 'tcp' || kind === 'unix';
    if ((type === K.SOCK_STREAM) !== stream) throw new TypeError(`fd ${fd} is not a ${stream ? 'stream' : 'datagram'} socket`);
    const rc = native.setNonBlocking(fd, true);
    if (rc < 0) throw new SystemError('fcntl(O_NONBLOCK)', rc);
    const s = new AsyncSocket(kind, fd, undefined, options.maxMessageSize);
    const name = s.localAddress;
    s.family = name.family;
    return s;
  }

  private static inet(kind: 'tcp' | 'udp', options: SocketOptions): AsyncSocket {
    const family = options.family;
    if (family !== undefined && family !== 4 && family !== 6) throw new RangeError(`family must be 4 or 6, got ${String(family)}`);
    const s = new AsyncSocket(kind, -1, family, options.maxMessageSize);
    if (family !== undefined) s.open();
    return s;
  }

  /** The socket's fd, or -1 before it is created (TCP/UDP without a family) and after close. */
  get fd(): number {
    return this._fd;
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  // ---- creation and addresses ----

  private open(): void {
    const af = this.family === 4 ? K.AF_INET : this.family === 6 ? K.AF_INET6 : K.AF_UNIX;
    const type = this.kind === 'tcp' || this.kind === 'unix' ? K.SOCK_STREAM : K.SOCK_DGRAM;
    const fd = native.socket(af, type);
    if (fd < 0) throw new SystemError('socket', fd);
    this._fd = fd;
    const pending = this.pendingOptions;
    this.pendingOptions = undefined;
    if (pending !== undefined) for (const [level, name, value] of pending) this.setOption(level, name, value);
  }

  private fdFor(what: string): number {
    if (this.closed) throw new SocketClosedError(what);
    if (this._fd < 0) throw new SocketClosedError(`${what} (the socket has no address family yet: bind or connect it first)`);
    return this._fd;
  }

  /** Encodes `addr` for this socket, resolving a host name without blocking the thread. */
  private *encode(addr: Address, what: string): Generator<unknown, Uint8Array, unknown> {
    const out = new Uint8Array(K.ADDR_BYTES);
    if (typeof addr === 'string') {
      if (this.family !== 'unix') throw new AddressError(`${what}: a path is an address for Unix sockets only`);
      const rc = native.sockaddr(out, K.AF_UNIX, addr);
      if (rc < 0) throw new AddressError(`${what}: bad Unix socket path ${JSON.stringify(addr)} (empty, or longer than 107 bytes)`);
      return out;
    }
    if (addr === null || typeof addr !== 'object' || typeof addr.host !== 'string') {
      throw new AddressError(`${what}: an address is { host, port } or a Unix socket path`);
    }
    if (this.family === 'unix') throw new AddressError(`${what}: a Unix socket takes a path, not { host, port }`);
    const port = addr.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AddressError(`${what}: port must be an integer from 0 to 65535, got ${String(port)}`);
    let host = addr.host === '' ? (this.family === 6 ? '::' : '0.0.0.0') : addr.host;
    let ip = isIP(host.replace(/%.*$/, ''));
    if (ip === 0 && host === 'localhost') {
      // RFC 6761: localhost is the loopback address; no resolver needed.
      host = this.family === 6 ? '::1' : '127.0.0.1';
      ip = this.family === 6 ? 6 : 4;
    }
    if (ip === 0) {
      const family = this.family === 4 || this.family === 6 ? this.family : 0;
      let found: { address: string; family: number };
      try {
        found = (yield lookup(host, { family })) as { address: string; family: number };
      } catch (e) {
        throw new AddressError(`${what}: cannot resolve ${JSON.stringify(host)}: ${(e as Error).message}`);
      }
      host = found.address;
      ip = found.family;
    }
    if (this.family === undefined) {
      this.family = ip === 6 ? 6 : 4;
      this.open();
    } else if (this.family !== ip) {
      throw new AddressError(`${what}: ${host} is an IPv${ip} address but the socket is IPv${this.family}`);
    }
    const rc = native.sockaddr(out, ip === 6 ? K.AF_INET6 : K.AF_INET, host, port);
    if (rc < 0) throw new AddressError(`${what}: bad address ${host}`);
    return out;
  }

  /** The address this socket is bound to. */
  get localAddress(): DecodedAddress {
    return this.name(false);
  }

  /** The address of the peer this socket is connected to. */
  get remoteAddress(): DecodedAddress {
    return this.name(true);
  }

  private name(peer: boolean): DecodedAddress {
    const fd = this.fdFor(peer ? 'remoteAddress' : 'localAddress');
    const out = (this.addrBuf ??= new Uint8Array(K.ADDR_BYTES));
    const rc = peer ? native.getpeername(fd, out) : native.getsockname(fd, out);
    if (rc < 0) throw new SystemError(peer ? 'getpeername' : 'getsockname', rc);
    const a = native.decodeAddress(out);
    if (typeof a === 'number') throw new SystemError('decode address', a);
    return a;
  }

  // ---- the waits ----

  /**
   * Waits for readiness in one direction, within the deadline of the whole operation (taken at
   * its first wait, so an operation that never waits never reads the clock).
   */
  private wait(op: SocketWait, what: string): Op<number> {
    op.fd = this._fd;
    op.kind = 0;
    op.what = what;
    if (op.limit === undefined) op.timeout = undefined;
    else {
      const now = clockNow();
      if (Number.isNaN(op.deadline)) op.deadline = now + op.limit;
      const left = op.deadline - now;
      op.timeout = left > 0 ? left : 0;
    }
    this.waits++;
    return op;
  }

  /**
   * Waits, on a completion backend, by handing the kernel `kind` for `buf[off, off + len)` (on a
   * readiness backend, by waiting for readiness as {@link wait} does). Follow it with
   * {@link done}.
   */
  private waitFor(op: SocketWait, what: string, kind: number, buf: Uint8Array | null, off: number, len: number, addr: Uint8Array | null = null): Op<number> {
    this.wait(op, what);
    op.kind = kind;
    op.buf = buf;
    op.off = off;
    op.len = len;
    op.addr = addr;
    return op;
  }

  /**
   * After {@link waitFor}: -EAGAIN when the system call is to be tried again (a readiness wake),
   * else the completed operation's result (a count, an fd, or -errno). A completion cancelled by
   * the timeout is a TimeoutError; one that finished first is a result like any other.
   */
  private done(op: SocketWait, what: string, r: number): number {
    op.buf = null;
    op.addr = null;
    const completed = op.token >= 0;
    op.token = -1;
    this.afterWait(op, what);
    if (!completed) return -EAGAIN;
    if (r === -ECANCELED && op.timedOut) throw new TimeoutError(what, op.limit ?? op.timeout!);
    return r;
  }

  /** Whether the running coroutine's scheduler runs I/O by completions (io_uring). */
  private completing(): boolean {
    const c = running;
    return c !== null && c._s._io.completion;
  }

  /**
   * A completion backend finished an operation whose coroutine no longer waits (terminated, or
   * the socket closed): bytes received are kept for the next read and an accepted connection
   * for the next accept, unless the socket is closed.
   */
  _orphaned(kind: number, result: number, buf: Uint8Array | null, off: number): void {
    const op = kind === IO_SEND || kind === IO_SENDTO || kind === IO_CONNECT ? this.wop : this.rop;
    if (op.orphans > 0) op.orphans--;
    if (result > 0 && (kind === IO_SEND || kind === IO_SENDTO)) this.sent += result;
    else if (result >= 0 && kind === IO_RECVFROM && buf !== null && !this.closed) {
      // A datagram is kept whole, with its sender, for the next recvfrom.
      this.received += result;
      // recvfrom's buffer ends with the sender's address (see recvfrom).
      const address = native.decodeAddress(buf.subarray(buf.length - K.ADDR_BYTES));
      const data = Buffer.from(buf.subarray(off, off + result));
      (this.datagrams ??= []).push({ data, address: typeof address === 'number' ? { family: 'unix', path: '' } : address });
    }
    else if (result >= 0 && kind === IO_ACCEPT) {
      if (this.closed) native.close(result);
      else (this.orphanFds ??= []).push(result);
    } else if (result > 0 && kind === IO_RECV && buf !== null && !this.closed) {
      this.received += result;
      const got = Buffer.from(buf.subarray(off, off + result));
      this.pushback = this.pushback !== undefined ? Buffer.concat([this.pushback, got]) : got;
    }
    // A wait parked behind it tries again now (and finds what it left in pushback).
    const c = op.waiter;
    if (op.orphans === 0 && op.parked && c !== null && c._pendingOp() === op) {
      op.parked = false;
      c._s._wake(c, op.seq, -EAGAIN, false);
    }
  }

  /** After a stream read of `got` of `asked` bytes: remember a short read (see drainedAt). */
  private noteRead(got: number, asked: number): void {
    const sched = this.rop.sched;
    this.drainedAt = got < asked && sched !== null ? sched._readEvents(this._fd) : -1;
  }

  /** Whether the kernel's buffer is known to be empty, so a read now would only say EAGAIN. */
  private knownEmpty(): boolean {
    if (this.drainedAt < 0) return false;
    const sched = this.rop.sched;
    if (sched !== null && sched._readEvents(this._fd) === this.drainedAt) return true;
    this.drainedAt = -1;
    return false;
  }

  /** After a wait: the socket may have been closed meanwhile. */
  private afterWait(op: SocketWait, what: string): void {
    op.waiter = null;
    if (this.closed) throw new SocketClosedError(what);
  }

  // ---- connections ----

  /**
   * Binds to a local address: `{ host, port }` (`host: ''` for every address of the family, port
   * 0 for any free port) or a Unix socket path.
   */
  *bind(addr: Address): Generator<unknown, void, unknown> {
    const sa = yield* this.encode(addr, 'bind');
    const rc = native.bind(this.fdFor('bind'), sa);
    if (rc < 0) throw new SystemError('bind', rc);
  }

  /** Starts accepting connections (stream sockets). Returns the socket. */
  listen(backlog = 511): this {
    if (!Number.isInteger(backlog) || backlog < 0) throw new RangeError(`backlog must be an integer >= 0, got ${backlog}`);
    const rc = native.listen(this.fdFor('listen'), backlog);
    if (rc < 0) throw new SystemError('listen', rc);
    return this;
  }

  /** Waits for a connection and returns it as a new AsyncSocket. */
  *accept(opts?: OpOptions): Generator<unknown, AsyncSocket, unknown> {
    this.rop.begin(checkOpts(opts));
    for (;;) {
      const listener = this.fdFor('accept');
      let fd = this.orphanFds !== undefined && this.orphanFds.length > 0 ? this.orphanFds.shift()! : native.accept(listener);
      if (fd === -EAGAIN) fd = this.done(this.rop, 'accept', yield* this.waitFor(this.rop, 'accept', IO_ACCEPT, null, 0, 0));
      if (fd >= 0) return new AsyncSocket(this.kind, fd, this.family, this.maxMessageSize);
      if (fd !== -EAGAIN) throw new SystemError('accept', fd);
    }
  }

  /**
   * Connects to `addr`; a host name is resolved first. A refused connection is a SystemError with
   * code `'ECONNREFUSED'`. After a timeout the socket is in an unknown state: close it.
   */
  *connect(addr: Address, opts?: OpOptions): Generator<unknown, void, unknown> {
    this.wop.begin(checkOpts(opts));
    const sa = yield* this.encode(addr, 'connect');
    const fd = this.fdFor('connect');
    if (this.completing() && this.family !== 'unix') {
      // The kernel runs the whole connect (io_uring's CONNECT, IOCP's ConnectEx, which has no
      // readiness to wait for); a non-blocking connect(2) would only say EINPROGRESS first.
      // (A Unix socket connects at once or says EAGAIN: the plain call below serves it.)
      for (;;) {
        const r = this.done(this.wop, 'connect', yield* this.waitFor(this.wop, 'connect', IO_CONNECT, null, 0, 0, sa));
        if (r === -EAGAIN) continue;  // the ring was full: submitted again now there is room
        if (r < 0) throw new SystemError('connect', r);
        return;
      }
    }
    const rc = native.connect(fd, sa);
    if (rc === 0) return;
    // A Unix stream socket whose listener's backlog is full says EAGAIN: wait and try again.
    if (rc === -EAGAIN && this.family === 'unix') {
      for (;;) {
        yield* this.wait(this.wop, 'connect');
        this.afterWait(this.wop, 'connect');
        const again = native.connect(fd, sa);
        if (again === 0) return;
        if (again !== -EAGAIN) throw new SystemError('connect', again);
      }
    }
    if (rc !== -EINPROGRESS) throw new SystemError('connect', rc);
    yield* this.wait(this.wop, 'connect');
    this.afterWait(this.wop, 'connect');
    const err = native.getsockopt(fd, K.SOL_SOCKET, K.SO_ERROR);
    if (err !== 0) throw new SystemError('connect', err < 0 ? err : -err);
  }

  // ---- stream reads ----

  private take(n: number): Buffer {
    const p = this.pushback!;
    if (p.length <= n) {
      this.pushback = undefined;
      return p;
    }
    this.pushback = p.subarray(n);
    return p.subarray(0, n);
  }

  /**
   * Receives up to `n` bytes: what is there (at least one byte), or an empty Buffer at the end of
   * the stream (or a zero-length datagram).
   */
  *recv(n: number, opts?: OpOptions): Generator<unknown, Buffer, unknown> {
    checkSize(n, 'recv');
    this.rop.begin(checkOpts(opts));
    for (;;) {
      if (this.pushback !== undefined && n > 0) return this.take(n);
      const fd = this.fdFor('recv');
      let into = n <= SCRATCH ? scratch() : Buffer.allocUnsafe(n);
      let got = n > 0 && (this.knownEmpty() || this.rop.orphans > 0) ? -EAGAIN : native.read(fd, into, 0, n);
      if (got === -EAGAIN) {
        this.drainedAt = -1;
        // The kernel fills a completion's buffer later: never the shared one.
        if (into === shared && this.completing()) into = Buffer.allocUnsafe(n);
        got = this.done(this.rop, 'recv', yield* this.waitFor(this.rop, 'recv', IO_RECV, into, 0, n));
        if (got === -EAGAIN) continue;
      }
      if (got >= 0) {
        this.received += got;
        if (this.kind === 'tcp' || this.kind === 'unix') this.noteRead(got, n);
        if (got === 0) return EMPTY;
        return into === shared ? Buffer.from(into.subarray(0, got)) : into.subarray(0, got);
      }
      throw new SystemError('recv', got);
    }
  }

  /**
   * Receives into `buf[offset, offset + length)` without allocating: the number of bytes read, 0
   * at the end of the stream.
   */
  recvInto(buf: Uint8Array, offset = 0, length = buf.length - offset, opts?: OpOptions): Op<number> {
    if (!(buf instanceof Uint8Array)) throw new TypeError('recvInto: buf must be a Buffer or Uint8Array');
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > buf.length) {
      throw new RangeError(`recvInto: [${offset}, ${offset + length}) is outside the buffer of ${buf.length} bytes`);
    }
    this.rop.begin(checkOpts(opts));
    // The common case first: the kernel has data, and the call completes without a generator.
    if (this.pushback === undefined && length > 0 && !this.closed && this._fd >= 0 && this.rop.orphans === 0 && !this.knownEmpty()) {
      const got = native.read(this._fd, buf, offset, length);
      if (got >= 0) {
        this.received += got;
        if (this.kind === 'tcp' || this.kind === 'unix') this.noteRead(got, length);
        this.readyRead.value = got;
        return this.readyRead;
      }
      if (got !== -EAGAIN) throw new SystemError('recv', got);
      return this.recvIntoWait(buf, offset, length, true);
    }
    return this.recvIntoWait(buf, offset, length, false);
  }

  private *recvIntoWait(buf: Uint8Array, offset: number, length: number, tried: boolean): Generator<unknown, number, unknown> {
    for (;;) {
      if (this.pushback !== undefined && length > 0) {
        const p = this.take(length);
        buf.set(p, offset);
        return p.length;
      }
      const fd = this.fdFor('recvInto');
      // `tried`: the call itself just read and found nothing.
      let got = tried || (length > 0 && (this.knownEmpty() || this.rop.orphans > 0)) ? -EAGAIN : native.read(fd, buf, offset, length);
      tried = false;
      if (got === -EAGAIN) {
        this.drainedAt = -1;
        got = this.done(this.rop, 'recvInto', yield* this.waitFor(this.rop, 'recvInto', IO_RECV, buf, offset, length));
        if (got === -EAGAIN) continue;
      }
      if (got >= 0) {
        this.received += got;
        if (this.kind === 'tcp' || this.kind === 'unix') this.noteRead(got, length);
        return got;
      }
      throw new SystemError('recv', got);
    }
  }

  /** Reads exactly `n` bytes into a new buffer; on timeout what arrived stays buffered. */
  private *readExact(n: number, what: string, prefix?: Buffer): Generator<unknown, Buffer, unknown> {
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      if (this.pushback !== undefined) {
        const p = this.take(n - off);
        out.set(p, off);
        off += p.length;
        continue;
      }
      const fd = this.fdFor(what);
      let got = this.knownEmpty() || this.rop.orphans > 0 ? -EAGAIN : native.read(fd, out, off, n - off);
      if (got === -EAGAIN) {
        this.drainedAt = -1;
        try {
          got = this.done(this.rop, what, yield* this.waitFor(this.rop, what, IO_RECV, out, off, n - off));
        } catch (e) {
          if (e instanceof TimeoutError && !this.closed) {
            // Keep what was read (and the frame header, for recvMsg) for the next read.
            const kept = out.subarray(0, off);
            const before = prefix !== undefined ? Buffer.concat([prefix, kept]) : Buffer.from(kept);
            this.pushback = this.pushback !== undefined ? Buffer.concat([before, this.pushback]) : before.length > 0 ? before : undefined;
          }
          throw e;
        }
        if (got === -EAGAIN) continue;
      }
      if (got > 0) {
        off += got;
        this.received += got;
        this.noteRead(got, n - (off - got));
        continue;
      }
      this.drainedAt = -1;
      if (got === 0) {
        const partial = out.subarray(0, off);
        throw new EOFError(what, prefix !== undefined ? Buffer.concat([prefix, partial]) : partial, n + (prefix?.length ?? 0));
      }
      throw new SystemError('recv', got);
    }
    return out;
  }

  /**
   * Receives exactly `n` bytes. An end of stream first is an {@link EOFError} holding the bytes
   * that did arrive; a timeout keeps them buffered for the next read.
   */
  *recvall(n: number, opts?: OpOptions): Generator<unknown, Buffer, unknown> {
    checkSize(n, 'recvall');
    this.rop.begin(checkOpts(opts));
    return yield* this.readExact(n, 'recvall');
  }

  /**
   * Receives one message framed by a 4-byte big-endian length. A frame larger than
   * `maxMessageSize` closes the socket (the stream cannot be resynchronised) and throws
   * {@link MessageTooLargeError}; a stream that ends inside a frame throws {@link EOFError}.
   */
  *recvMsg(opts?: OpOptions): Generator<unknown, Buffer, unknown> {
    this.rop.begin(checkOpts(opts));
    const header = yield* this.readExact(4, 'recvMsg');
    const size = header.readUInt32BE(0);
    if (size > this.maxMessageSize) {
      this.close();
      throw new MessageTooLargeError(size, this.maxMessageSize);
    }
    if (size === 0) return EMPTY;
    return yield* this.readExact(size, 'recvMsg', header);
  }

  // ---- stream writes ----

  /** Sends what the kernel takes now (at least one byte, waiting for that if needed): the count sent. */
  *send(data: Uint8Array | string, opts?: OpOptions): Generator<unknown, number, unknown> {
    const buf = asBuffer(data, 'send');
    this.wop.begin(checkOpts(opts));
    if (buf.length === 0) return 0;
    for (;;) {
      let n = native.write(this.fdFor('send'), buf, 0, buf.length);
      if (n === -EAGAIN) {
        n = this.done(this.wop, 'send', yield* this.waitFor(this.wop, 'send', IO_SEND, buf, 0, buf.length));
        if (n === -EAGAIN) continue;
      }
      if (n >= 0) {
        this.sent += n;
        return n;
      }
      throw new SystemError('send', n);
    }
  }

  private *writeAll(buf: Uint8Array, what: string, base = 0, start = 0): Generator<unknown, void, unknown> {
    let off = start;
    while (off < buf.length) {
      let n = native.write(this.fdFor(what), buf, off, buf.length - off);
      if (n === -EAGAIN) {
        try {
          n = this.done(this.wop, what, yield* this.waitFor(this.wop, what, IO_SEND, buf, off, buf.length - off));
        } catch (e) {
          if (e instanceof TimeoutError) throw new SendTimeoutError(what, e.timeout, base + off);
          throw e;
        }
        if (n === -EAGAIN) continue;
      }
      if (n >= 0) {
        off += n;
        this.sent += n;
        continue;
      }
      throw new SystemError('send', n);
    }
  }

  /** Sends all of `data`; on timeout a {@link SendTimeoutError} says how much went out. */
  sendall(data: Uint8Array | string, opts?: OpOptions): Op<void> {
    const buf = asBuffer(data, 'sendall');
    this.wop.begin(checkOpts(opts));
    // The common case first: the kernel takes it all, and the call completes without a generator.
    let off = 0;
    if (buf.length > 0 && this.wop.orphans === 0) {
      const n = native.write(this.fdFor('sendall'), buf, 0, buf.length);
      if (n === buf.length) {
        this.sent += n;
        return DONE_VOID;
      }
      if (n >= 0) {
        this.sent += n;
        off = n;
      } else if (n !== -EAGAIN) throw new SystemError('send', n);
    }
    return this.writeAll(buf, 'sendall', 0, off);
  }

  /** Sends `data` as one message framed by a 4-byte big-endian length (see {@link recvMsg}). */
  *sendMsg(data: Uint8Array | string, opts?: OpOptions): Generator<unknown, void, unknown> {
    const buf = asBuffer(data, 'sendMsg');
    if (buf.length > this.maxMessageSize) throw new MessageTooLargeError(buf.length, this.maxMessageSize);
    this.wop.begin(checkOpts(opts));
    if (buf.length <= 16384) {
      // Small frames go out in one system call.
      const frame = Buffer.allocUnsafe(4 + buf.length);
      frame.writeUInt32BE(buf.length, 0);
      frame.set(buf, 4);
      yield* this.writeAll(frame, 'sendMsg');
      return;
    }
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(buf.length, 0);
    yield* this.writeAll(header, 'sendMsg');
    yield* this.writeAll(buf, 'sendMsg', 4);
  }

  // ---- datagrams ----

  /** Receives one datagram of at most `n` bytes (the rest of a longer one is dropped by the kernel). */
  *recvfrom(n: number, opts?: OpOptions): Generator<unknown, Datagram, unknown> {
    checkSize(n, 'recvfrom');
    this.rop.begin(checkOpts(opts));
    let from: Uint8Array = new Uint8Array(K.ADDR_BYTES);
    for (;;) {
      if (this.datagrams !== undefined && this.datagrams.length > 0) {
        const d = this.datagrams.shift()!;
        return d.data.length <= n ? d : { data: d.data.subarray(0, n), address: d.address };
      }
      let into = n <= SCRATCH ? scratch() : Buffer.allocUnsafe(n);
      // While an operation left behind by a terminated reader may still be receiving, reading now
      // could overtake what it gets: wait (parked) for it to end first.
      let got = this.rop.orphans > 0 ? -EAGAIN : native.recvfrom(this.fdFor('recvfrom'), into, 0, n, from);
      if (got === -EAGAIN && this.completing()) {
        // The kernel receives later, into a buffer of this call's own with room for the
        // sender's address after the data.
        into = Buffer.allocUnsafe(n + K.ADDR_BYTES);
        got = this.done(this.rop, 'recvfrom', yield* this.waitFor(this.rop, 'recvfrom', IO_RECVFROM, into, 0, n));
        if (got === -EAGAIN) continue;
        if (got >= 0) from = into.subarray(n);
      }
      if (got >= 0) {
        this.received += got;
        const address = native.decodeAddress(from);
        const data = into === shared ? Buffer.from(into.subarray(0, got)) : into.subarray(0, got);
        return { data, address: typeof address === 'number' ? { family: 'unix', path: '' } : address };
      }
      if (got !== -EAGAIN) throw new SystemError('recvfrom', got);
      yield* this.wait(this.rop, 'recvfrom');
      this.afterWait(this.rop, 'recvfrom');
    }
  }

  /** Sends one datagram to `addr`; the encoded address is kept for the next datagram to it. */
  *sendto(data: Uint8Array | string, addr: Address, opts?: OpOptions): Generator<unknown, number, unknown> {
    const buf = asBuffer(data, 'sendto');
    this.wop.begin(checkOpts(opts));
    const key = typeof addr === 'string' ? addr : `${addr?.host}\u0000${addr?.port}`;
    let sa: Uint8Array;
    if (this.lastTo !== undefined && this.lastTo.key === key) sa = this.lastTo.addr;
    else {
      sa = yield* this.encode(addr, 'sendto');
      this.lastTo = { key, addr: sa };
    }
    for (;;) {
      let n = native.sendto(this.fdFor('sendto'), buf, 0, buf.length, sa);
      if (n === -EAGAIN && this.completing()) {
        n = this.done(this.wop, 'sendto', yield* this.waitFor(this.wop, 'sendto', IO_SENDTO, buf, 0, buf.length, sa));
        if (n === -EAGAIN) continue;
      }
      if (n >= 0) {
        this.sent += n;
        return n;
      }
      if (n !== -EAGAIN) throw new SystemError('sendto', n);
      yield* this.wait(this.wop, 'sendto');
      this.afterWait(this.wop, 'sendto');
    }
  }

  // ---- TLS ----

  /**
   * Upgrades this socket to TLS (lib/io/tls.ts). Connected: runs the handshake (as the client, or
   * the server with `isServer`) and returns the TLS socket. Listening: returns a TLS listener
   * whose `accept()` completes each handshake. The TLS socket owns this one from then on.
   *
   * @example
   * ```ts
   * yield* sock.connect({ host: 'localhost', port: 8443 });
   * const tls = yield* sock.startTls({ servername: 'localhost', ca: readFileSync('ca.pem') });
   * yield* tls.sendall('hello');
   * ```
   */
  *startTls(options?: TlsOptions): Generator<unknown, TlsSocket, unknown> {
    return yield* startTls(this, options);
  }

  // ---- ending ----

  /** Shuts down reading, writing (the default: the peer reads EOF) or both. */
  shutdown(how: 'read' | 'write' | 'both' = 'write'): void {
    const h = how === 'read' ? K.SHUT_RD : how === 'write' ? K.SHUT_WR : how === 'both' ? K.SHUT_RDWR : -1;
    if (h < 0) throw new TypeError(`shutdown: how must be 'read', 'write' or 'both', got ${String(how)}`);
    const rc = native.shutdown(this.fdFor('shutdown'), h);
    if (rc < 0) throw new SystemError('shutdown', rc);
  }

  /**
   * Closes the socket. A coroutine waiting in an operation on it gets a {@link SocketClosedError};
   * the fd leaves its poller before it is closed. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const op of [this.rop, this.wop]) {
      const c = op.waiter;
      op.waiter = null;
      // Only a coroutine still suspended in this very wait: one already woken learns of the
      // close when it runs (afterWait), and must not get an error at some later suspension.
      if (c !== null && c._pendingOp() === op) c.throw(new SocketClosedError(op.what));
    }
    const fd = this._fd;
    this._fd = -1;
    this.pushback = undefined;
    this.rop.buf = null;
    this.wop.buf = null;
    if (this.orphanFds !== undefined) for (const o of this.orphanFds.splice(0)) native.close(o);
    if (fd >= 0) {
      // The fd leaves its poller before it is closed, so its number can be reused at once.
      for (const op of [this.rop, this.wop]) {
        if (op.sched !== null) op.sched._forgetFd(fd);
        op.sched = null;
      }
      native.close(fd);
    }
  }

  // ---- options ----

  private setOption(level: number, name: number, value: number): void {
    if (this._fd < 0) {
      if (this.closed) throw new SocketClosedError('setsockopt');
      (this.pendingOptions ??= []).push([level, name, value]);
      return;
    }
    const rc = native.setsockopt(this._fd, level, name, value);
    if (rc < 0) throw new SystemError('setsockopt', rc);
  }

  private getOption(level: number, name: number): number {
    const rc = native.getsockopt(this.fdFor('getsockopt'), level, name);
    if (rc < 0) throw new SystemError('getsockopt', rc);
    return rc;
  }

  /** TCP_NODELAY: send small writes at once instead of coalescing them (Nagle). */
  setNoDelay(on = true): this {
    this.setOption(K.IPPROTO_TCP, K.TCP_NODELAY, on ? 1 : 0);
    return this;
  }

  /** SO_REUSEADDR: bind a port still in TIME_WAIT. */
  setReuseAddress(on = true): this {
    this.setOption(K.SOL_SOCKET, K.SO_REUSEADDR, on ? 1 : 0);
    return this;
  }

  /** SO_REUSEPORT: several sockets bound to one port share its connections. */
  setReusePort(on = true): this {
    if (K.SO_REUSEPORT === undefined) throw new SystemError('setsockopt(SO_REUSEPORT)', -(native.errno['EOPNOTSUPP'] ?? 95));
    this.setOption(K.SOL_SOCKET, K.SO_REUSEPORT, on ? 1 : 0);
    return this;
  }

  /** SO_KEEPALIVE, and where the platform has it the idle time before the first probe. */
  setKeepAlive(on = true, idleMs?: number): this {
    this.setOption(K.SOL_SOCKET, K.SO_KEEPALIVE, on ? 1 : 0);
    if (on && idleMs !== undefined) {
      if (!Number.isInteger(idleMs) || idleMs < 1000) throw new RangeError(`idleMs must be an integer >= 1000, got ${idleMs}`);
      if (K.TCP_KEEPIDLE !== undefined) this.setOption(K.IPPROTO_TCP, K.TCP_KEEPIDLE, Math.floor(idleMs / 1000));
    }
    return this;
  }

  /**
   * IPV6_V6ONLY: an IPv6 socket bound to `::` takes IPv6 only, not IPv4 as well (as mapped
   * `::ffff:a.b.c.d` addresses, Linux's default). Set it before binding.
   */
  setIPv6Only(on = true): this {
    if (this.family !== 6) throw new TypeError(`setIPv6Only: the socket is not IPv6 (${this.family === undefined ? 'no family yet: create it with { family: 6 }' : this.family === 'unix' ? 'Unix' : 'IPv4'})`);
    this.setOption(K.IPPROTO_IPV6, K.IPV6_V6ONLY, on ? 1 : 0);
    return this;
  }

  /** SO_BROADCAST, for UDP. */
  setBroadcast(on = true): this {
    this.setOption(K.SOL_SOCKET, K.SO_BROADCAST, on ? 1 : 0);
    return this;
  }

  // ---- multicast (UDP) ----

  /**
   * The fd of this UDP socket for a multicast call. A socket without a family yet takes
   * `family` (that of the group), as bind() would; one of the other family refuses `shown`.
   */
  private multicastFd(what: string, family?: 4 | 6, shown?: string): number {
    if (this.kind !== 'udp') throw new TypeError(`${what}: multicast needs a UDP socket, this one is ${this.kind}`);
    if (this.closed) throw new SocketClosedError(what);
    if (family !== undefined) {
      if (this.family === undefined) {
        this.family = family;
        this.open();
      } else if (this.family !== family) {
        throw new AddressError(`${what}: ${shown} is an IPv${family} address but the socket is IPv${this.family}`);
      }
    }
    return this.fdFor(what);
  }

  /** Encodes an IP literal of family `ip` (port 0). */
  private static ipAddr(host: string, ip: 4 | 6, what: string): Uint8Array {
    const out = new Uint8Array(K.ADDR_BYTES);
    const rc = native.sockaddr(out, ip === 6 ? K.AF_INET6 : K.AF_INET, host, 0);
    if (rc < 0) throw new AddressError(`${what}: bad address ${host}`);
    return out;
  }

  /**
   * Encodes a multicast interface for this socket's family. IPv4 names one by an address it has,
   * or by its name (its first IPv4 address is used). IPv6 names one by its name or index
   * (`'eth0'`, `'2'`), the same after a `%` (`'::%eth0'`, as Node's dgram writes it), or by any
   * address it has (IPv6 or IPv4); `'::'` is the default interface.
   */
  private interfaceAddr(iface: unknown, what: string): Uint8Array {
    if (typeof iface !== 'string') throw new TypeError(`${what}: the interface must be a string (an address or a name), got ${iface === null ? 'null' : typeof iface}`);
    const out = new Uint8Array(K.ADDR_BYTES);
    if (this.family === 4) {
      let addr = iface;
      const ip = isIP(iface);
      if (ip === 6) throw new AddressError(`${what}: ${iface} is an IPv6 address but the socket is IPv4`);
      if (ip === 0) {
        const v4 = networkInterfaces()[iface]?.find((a) => a.family === 'IPv4');
        if (v4 === undefined) throw new AddressError(`${what}: no interface named ${JSON.stringify(iface)} has an IPv4 address`);
        addr = v4.address;
      }
      if (native.sockaddr(out, K.AF_INET, addr, 0) < 0) throw new AddressError(`${what}: bad interface address ${addr}`);
      return out;
    }
    let scope: string;
    const pct = iface.indexOf('%');
    if (pct >= 0) {
      const before = iface.slice(0, pct);
      if (before !== '' && isIP(before) !== 6) throw new AddressError(`${what}: bad interface ${JSON.stringify(iface)}`);
      scope = iface.slice(pct + 1);
    } else if (iface === '::') {
      scope = '0';
    } else if (isIP(iface) !== 0) {
      const found = interfaceWith(iface);
      if (found === undefined) throw new AddressError(`${what}: no interface has the address ${iface}`);
      scope = found;
    } else {
      scope = iface;
    }
    if (scope !== '' && !/^\d+$/.test(scope)) scope = scopeOf(scope, networkInterfaces()[scope]);
    // sockaddr() turns the scope into the interface index (if_nametoindex for a name); index 0,
    // the default interface, is no scope at all.
    const host = scope === '0' ? '::' : `::%${scope}`;
    if (scope === '' || native.sockaddr(out, K.AF_INET6, host, 0) < 0) throw new AddressError(`${what}: no interface ${JSON.stringify(iface)}`);
    return out;
  }

  private membership(join: boolean, what: string, group: string, iface: string | undefined, source: string | undefined): void {
    const ip = ipOf(group, what, 'group');
    if (!isMulticast(group, ip)) throw new RangeError(`${what}: ${group} is not a multicast address (224.0.0.0/4, ff00::/8)`);
    if (source !== undefined) {
      const sip = ipOf(source, what, 'source');
      if (sip !== ip) throw new AddressError(`${what}: the source ${source} and the group ${group} are of different IP versions`);
      if (isMulticast(source, sip)) throw new RangeError(`${what}: the source ${source} is a multicast address; it must be a sender's unicast address`);
    }
    const fd = this.multicastFd(what, ip, group);
    const g = AsyncSocket.ipAddr(group, ip, what);
    const i = iface === undefined ? null : this.interfaceAddr(iface, what);
    const src = source === undefined ? null : AsyncSocket.ipAddr(source, ip, what);
    const rc = native.membership(fd, join, g, i, src);
    if (rc >= 0 && join && !this.membersOnly) {
      this.membersOnly = true;
      const all = ip === 6 ? K.IPV6_MULTICAST_ALL : K.IP_MULTICAST_ALL;
      if (all !== undefined) {
        const off = native.setsockopt(fd, ip === 6 ? K.IPPROTO_IPV6 : K.IPPROTO_IP, all, 0);
        // A kernel older than the option (IPv6: before 4.20) keeps its default.
        if (off < 0 && off !== -ENOPROTOOPT) throw new SystemError(`setsockopt(${ip === 6 ? 'IPV6' : 'IP'}_MULTICAST_ALL)`, off);
      }
    }
    if (rc < 0) {
      const opt =
        ip === 4
          ? `IP_${join ? 'ADD' : 'DROP'}_${source !== undefined ? 'SOURCE_' : ''}MEMBERSHIP`
          : source !== undefined
            ? `MCAST_${join ? 'JOIN' : 'LEAVE'}_SOURCE_GROUP`
            : `IPV6_${join ? 'JOIN' : 'LEAVE'}_GROUP`;
      throw new SystemError(`setsockopt(${opt}) ${group}`, rc);
    }
  }

  /**
   * Joins the multicast group `group` (224.0.0.0/4 or ff00::/8), so datagrams sent to it and to
   * the port this socket is bound to arrive here. `iface` picks the interface to join on: for
   * IPv4 one of its addresses (or its name), for IPv6 its name or index (`'eth0'`, `'::%eth0'`)
   * or one of its addresses; by default the routing table picks one. Several sockets of one
   * host can receive a group on one port when each sets {@link setReuseAddress} before binding.
   * Only members receive a group: Linux would also deliver it to every other socket bound to
   * the port while any socket of the host is a member (IP_MULTICAST_ALL), so joining turns that
   * off for this socket. A socket without a family yet takes the group's. Closing the socket
   * leaves its groups.
   *
   * @example
   * ```ts
   * const sock = AsyncSocket.udp({ family: 4 });
   * sock.setReuseAddress();
   * yield* sock.bind({ host: '0.0.0.0', port: 5353 });
   * sock.addMembership('239.1.2.3');
   * const { data, address } = yield* sock.recvfrom(1500);
   * ```
   */
  addMembership(group: string, iface?: string): this {
    this.membership(true, 'addMembership', group, iface, undefined);
    return this;
  }

  /** Leaves a group joined with {@link addMembership} (the same `iface`): nothing sent to it arrives from then on. */
  dropMembership(group: string, iface?: string): this {
    this.membership(false, 'dropMembership', group, iface, undefined);
    return this;
  }

  /**
   * Joins `group` for datagrams from `source` only (source-specific multicast, RFC 4607; by
   * convention groups in 232.0.0.0/8 and ff3x::/32).
   *
   * @example
   * ```ts
   * sock.addSourceSpecificMembership('10.0.0.7', '232.1.1.1');
   * ```
   */
  addSourceSpecificMembership(source: string, group: string, iface?: string): this {
    this.membership(true, 'addSourceSpecificMembership', group, iface, source);
    return this;
  }

  /** Leaves a membership made with {@link addSourceSpecificMembership}. */
  dropSourceSpecificMembership(source: string, group: string, iface?: string): this {
    this.membership(false, 'dropSourceSpecificMembership', group, iface, source);
    return this;
  }

  /**
   * How many routers the multicast datagrams this socket sends may cross: IP_MULTICAST_TTL, or
   * the hop limit for IPv6; 0 to 255, default 1 (this network only). 0 keeps them on this host.
   *
   * @example
   * ```ts
   * sock.setMulticastTTL(4);
   * ```
   */
  setMulticastTTL(ttl: number): this {
    const fd = this.multicastFd('setMulticastTTL');
    if (typeof ttl !== 'number') throw new TypeError(`setMulticastTTL: ttl must be a number, got ${typeof ttl}`);
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) throw new RangeError(`setMulticastTTL: ttl must be an integer from 0 to 255, got ${ttl}`);
    const six = this.family === 6;
    const rc = native.setsockopt(fd, six ? K.IPPROTO_IPV6 : K.IPPROTO_IP, six ? K.IPV6_MULTICAST_HOPS : K.IP_MULTICAST_TTL, ttl);
    if (rc < 0) throw new SystemError(`setsockopt(${six ? 'IPV6_MULTICAST_HOPS' : 'IP_MULTICAST_TTL'})`, rc);
    return this;
  }

  /** The multicast TTL (IPv6: hop limit) set by {@link setMulticastTTL}. */
  get multicastTTL(): number {
    const fd = this.multicastFd('multicastTTL');
    const six = this.family === 6;
    const v = native.getsockopt(fd, six ? K.IPPROTO_IPV6 : K.IPPROTO_IP, six ? K.IPV6_MULTICAST_HOPS : K.IP_MULTICAST_TTL);
    if (v < 0) throw new SystemError(`getsockopt(${six ? 'IPV6_MULTICAST_HOPS' : 'IP_MULTICAST_TTL'})`, v);
    return v;
  }

  /**
   * Whether multicast datagrams this socket sends are also delivered to this host's own members
   * of the group (IP_MULTICAST_LOOP; on by default). On Windows the option acts on the
   * receiving socket instead: a socket with it off does not get its own host's datagrams.
   *
   * @example
   * ```ts
   * sock.setMulticastLoopback(false);
   * ```
   */
  setMulticastLoopback(on: boolean): this {
    const fd = this.multicastFd('setMulticastLoopback');
    if (typeof on !== 'boolean') throw new TypeError(`setMulticastLoopback: on must be a boolean, got ${typeof on}`);
    const six = this.family === 6;
    const rc = native.setsockopt(fd, six ? K.IPPROTO_IPV6 : K.IPPROTO_IP, six ? K.IPV6_MULTICAST_LOOP : K.IP_MULTICAST_LOOP, on ? 1 : 0);
    if (rc < 0) throw new SystemError(`setsockopt(${six ? 'IPV6_MULTICAST_LOOP' : 'IP_MULTICAST_LOOP'})`, rc);
    return this;
  }

  /** Whether multicast loopback is on (see {@link setMulticastLoopback}). */
  get multicastLoopback(): boolean {
    const fd = this.multicastFd('multicastLoopback');
    const six = this.family === 6;
    const v = native.getsockopt(fd, six ? K.IPPROTO_IPV6 : K.IPPROTO_IP, six ? K.IPV6_MULTICAST_LOOP : K.IP_MULTICAST_LOOP);
    if (v < 0) throw new SystemError(`getsockopt(${six ? 'IPV6_MULTICAST_LOOP' : 'IP_MULTICAST_LOOP'})`, v);
    return v !== 0;
  }

  /**
   * The interface the multicast datagrams this socket sends leave by (IP_MULTICAST_IF,
   * IPV6_MULTICAST_IF), named as for {@link addMembership}; `'0.0.0.0'` or `'::'` give the
   * choice back to the routing table.
   *
   * @example
   * ```ts
   * sock.setMulticastInterface('192.168.1.20');   // IPv4: an address of the interface
   * sock6.setMulticastInterface('eth0');          // IPv6: its name (or '::%eth0', or an index)
   * ```
   */
  setMulticastInterface(iface: string): this {
    const fd = this.multicastFd('setMulticastInterface');
    const rc = native.setMulticastInterface(fd, this.interfaceAddr(iface, 'setMulticastInterface'));
    if (rc < 0) throw new SystemError(`setsockopt(${this.family === 6 ? 'IPV6_MULTICAST_IF' : 'IP_MULTICAST_IF'}) ${iface}`, rc);
    return this;
  }

  /**
   * The interface multicast datagrams leave by: an IPv4 address (`'0.0.0.0'`: the routing
   * table's choice), or for IPv6 `'::%<index>'` (`'::'`: the default).
   */
  get multicastInterface(): string {
    const fd = this.multicastFd('multicastInterface');
    const out = new Uint8Array(K.ADDR_BYTES);
    const six = this.family === 6;
    const rc = native.getMulticastInterface(fd, six ? K.AF_INET6 : K.AF_INET, out);
    if (rc < 0) throw new SystemError(`getsockopt(${six ? 'IPV6_MULTICAST_IF' : 'IP_MULTICAST_IF'})`, rc);
    const a = native.decodeAddress(out);
    if (typeof a === 'number' || a.family === 'unix') throw new SystemError('decode address', typeof a === 'number' ? a : -(native.errno['EAFNOSUPPORT'] ?? 97));
    return a.host;
  }

  /** SO_RCVBUF: the kernel's receive buffer size (Linux reports twice what was asked). */
  get recvBufferSize(): number {
    return this.getOption(K.SOL_SOCKET, K.SO_RCVBUF);
  }
  set recvBufferSize(bytes: number) {
    if (!Number.isInteger(bytes) || bytes < 1) throw new RangeError(`buffer size must be an integer >= 1, got ${bytes}`);
    this.setOption(K.SOL_SOCKET, K.SO_RCVBUF, bytes);
  }

  /** SO_SNDBUF: the kernel's send buffer size. */
  get sendBufferSize(): number {
    return this.getOption(K.SOL_SOCKET, K.SO_SNDBUF);
  }
  set sendBufferSize(bytes: number) {
    if (!Number.isInteger(bytes) || bytes < 1) throw new RangeError(`buffer size must be an integer >= 1, got ${bytes}`);
    this.setOption(K.SOL_SOCKET, K.SO_SNDBUF, bytes);
  }

  /** Whether TCP_NODELAY is on. */
  get noDelay(): boolean {
    return this.getOption(K.IPPROTO_TCP, K.TCP_NODELAY) !== 0;
  }

  /** Byte counters and how often the socket had to wait. */
  statistics(): SocketStatistics {
    return { bytesReceived: this.received, bytesSent: this.sent, waits: this.waits };
  }

  toString(): string {
    return `AsyncSocket(${this.kind}, fd ${this._fd}${this.closed ? ', closed' : ''})`;
  }
}
