/**
 * The scheduler's I/O driver: what lets fd readiness and I/O completions wake coroutines. Two
 * kinds implement one interface, so the socket layer is written once for both:
 *
 * - {@link ReadinessDriver} (epoll, poll, select; kqueue and /dev/poll later): "this fd is ready,
 *   now do the I/O". Sockets try the system call, and on EAGAIN wait with {@link IoDriver.watch}.
 * - a completion driver (io_uring, IOCP; `completion-driver.ts`): "do this I/O, and say
 *   when it is done". Sockets still try the system call first, and on EAGAIN hand the operation to
 *   the kernel with {@link IoDriver.submit}; its result (a byte count, a new fd, or -errno) is what
 *   the coroutine wakes with; connect, recvfrom and sendto are operations too (IOCP has no
 *   readiness to wait for). `watch` works there too (a one-shot readiness operation, emulated on
 *   IOCP), for what has no completion operation (pipes through `waitReadable`, a full ring).
 *
 * @module
 * @internal
 */
import type { Coro } from './coro.js';
import { CoroStateError, check } from './errors.js';
import { EV } from './poller.js';
import type { NativePoller, PollerMode } from './poller.js';

/** What a driver needs from its scheduler. */
export interface DriverHost {
  /** Wakes `c` if it still waits with sequence `seq`; returns whether it did. */
  _wake(c: Coro<unknown>, seq: number, value: unknown, isError: boolean): boolean;
  /** A driver failure that no coroutine can be told about. */
  _report(err: unknown): void;
  /** The number of things that can wake a coroutine changed (keeping the process alive). */
  _refsChanged(): void;
  /** Runs the ready queue after a batch (integrated/thread modes). */
  _afterBatch(): void;
}

/** Completion operation kinds for {@link IoDriver.submit} (the same numbers as the ring's `OP_*`). */
export const IO_RECV = 1;
export const IO_SEND = 2;
export const IO_ACCEPT = 5;
/** connect(2) to `addr`; the result is 0 or -errno. */
export const IO_CONNECT = 6;
/** One datagram into `buf[off, off + len)`; its sender's address lands in `buf[off + len, off + len + ADDR_BYTES)`. */
export const IO_RECVFROM = 8;
/** One datagram `buf[off, off + len)` to `addr`. */
export const IO_SENDTO = 9;

/**
 * Who is told about an operation whose coroutine stopped waiting (terminated, or its socket
 * closed) before the kernel finished: bytes received then must not be lost, an fd accepted then
 * must not leak. Called once for each such operation, whatever its result (-ECANCELED included).
 */
export interface IoOwner {
  _orphaned(kind: number, result: number, buf: Uint8Array | null, off: number): void;
}

export interface IoDriver {
  readonly mode: PollerMode;
  /** Whether {@link submit} runs operations (a completion backend). */
  readonly completion: boolean;
  /** fd waits and operations in flight: what can still wake a coroutine. */
  readonly waiting: number;
  /** Operations handed to the kernel by {@link submit} so far (0 on a readiness backend). */
  readonly submitted: number;
  /**
   * Starts waiting for `fd` to be readable (EV.READ) or writable (EV.WRITE); the coroutine wakes
   * with the event bits. With `persistent` the fd stays registered (edge-triggered where the
   * backend has it) until {@link forget}, so the caller must wait only after EAGAIN.
   */
  watch(c: Coro<unknown>, fd: number, dir: number, persistent: boolean): void;
  /** Forgets `c`'s wait on `fd` (timeout, terminate). */
  unwatch(c: Coro<unknown>, fd: number): void;
  /** Read-side events dispatched for a persistently registered fd, or -1 (see the scheduler). */
  readEvents(fd: number): number;
  /** The fd is about to be closed: drop it (waiters were woken by its owner). */
  forget(fd: number): void;
  /**
   * Completion backends: queues `kind` on `fd` for `buf[off, off + len)` (no buffer for accept
   * and connect; `addr` for connect and sendto) on behalf of `c`, which wakes with the result.
   * Returns the operation's token, or -1 when the backend fell back to a readiness wait for now
   * (no slot free): `c` then wakes with -EAGAIN and retries its system call. A connect waits
   * for an operation to end instead, then wakes with -EAGAIN and submits again.
   */
  submit(c: Coro<unknown>, kind: number, fd: number, buf: Uint8Array | null, off: number, len: number, owner: IoOwner, addr?: Uint8Array | null): number;
  /** Asks the kernel to cancel the operation `token`; its completion still follows. */
  cancel(token: number): void;
  /** Exclusive mode: waits up to `timeout` ms (-1: forever) and dispatches what came. */
  poll(timeout: number): void;
  ref(): void;
  unref(): void;
  close(): void;
}

/** One fd's waiting coroutines. */
interface FdWatch {
  reader: Coro<unknown> | null;
  readSeq: number;
  writer: Coro<unknown> | null;
  writeSeq: number;
  /** Events registered with the poller (0: not registered). */
  registered: number;
  /** Registered for good (sockets) until {@link ReadinessDriver.forget}. */
  persistent: boolean;
  /** Persistent and edge-triggered: registered once for READ|WRITE|EDGE and never changed. */
  edge: boolean;
  /** How many read-side events (READ, ERROR, HANGUP) were dispatched for the fd. */
  readEvents: number;
}

/** Whether `c` still waits with sequence `seq` (S_SUSPENDED is 2). */
export function live(c: Coro<unknown> | null, seq: number): boolean {
  return c !== null && (c._f & 3) === 2 && c._q === seq;
}

/** The readiness driver over a native poller (epoll, poll, select). */
export class ReadinessDriver implements IoDriver {
  readonly completion = false;
  readonly submitted = 0;
  readonly mode: PollerMode;
  private readonly fds = new Map<number, FdWatch>();
  private closed = false;

  constructor(
    private readonly host: DriverHost,
    private readonly poller: NativePoller,
    private readonly events: Int32Array,
  ) {
    this.mode = poller.mode;
  }

  /** The callback the poller calls in integrated and thread modes. */
  readonly onEvents = (count: number): void => {
    if (this.closed) return;
    this.dispatch(count);
    this.host._afterBatch();
  };

  get waiting(): number {
    return this.fds.size;
  }

  watch(c: Coro<unknown>, fd: number, dir: number, persistent: boolean): void {
    let w = this.fds.get(fd);
    if (w === undefined) {
      const edge = persistent && (this.poller.features & EV.FEAT_EDGE) !== 0;
      w = { reader: null, readSeq: 0, writer: null, writeSeq: 0, registered: 0, persistent, edge, readEvents: 0 };
      this.fds.set(fd, w);
    }
    const read = dir === EV.READ;
    const other = read ? w.reader : w.writer;
    if (live(other, read ? w.readSeq : w.writeSeq)) {
      throw new CoroStateError(`fd ${fd} already has ${String(other)} waiting to ${read ? 'read' : 'write'}`, 'ERR_FD_BUSY');
    }
    if (read) {
      w.reader = c;
      w.readSeq = c._q;
    } else {
      w.writer = c;
      w.writeSeq = c._q;
    }
    try {
      this.update(fd, w);
    } catch (e) {
      if (read) w.reader = null;
      else w.writer = null;
      if (w.registered === 0) this.fds.delete(fd);
      throw e;
    }
  }

  unwatch(c: Coro<unknown>, fd: number): void {
    const w = this.fds.get(fd);
    if (w === undefined) return;
    if (w.reader === c) w.reader = null;
    if (w.writer === c) w.writer = null;
    // A persistent registration stays as it is; a level-triggered one sheds the direction when
    // an event finds nobody waiting (dispatch).
    if (!w.persistent) this.update(fd, w);
  }

  readEvents(fd: number): number {
    const w = this.fds.get(fd);
    return w !== undefined && w.persistent && w.registered !== 0 ? w.readEvents : -1;
  }

  forget(fd: number): void {
    const w = this.fds.get(fd);
    if (w === undefined) return;
    this.fds.delete(fd);
    if (w.registered !== 0 && !this.closed) this.poller.remove(fd);
    this.host._refsChanged();
  }

  submit(): number {
    throw new CoroStateError('submit() needs a completion backend', 'ERR_MODE');
  }

  cancel(): void {}

  poll(timeout: number): void {
    this.dispatch(this.poller.wait(timeout));
  }

  ref(): void {
    this.poller.ref();
  }

  unref(): void {
    this.poller.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.fds.keys()) this.poller.remove(fd);
    this.fds.clear();
    this.poller.close();
  }

  private update(fd: number, w: FdWatch): void {
    if (w.reader !== null && !live(w.reader, w.readSeq)) w.reader = null;
    if (w.writer !== null && !live(w.writer, w.writeSeq)) w.writer = null;
    let want = (w.reader !== null ? EV.READ : 0) | (w.writer !== null ? EV.WRITE : 0);
    if (w.persistent) {
      // Edge-triggered: both directions, once, for the fd's life. Level-triggered: add what a
      // waiter needs, never drop here (dispatch drops a direction an event finds unwanted).
      if (w.edge) want = EV.READ | EV.WRITE | EV.EDGE;
      else want |= w.registered;
      if (want === w.registered) return;
      check('poller ' + (w.registered === 0 ? 'add' : 'modify'), w.registered === 0 ? this.poller.add(fd, want, fd) : this.poller.modify(fd, want, fd));
      w.registered = want;
      this.host._refsChanged();
      return;
    }
    if (want === w.registered) return;
    if (want === 0) {
      this.poller.remove(fd);
      this.fds.delete(fd);
    } else if (w.registered === 0) {
      check('poller add', this.poller.add(fd, want, fd));
    } else {
      check('poller modify', this.poller.modify(fd, want, fd));
    }
    w.registered = want;
    this.host._refsChanged();
  }

  private dispatch(count: number): void {
    if (count < 0) {
      this.host._report(new CoroStateError(`poller wait failed: ${count}`, 'ERR_POLLER'));
      return;
    }
    const ev = this.events;
    const errBits = EV.ERROR | EV.HANGUP;
    for (let i = 0; i < count; i++) {
      const token = ev[3 * i]!;
      if (token === EV.TOKEN_WAKEUP) continue;
      const bits = ev[3 * i + 1]!;
      const w = this.fds.get(token);
      if (w === undefined) continue;
      const waiting = (w.reader !== null ? EV.READ : 0) | (w.writer !== null ? EV.WRITE : 0);
      if ((bits & (EV.READ | errBits)) !== 0) {
        w.readEvents++;
        if (w.reader !== null) {
          const r = w.reader;
          w.reader = null;
          this.host._wake(r, w.readSeq, bits, false);
        }
      }
      if ((bits & (EV.WRITE | errBits)) !== 0 && w.writer !== null) {
        const wr = w.writer;
        w.writer = null;
        this.host._wake(wr, w.writeSeq, bits, false);
      }
      if (w.persistent) {
        // A woken coroutine comes back to wait with its direction still registered: no system
        // call. On a level-triggered backend, a direction nobody was waiting for would be
        // reported on every poll (an always-writable socket, unread data, a hang-up), so it is
        // dropped until a waiter needs it again. Edge-triggered registrations never change.
        if (!w.edge) {
          const idle = w.registered & ~waiting;
          if (idle !== 0) this.shed(token, w, idle);
        }
        continue;
      }
      this.update(token, w);
    }
  }

  /** A level-triggered persistent registration drops `bits` (a direction nobody waits for). */
  private shed(fd: number, w: FdWatch, bits: number): void {
    const want = w.registered & ~bits;
    const rc = want === 0 ? this.poller.remove(fd) : this.poller.modify(fd, want, fd);
    if (rc < 0) {
      // The fd was closed without forget (its owner's bug, not a reason to stop dispatching):
      // forget it entirely, so a new fd with the same number starts clean.
      this.poller.remove(fd);
      this.fds.delete(fd);
      return;
    }
    w.registered = want;
  }
}
