/**
 * The completion driver over a ring (`native.Ring`, the completion contract of
 * `native/completion.h`): io_uring on Linux, IOCP on Windows.
 *
 * Operations carry a token: a slot index (0 .. slots-1) for recv/send/accept/connect/recvfrom/
 * sendto, whose buffer (if any) is
 * lent to the ring for the operation's life, or `POLL_BASE + 2 * fd + (write ? 1 : 0)` for the
 * one-shot readiness waits that stand in for a persistent registration. Everything is made at
 * open: the slot records, the free-slot stack, the fd records of a live socket are reused.
 *
 * A cancelled operation (timeout, close, terminate) keeps its slot, and its buffer alive, until
 * its completion arrives: the kernel may write into the buffer until then.
 *
 * @module
 * @internal
 */
import { native } from '../native/binding.js';
import type { NativeRing, RingMode } from '../native/types.js';
import type { Coro } from './coro.js';
import { CoroStateError, SystemError } from './errors.js';
import { EV } from './poller.js';
import { Ring } from './ring.js';
import { IO_ACCEPT, IO_CONNECT, IO_RECV, IO_RECVFROM, IO_SEND, IO_SENDTO, live, type DriverHost, type IoDriver, type IoOwner } from './driver.js';

const R = native.ring;
const ECANCELED = native.errno['ECANCELED']!;
const EAGAIN = native.errno['EAGAIN']!;
const ENOBUFS = native.errno['ENOBUFS']!;
const POLL_BASE = 1 << 24;
const OP_NAMES: Record<number, string> = {
  [IO_RECV]: 'recv', [IO_SEND]: 'send', [IO_ACCEPT]: 'accept', [IO_CONNECT]: 'connect', [IO_RECVFROM]: 'recvfrom', [IO_SENDTO]: 'sendto',
};

/** Sizes of the ring a scheduler opens (see `RingOptions`). */
export interface CompletionOptions {
  /**
   * Operations in flight at once: one per socket waiting to read, write or accept, plus readiness
   * waits. Default 65536 (about 10 MB of records, allocated at open). Waits beyond it queue until
   * an operation completes, so size it above the connections that may all be idle at once.
   */
  maxOps?: number;
  /** Buffer slots, at most 65536: operations with a buffer in flight at once. Default 16384. */
  slots?: number;
  /** Submission queue entries; default 1024. */
  entries?: number;
}

/** One completion operation in flight. */
interface Slot {
  c: Coro<unknown> | null;
  seq: number;
  kind: number;
  buf: Uint8Array | null;
  off: number;
  owner: IoOwner | null;
  registered: boolean;
}

/** One fd's readiness waits (one-shot poll operations). */
interface PollWatch {
  fd: number;
  reader: Coro<unknown> | null;
  readSeq: number;
  writer: Coro<unknown> | null;
  writeSeq: number;
  /** Wake with -EAGAIN instead of event bits (a submit that fell back to readiness). */
  readRetry: boolean;
  writeRetry: boolean;
  /** A poll operation is in flight for the direction (possibly being cancelled). */
  readFlight: boolean;
  writeFlight: boolean;
}

export class CompletionDriver implements IoDriver {
  readonly completion = true;
  /** The binary's completion backend: io_uring (Linux) or IOCP (Windows). */
  readonly name = native.ringBackend;
  readonly mode: RingMode;
  private readonly ring: NativeRing;
  private readonly out: Int32Array;
  private readonly slots: Slot[];
  private readonly free: number[];
  private readonly polls = new Map<number, PollWatch>();
  /** Poll operations the ring had no room for (-ENOBUFS): retried after the next completions. */
  private readonly deferred = new Ring<PollWatch>(16);
  /**
   * Connects that found no slot or operation record free: a connect has no readiness to wait
   * for instead (an unconnected socket polls as writable at once, and IOCP has no readiness at
   * all), so it waits for an operation to end and then tries again (woken with -EAGAIN).
   */
  private readonly slotWaiters = new Ring<{ c: Coro<unknown>; seq: number }>(4);
  private opsWaiting = 0;
  /** Operations handed to the kernel so far. */
  submitted = 0;
  private pollWaits = 0;
  private closed = false;

  constructor(
    private readonly host: DriverHost,
    mode: RingMode,
    options: CompletionOptions = {},
  ) {
    const maxOps = options.maxOps ?? 65536;
    const nslots = Math.min(options.slots ?? 16384, maxOps, 65536);
    this.mode = mode;
    this.out = new Int32Array(3 * 1024);
    try {
      this.ring = new native.Ring(mode, this.out, mode === 'exclusive' ? undefined : this.onCompletions, {
        entries: options.entries ?? 1024,
        maxOps,
        slots: nslots,
      });
    } catch (e) {
      const errno = (e as { errno?: unknown }).errno;
      if (typeof errno === 'number') throw new SystemError(`open ${this.name} ring`, errno < 0 ? errno : -errno);
      throw e;
    }
    this.slots = new Array<Slot>(nslots);
    this.free = new Array<number>(nslots);
    for (let i = 0; i < nslots; i++) {
      this.slots[i] = { c: null, seq: 0, kind: 0, buf: null, off: 0, owner: null, registered: false };
      this.free[i] = nslots - 1 - i;
    }
  }

  private readonly onCompletions = (count: number): void => {
    if (this.closed) return;
    this.dispatch(count);
    this.host._afterBatch();
  };

  get waiting(): number {
    return this.opsWaiting + this.pollWaits;
  }

  // ---- completion operations ----

  submit(c: Coro<unknown>, kind: number, fd: number, buf: Uint8Array | null, off: number, len: number, owner: IoOwner, addr: Uint8Array | null = null): number {
    if (this.closed) throw new CoroStateError('scheduler is closed', 'ERR_CLOSED');
    const dir = kind === IO_SEND || kind === IO_SENDTO || kind === IO_CONNECT ? EV.WRITE : EV.READ;
    const index = this.free.pop();
    if (index === undefined) {
      // Every slot is in flight: wait for readiness instead, and retry the system call.
      if (kind === IO_CONNECT) this.slotWaiters.push({ c, seq: c._q });
      else this.watchFor(c, fd, dir, true);
      return -1;
    }
    const s = this.slots[index]!;
    let rc: number;
    if (kind === IO_ACCEPT) {
      rc = this.ring.accept(index, fd);
    } else if (kind === IO_CONNECT) {
      rc = this.ring.connect(index, fd, addr!);
    } else {
      rc = this.ring.register(index, buf!);
      if (rc === 0) {
        s.registered = true;
        const r = this.ring;
        rc =
          kind === IO_RECV ? r.recv(index, fd, index, off, len)
          : kind === IO_SEND ? r.send(index, fd, index, off, len)
          : kind === IO_RECVFROM ? r.recvfrom(index, fd, index, off, len, off + len)
          : r.sendto(index, fd, index, off, len, addr!);
        if (rc < 0) {
          this.ring.unregister(index);
          s.registered = false;
        }
      }
    }
    if (rc < 0) {
      this.free.push(index);
      if (rc === -ENOBUFS) {
        if (kind === IO_CONNECT) this.slotWaiters.push({ c, seq: c._q });
        else this.watchFor(c, fd, dir, true);
        return -1;
      }
      throw new SystemError(`${this.name} ${OP_NAMES[kind] ?? 'operation'}`, rc);
    }
    s.c = c;
    s.seq = c._q;
    s.kind = kind;
    s.buf = buf;
    s.off = off;
    s.owner = owner;
    this.submitted++;
    if (this.opsWaiting++ === 0) this.host._refsChanged();
    return index;
  }

  cancel(token: number): void {
    if (token < 0 || this.closed) return;
    // -ENOENT: it completed already (its completion is in the batch being dispatched, or next).
    this.ring.cancel(token);
  }

  // ---- readiness waits ----

  watch(c: Coro<unknown>, fd: number, dir: number, _persistent: boolean): void {
    if (this.closed) throw new CoroStateError('scheduler is closed', 'ERR_CLOSED');
    this.watchFor(c, fd, dir, false);
  }

  private watchFor(c: Coro<unknown>, fd: number, dir: number, retry: boolean): void {
    let w = this.polls.get(fd);
    if (w === undefined) {
      w = { fd, reader: null, readSeq: 0, writer: null, writeSeq: 0, readRetry: false, writeRetry: false, readFlight: false, writeFlight: false };
      this.polls.set(fd, w);
    }
    const read = dir === EV.READ;
    if (read ? live(w.reader, w.readSeq) : live(w.writer, w.writeSeq)) {
      throw new CoroStateError(`fd ${fd} already has ${String(read ? w.reader : w.writer)} waiting to ${read ? 'read' : 'write'}`, 'ERR_FD_BUSY');
    }
    if (read) {
      if (w.reader === null) this.pollWaits++;
      w.reader = c;
      w.readSeq = c._q;
      w.readRetry = retry;
      // A poll still in flight (one being cancelled) serves the new waiter: when it ends as
      // cancelled, it is queued again.
      if (!w.readFlight) this.arm(w, EV.READ);
    } else {
      if (w.writer === null) this.pollWaits++;
      w.writer = c;
      w.writeSeq = c._q;
      w.writeRetry = retry;
      if (!w.writeFlight) this.arm(w, EV.WRITE);
    }
    if (this.pollWaits === 1) this.host._refsChanged();
  }

  private arm(w: PollWatch, dir: number): void {
    const rc = this.ring.poll(POLL_BASE + 2 * w.fd + (dir === EV.WRITE ? 1 : 0), w.fd, dir);
    if (rc === 0) {
      if (dir === EV.READ) w.readFlight = true;
      else w.writeFlight = true;
      return;
    }
    if (rc === -ENOBUFS) {
      this.deferred.push(w);
      return;
    }
    // The fd is bad (closed under us): wake the waiter with an error event; its system call
    // will say what is wrong.
    this.end(w, dir, EV.ERROR);
  }

  unwatch(c: Coro<unknown>, fd: number): void {
    const w = this.polls.get(fd);
    if (w === undefined) return;
    if (w.reader === c) {
      w.reader = null;
      this.pollWaits--;
      if (w.readFlight) this.ring.cancel(POLL_BASE + 2 * fd);
    }
    if (w.writer === c) {
      w.writer = null;
      this.pollWaits--;
      if (w.writeFlight) this.ring.cancel(POLL_BASE + 2 * fd + 1);
    }
    this.tidy(w);
    this.host._refsChanged();
  }

  readEvents(): number {
    // One-shot waits keep no count: a short read is followed by a read that may say EAGAIN.
    return -1;
  }

  forget(fd: number): void {
    const w = this.polls.get(fd);
    if (w === undefined) return;
    if (w.reader !== null) {
      w.reader = null;
      this.pollWaits--;
    }
    if (w.writer !== null) {
      w.writer = null;
      this.pollWaits--;
    }
    if (w.readFlight) this.ring.cancel(POLL_BASE + 2 * fd);
    if (w.writeFlight) this.ring.cancel(POLL_BASE + 2 * fd + 1);
    this.tidy(w);
    this.host._refsChanged();
  }

  /** Drops an fd record with nothing waiting and nothing in flight. */
  private tidy(w: PollWatch): void {
    if (w.reader === null && w.writer === null && !w.readFlight && !w.writeFlight) this.polls.delete(w.fd);
  }

  /** A poll in direction `dir` ended with `bits` (or an error as EV.ERROR): wake its waiter. */
  private end(w: PollWatch, dir: number, bits: number): void {
    if (dir === EV.READ) {
      const r = w.reader;
      if (r !== null) {
        w.reader = null;
        this.pollWaits--;
        this.host._wake(r, w.readSeq, w.readRetry ? -EAGAIN : bits, false);
      }
    } else {
      const wr = w.writer;
      if (wr !== null) {
        w.writer = null;
        this.pollWaits--;
        this.host._wake(wr, w.writeSeq, w.writeRetry ? -EAGAIN : bits, false);
      }
    }
  }

  // ---- the loop ----

  poll(timeout: number): void {
    this.dispatch(this.ring.wait(timeout));
  }

  ref(): void {
    this.ring.ref();
  }

  unref(): void {
    this.ring.unref();
  }

  close(): void {
    if (this.closed) return;
    // The ring cancels what is in flight and waits for the kernel to finish with the buffers;
    // those last completions are not dispatched: coroutines still waiting stay suspended, as
    // with a readiness backend.
    this.closed = true;
    this.ring.close();
    this.polls.clear();
    this.deferred.clear();
    this.slotWaiters.clear();
    this.opsWaiting = 0;
    this.pollWaits = 0;
  }

  private dispatch(count: number): void {
    if (count < 0) {
      this.host._report(new CoroStateError(`${this.name} wait failed: ${count}`, 'ERR_POLLER'));
      return;
    }
    const out = this.out;
    for (let i = 0; i < count; i++) {
      const token = out[3 * i]!;
      const result = out[3 * i + 1]!;
      if (token === R.TOKEN_WAKEUP) continue;
      if (token >= POLL_BASE) this.pollDone(token - POLL_BASE, result);
      else this.opDone(token, result);
    }
    // Connects waiting for room: there is some now (a stale waiter is skipped by _wake).
    let waiters = this.slotWaiters.length;
    while (waiters-- > 0 && !this.closed && this.free.length > 0) {
      const w = this.slotWaiters.shift()!;
      this.host._wake(w.c, w.seq, -EAGAIN, false);
    }
    // Polls the ring had no room for: there is room now.
    let n = this.deferred.length;
    while (n-- > 0 && !this.closed) {
      const w = this.deferred.shift()!;
      if (w.reader !== null && !w.readFlight) this.arm(w, EV.READ);
      else if (w.writer !== null && !w.writeFlight) this.arm(w, EV.WRITE);
    }
  }

  private pollDone(key: number, result: number): void {
    const fd = key >>> 1;
    const dir = (key & 1) !== 0 ? EV.WRITE : EV.READ;
    const w = this.polls.get(fd);
    if (w === undefined) return;
    if (dir === EV.READ) w.readFlight = false;
    else w.writeFlight = false;
    const waiter = dir === EV.READ ? w.reader : w.writer;
    if (result === -ECANCELED) {
      // Cancelled for a waiter that left; a new one may have come since: poll for it.
      if (waiter !== null && live(waiter, dir === EV.READ ? w.readSeq : w.writeSeq)) this.arm(w, dir);
      else this.tidy(w);
      return;
    }
    this.end(w, dir, result >= 0 ? result : EV.ERROR);
    this.tidy(w);
  }

  private opDone(index: number, result: number): void {
    const s = this.slots[index];
    if (s === undefined) return;
    const c = s.c;
    const seq = s.seq;
    const kind = s.kind;
    const buf = s.buf;
    const owner = s.owner;
    if (s.registered) {
      this.ring.unregister(index);
      s.registered = false;
    }
    s.c = null;
    s.buf = null;
    s.owner = null;
    this.free.push(index);
    if (--this.opsWaiting === 0) this.host._refsChanged();
    if (c !== null && this.host._wake(c, seq, result, false)) return;
    // Nobody waits for it any more (terminated, or its socket was closed): its owner decides
    // what becomes of bytes received or an fd accepted.
    if (owner !== null) owner._orphaned(kind, result, buf, s.off);
  }
}
