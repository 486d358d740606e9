/**
 * One peer and the one connection to it: a send queue drained by a writer coroutine, a reader
 * coroutine that splits frames and hands them to the network, and the table of requests waiting
 * for an answer.
 *
 * Sending never makes a round trip and never makes a system call per message: `post` encodes the
 * frame straight into the pending batch, and the writer (woken once) sends the whole batch with
 * one write when the senders let it run. While one batch is being written, the next one fills
 * the other buffer. The batch is bounded (`maxQueueBytes`): `send` throws when it is full,
 * `deliver` and `drain()` wait for the writer to bring it below the low-water mark.
 *
 * The reader reads as much as the kernel has into one buffer and dispatches every complete frame
 * in it, so the receiving side also works in batches. A frame longer than `maxFrameSize`, or one
 * that does not decode, or one whose fields are not what its type says, closes this connection
 * (and only this one) and is counted.
 *
 * @module
 * @internal
 */
import type { Coro } from '../core/coro.js';
import { TimeoutError } from '../core/errors.js';
import { PENDING, Suspend, type Op } from '../core/op.js';
import { WaitQueue } from '../core/waitqueue.js';
import { suspend } from '../core/coro.js';
import { MessageTooLargeError } from '../io/errors.js';
import { decodeFrame, encodeFrame, errorToWire, F, isBadFrame, wireToError } from './codec.js';
import { PeerLostError, SendQueueFullError } from './errors.js';
import { remoteMonitorHooks, type MonitorTarget } from './monitor-seam.js';
import { RemoteChannel, RemoteCoro, type PeerLink } from './refs.js';
import type { Stream } from './auth.js';
import type { Network } from './network.js';

export const CONNECTING = 0;
export const ONLINE = 1;
export const OFFLINE = 2;

const INITIAL_BUFFER = 64 * 1024;

/** A request waiting for its answer. */
class RequestWait extends Suspend<unknown> {
  req = 0;
  constructor(
    public peer: Peer,
    readonly frame: unknown[],
    readonly timeout: number | undefined,
    readonly what: string,
    /** Made to whatever node is at the address, not to this incarnation (see Peer.handOver). */
    readonly byAddress: boolean,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    const p = this.peer;
    if (p.state === OFFLINE) throw new PeerLostError(this.what, p.location);
    const req = (p.nextReq = (p.nextReq + 1) & 0x3fffffff || 1);
    this.frame[1] = req;
    p.post(this.frame);
    this.req = req;
    p.reqs.set(req, { c, seq: c._q, wait: this });
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    this.peer.reqs.delete(this.req);
    throw new TimeoutError(this.what, this.timeout!);
  }
  override _cancel(): void {
    this.peer.reqs.delete(this.req);
  }

  /** Asks `to` instead (the peer is gone from the entry's table already). */
  moveTo(to: Peer, w: Waiting): void {
    this.peer = to;
    const req = (to.nextReq = (to.nextReq + 1) & 0x3fffffff || 1);
    this.frame[1] = req;
    this.req = req;
    to.reqs.set(req, w);
    try {
      to.post(this.frame);
    } catch (e) {
      to.reqs.delete(req);
      w.c._s._wake(w.c, w.seq, e, true);
    }
  }
}

/** A coroutine in a RequestWait. */
interface Waiting {
  c: Coro<unknown>;
  seq: number;
  wait: RequestWait;
}

/** Waits for the send queue to fall below the low-water mark. */
class DrainWait extends Suspend<void> {
  constructor(
    readonly peer: Peer,
    readonly timeout: number | undefined,
  ) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    const p = this.peer;
    if (p.state === OFFLINE) throw new PeerLostError('drain', p.location);
    if (p.queued() < p.lowWater) {
      // Below the mark, but with a batch pending: let the writer (and the other ready
      // coroutines) run first, so a sender that drains every few messages keeps the link busy.
      if (p.outLen === 0) return undefined;
      c._s._yieldNow(c);
      return PENDING;
    }
    p.drainers.push(c, c._q, undefined);
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    throw new TimeoutError(`drain of the send queue to ${this.peer.location}`, this.timeout!);
  }
}

/** Counters of one peer connection. */
export interface PeerStatistics {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Bytes queued and not yet written. */
  queued: number;
  /** Messages dropped because the peer was offline. */
  dropped: number;
  /** Requests waiting for an answer. */
  pending: number;
  /** Times this peer's connection was established. */
  connects: number;
}

export class Peer implements PeerLink {
  readonly net: Network;
  readonly host: string;
  readonly port: number;
  readonly location: string;
  incarnation: string;
  name = '';
  udpPort = 0;
  state: number = CONNECTING;
  /** The connection, while online. */
  stream: Stream | null = null;
  /** The TLS of the last connection (protocol, the peer certificate's subject), or null. */
  tls: { protocol: string; subject: string | null } | null = null;
  /** A dial loop runs for this peer. */
  dialing = false;
  /** It said goodbye: no redial. */
  bye = false;
  /** It was online once (a failed first dial forgets it). */
  everOnline = false;
  /** Local coroutines it sent frames to are held by the network; these are its proxies. */
  private readonly proxies = new Map<number, WeakRef<RemoteCoro>>();
  private readonly channels = new Map<string, RemoteChannel>();
  /** Monitors on this side of its coroutines: id → monitors. */
  readonly monitored = new Map<number, MonitorTarget[]>();

  // send side
  out: Buffer = Buffer.allocUnsafe(INITIAL_BUFFER);
  outLen = 0;
  private spare: Buffer = Buffer.allocUnsafe(INITIAL_BUFFER);
  /** Bytes handed to the writer and not yet written. */
  private inflight = 0;
  writer: Coro<unknown> | null = null;
  writerIdle = false;
  readonly drainers = new WaitQueue();
  readonly maxQueue: number;
  readonly lowWater: number;

  // requests
  nextReq = 0;
  readonly reqs = new Map<number, Waiting>();

  lastRecv = 0;
  lastSend = 0;
  stats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0, connects: 0 };

  constructor(net: Network, host: string, port: number, incarnation: string) {
    this.net = net;
    this.host = host;
    this.port = port;
    this.location = `${host}:${port}`;
    this.incarnation = incarnation;
    this.maxQueue = net.options.maxQueueBytes;
    this.lowWater = Math.max(64 * 1024, this.maxQueue >> 2);
  }

  get reachable(): boolean {
    return this.state !== OFFLINE;
  }

  queued(): number {
    return this.outLen + this.inflight;
  }

  /** The canonical proxy of coroutine `id` there. */
  proxy(id: number, name: string): RemoteCoro {
    const ref = this.proxies.get(id)?.deref();
    if (ref !== undefined) return ref;
    const p = new RemoteCoro(this, id, name);
    this.proxies.set(id, new WeakRef(p));
    this.net._proxyMade(this, id, p);
    return p;
  }

  /** @internal A proxy was collected. */
  _proxyGone(id: number): void {
    const r = this.proxies.get(id);
    if (r !== undefined && r.deref() === undefined) this.proxies.delete(id);
  }

  channel(name: string): RemoteChannel {
    let ch = this.channels.get(name);
    if (ch === undefined) this.channels.set(name, (ch = new RemoteChannel(this, name)));
    return ch;
  }

  forgetCoro(id: number): void {
    const p = this.proxies.get(id)?.deref();
    if (p !== undefined) p._dead = true;
  }

  watch(id: number, monitor: MonitorTarget): boolean {
    let list = this.monitored.get(id);
    if (list === undefined) this.monitored.set(id, (list = []));
    if (list.includes(monitor)) return false;
    list.push(monitor);
    return true;
  }

  unwatch(id: number, monitor: MonitorTarget): void {
    const list = this.monitored.get(id);
    if (list === undefined) return;
    const i = list.indexOf(monitor);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.monitored.delete(id);
  }

  // ---- sending ----

  post(frame: unknown[]): void {
    if (this.state === OFFLINE) {
      this.stats.dropped++;
      return;
    }
    const b = encodeFrame(this.net, frame);
    const n = b.length;
    if (n > this.net.options.maxFrameSize) throw new MessageTooLargeError(n, this.net.options.maxFrameSize);
    const end = this.outLen + 4 + n;
    if (end + this.inflight > this.maxQueue && this.outLen + this.inflight > 0) throw new SendQueueFullError(this.location, this.queued());
    if (end > this.out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(end, this.out.length * 2));
      this.out.copy(bigger, 0, 0, this.outLen);
      this.out = bigger;
    }
    const o = this.out;
    const at = this.outLen;
    o[at] = n >>> 24;
    o[at + 1] = (n >>> 16) & 255;
    o[at + 2] = (n >>> 8) & 255;
    o[at + 3] = n & 255;
    // TypedArray.set: no native call per frame, unlike Buffer.copy.
    o.set(b, at + 4);
    this.outLen = end;
    this.stats.framesOut++;
    if (this.writerIdle) {
      this.writerIdle = false;
      this.writer!.resume();
    }
  }

  /**
   * Sends request `frame` and waits for its answer. `byAddress`: the request is for whatever node
   * is at this address (a locate by location), so a restart hands it to the new incarnation
   * rather than failing it.
   */
  *request(frame: unknown[], timeout: number | undefined, what: string, byAddress = false): Generator<unknown, unknown, unknown> {
    if (this.state === OFFLINE) throw new PeerLostError(what, this.location);
    if (this.queued() >= this.maxQueue - this.lowWater) {
      const t0 = this.net.sched.clock.now();
      yield* this.drain(timeout);
      if (timeout !== undefined) timeout = Math.max(0, timeout - (this.net.sched.clock.now() - t0));
    }
    return yield* new RequestWait(this, frame, timeout, what, byAddress);
  }

  drain(timeout: number | undefined): Op<void> {
    return new DrainWait(this, timeout);
  }

  /** Answers request `req` of the peer. */
  reply(req: number, value: unknown): void {
    this.post([F.REPLY, req, value]);
  }

  fail(req: number, err: unknown): void {
    this.post([F.FAIL, req, errorToWire(err)]);
  }

  /** An answer came: wake whoever waits for it. */
  answered(req: number, value: unknown, isError: boolean): void {
    const w = this.reqs.get(req);
    if (w === undefined) return;
    this.reqs.delete(req);
    w.c._s._wake(w.c, w.seq, isError ? wireToError(this.location, value) : value, isError);
  }

  // ---- the connection ----

  /** Starts using `stream`: the reader and writer coroutines, and whatever was queued meanwhile. */
  attach(stream: Stream): void {
    this.stream = stream;
    this.state = ONLINE;
    this.everOnline = true;
    this.stats.connects++;
    this.lastRecv = this.lastSend = this.net.sched.clock.now();
    const net = this.net;
    const w = net.sched.spawn(writer, this, stream);
    w.daemon = true;
    this.writer = w;
    this.writerIdle = false;
    const r = net.sched.spawn(reader, this, stream);
    r.daemon = true;
  }

  /**
   * The connection is gone (`why`): the peer is offline. Queued messages are dropped; requests
   * waiting for answers, drains and monitors of its coroutines are told.
   */
  lose(why: string): void {
    if (this.state === OFFLINE) return;
    const wasOnline = this.state === ONLINE;
    this.state = OFFLINE;
    const s = this.stream;
    this.stream = null;
    if (s !== null) s.close();
    if (this.writer !== null && this.writerIdle) this.writer.resume();
    this.writer = null;
    this.writerIdle = false;
    this.outLen = 0;
    this.inflight = 0;
    const lost = new PeerLostError(why, this.location);
    const reqs = [...this.reqs.values()];
    this.reqs.clear();
    for (const w of reqs) w.c._s._wake(w.c, w.seq, lost, true);
    this.drainers.wakeAll(lost, true);
    const hooks = remoteMonitorHooks();
    const watched = [...this.monitored];
    this.monitored.clear();
    for (const [id, monitors] of watched) {
      const proxy = this.proxy(id, this.proxies.get(id)?.deref()?.name ?? 'coro');
      for (const m of monitors) {
        if (!m.isAlive) continue;
        // One monitor that fails (a channel's transform) does not keep the others from hearing.
        try {
          m.send(hooks.status(proxy, 'error', new PeerLostError(String(proxy), this.location)));
        } catch (e) {
          this.net.options.log(`monitor ${String(m)} failed: ${(e as Error).message}`);
        }
      }
    }
    this.net._peerLost(this, why, wasOnline);
  }

  /**
   * This incarnation is gone and `to`, a new one, answers at its address: the requests made to the
   * address rather than to this incarnation are asked again of `to` (their timeouts run on). Called
   * before `lose`, which fails the rest.
   */
  handOver(to: Peer): void {
    for (const [req, w] of this.reqs) {
      if (!w.wait.byAddress) continue;
      this.reqs.delete(req);
      w.wait.moveTo(to, w);
    }
  }

  /** The connection is being replaced by a newer one to the same peer: no notices, answers lost. */
  detach(): void {
    const s = this.stream;
    this.stream = null;
    if (s !== null) s.close();
    if (this.writer !== null && this.writerIdle) this.writer.resume();
    this.writer = null;
    this.writerIdle = false;
    this.inflight = 0;
    const lost = new PeerLostError('the connection was replaced', this.location);
    const reqs = [...this.reqs.values()];
    this.reqs.clear();
    for (const w of reqs) w.c._s._wake(w.c, w.seq, lost, true);
  }

  /** @internal The writer wrote `n` bytes. */
  _wrote(n: number): void {
    this.inflight -= n;
    this.stats.bytesOut += n;
    if (this.queued() < this.lowWater) this.drainers.wakeAll(undefined);
  }

  /** @internal The writer takes the pending batch. */
  _take(): [Buffer, number] {
    const buf = this.out;
    const n = this.outLen;
    // A batch buffer that grew for a burst goes back to the initial size once the burst is out.
    this.out = this.spare.length > 4 * INITIAL_BUFFER ? Buffer.allocUnsafe(INITIAL_BUFFER) : this.spare;
    this.spare = buf;
    this.outLen = 0;
    this.inflight += n;
    return [buf, n];
  }

  statistics(): PeerStatistics {
    return { ...this.stats, queued: this.queued(), pending: this.reqs.size };
  }

  toString(): string {
    return `Peer(${this.name || '?'}@${this.location})`;
  }
}

/** Drains the peer's send queue into the stream, a batch per write. */
function* writer(this: Coro<unknown>, peer: Peer, stream: Stream): Generator<unknown, void, unknown> {
  try {
    for (;;) {
      if (peer.stream !== stream) return;
      if (peer.outLen === 0) {
        peer.writerIdle = true;
        yield* suspend();
        continue;
      }
      const [buf, n] = peer._take();
      yield* stream.sendall(buf.subarray(0, n));
      peer.lastSend = peer.net.sched.clock.now();
      peer._wrote(n);
    }
  } catch (e) {
    if (peer.stream === stream) peer.lose(`write failed: ${(e as Error).message}`);
  }
}

/** Reads frames and hands them to the network, every complete frame of a read at once. */
function* reader(this: Coro<unknown>, peer: Peer, stream: Stream): Generator<unknown, void, unknown> {
  const net = peer.net;
  const max = net.options.maxFrameSize;
  let buf = Buffer.allocUnsafe(INITIAL_BUFFER);
  let start = 0;
  let end = 0;
  let why = 'the connection was closed';
  try {
    for (;;) {
      const got = yield* stream.recvInto(buf, end, buf.length - end);
      if (got === 0) {
        why = 'the connection was closed by the peer';
        break;
      }
      end += got;
      peer.stats.bytesIn += got;
      peer.lastRecv = net.sched.clock.now();
      while (end - start >= 4) {
        const len = buf.readUInt32BE(start);
        if (len > max) {
          net._refused(peer, 'oversized', `a frame of ${len} bytes (the limit is ${max})`);
          return;
        }
        if (end - start - 4 < len) {
          if (4 + len > buf.length - start) {
            // The frame does not fit behind `start`: move it to the front of a buffer that holds it.
            const next = 4 + len > buf.length ? Buffer.allocUnsafe(Math.max(4 + len, buf.length)) : buf;
            buf.copy(next, 0, start, end);
            buf = next;
            end -= start;
            start = 0;
          }
          break;
        }
        let frame: unknown[];
        try {
          frame = decodeFrame(net, buf, start + 4, start + 4 + len);
        } catch (e) {
          net._refused(peer, 'malformed', `a frame that does not decode (${(e as Error).message})`);
          return;
        }
        start += 4 + len;
        peer.stats.framesIn++;
        try {
          net._dispatch(peer, frame);
        } catch (e) {
          // The network runs user code (transforms, subscribers) under its own try; what reaches
          // here is a frame whose fields are not what its type says.
          if (isBadFrame(e)) {
            net._refused(peer, 'malformed', `a bad frame (${(e as Error).message})`);
            return;
          }
          throw e;
        }
        if (peer.stream !== stream) return;
      }
      if (start === end) start = end = 0;
      else if (end === buf.length) {
        buf.copy(buf, 0, start, end);
        end -= start;
        start = 0;
      }
      // A buffer that grew for one large frame goes back to the initial size.
      if (start === end && buf.length > 4 * INITIAL_BUFFER) buf = Buffer.allocUnsafe(INITIAL_BUFFER);
    }
  } catch (e) {
    why = `read failed: ${(e as Error).message}`;
  }
  if (peer.stream === stream) peer.lose(why);
}
