/**
 * The completion contract suite on io_uring (native/completion.h, native/uring.cc, the Ring
 * adapter in native/js_ring.cc): every test runs in every mode the Ring has (`Ring.modes`).
 * Skipped as a whole, with the reason, where this host cannot open a ring (`ringProbe()`).
 */
import { expect } from 'chai';
import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchCollector } from '../helpers/batches.js';
import { runChild, type ChildResult } from '../helpers/child.js';
import { native } from '../../lib/native/binding.js';
import type { NativeRing, RingMode, RingOptions } from '../../lib/native/types.js';
import { closeAll, closeFd, drain, fill, pipePair, socketPair } from '../helpers/native.js';

const E = native.errno;
const R = native.ring;
const EV = native.events;
const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..') + '/';
const fixture = join(here, '..', 'fixtures', 'ring-child.ts');
const probe = native.ringProbe();

interface Completion {
  token: number;
  result: number;
  flags: number;
}
const kind = (c: Completion) => c.flags & R.KIND_MASK;
const byToken = (all: Completion[], token: number) => all.filter((c) => c.token === token);
const userOnly = (all: Completion[]) => all.filter((c) => c.token !== R.TOKEN_WAKEUP);

const S = native.sockets;
/** Fds of the socket tests, closed after each test. */
const tracked: number[] = [];
function track(fd: number): number {
  expect(fd, native.strerror(fd)).to.be.at.least(0);
  tracked.push(fd);
  return fd;
}
function closeTracked(fd?: number): void {
  for (const f of fd === undefined ? tracked.splice(0) : tracked.splice(tracked.indexOf(fd), 1)) native.close(f);
}
function addr(family: number, host: string, port = 0): Uint8Array {
  const out = new Uint8Array(S.ADDR_BYTES);
  expect(native.sockaddr(out, family, host, port)).to.equal(0);
  return out;
}
function nameOf(fd: number, peer = false) {
  const out = new Uint8Array(S.ADDR_BYTES);
  expect(peer ? native.getpeername(fd, out) : native.getsockname(fd, out)).to.equal(0);
  return native.decodeAddress(out);
}
function listener(family: number, host: string): { fd: number; port: number } {
  const fd = track(native.socket(family, S.SOCK_STREAM));
  expect(native.setsockopt(fd, S.SOL_SOCKET, S.SO_REUSEADDR, 1)).to.equal(0);
  expect(native.bind(fd, addr(family, host))).to.equal(0);
  expect(native.listen(fd, 128)).to.equal(0);
  const name = nameOf(fd);
  if (typeof name === 'number' || name.family === 'unix') throw new Error('no name');
  return { fd, port: name.port };
}

/** A ring in either mode with one way to wait for its next batch, like the poller Harness. */
class RingHarness extends BatchCollector<Completion> {
  readonly ring: NativeRing;
  readonly completions: Int32Array;
  /** Every batch size delivered, for the batching tests. */
  readonly sizes: number[] = [];
  errors: number[] = [];

  declare readonly mode: RingMode;

  constructor(mode: RingMode, capacity = 64, options: RingOptions = {}) {
    super(mode, 3000);
    this.completions = new Int32Array(3 * capacity);
    // Exclusive mode gets a handler too, so close() can hand over the last completions.
    this.ring = new native.Ring(mode, this.completions, (n) => this.onCompletions(n), options);
  }

  private copy(count: number): Completion[] {
    const out: Completion[] = [];
    const c = this.completions;
    for (let i = 0; i < count; i++) out.push({ token: c[3 * i]!, result: c[3 * i + 1]!, flags: c[3 * i + 2]! });
    return out;
  }

  private onCompletions(count: number): void {
    if (count < 0) {
      this.errors.push(count);
      return;
    }
    this.sizes.push(count);
    this.deliver(this.copy(count));
  }

  protected waitSync(timeoutMs: number): Completion[] {
    const n = this.ring.wait(timeoutMs);
    if (n < 0) throw new Error(`wait: ${native.strerror(n)}`);
    if (n > 0) this.sizes.push(n);
    return this.copy(n);
  }

  /** Waits until `n` user completions have arrived. */
  count(n: number, timeoutMs = 3000): Promise<Completion[]> {
    return this.until((all) => userOnly(all).length >= n, timeoutMs).then(userOnly);
  }

  close(): void {
    this.ring.close();
  }
}

function checksum(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

if (probe !== 0) {
  describe('io_uring completion contract', () => {
    it(`is skipped: this host cannot open a ring (${native.errnoName(probe)})`, function () {
      this.skip();
    });
  });
}

describe('io_uring: availability and construction', () => {
  it('ringProbe() returns 0 or -errno, and a ring opens exactly when it is 0', () => {
    expect(probe).to.be.at.most(0);
    const make = () => new native.Ring('exclusive', new Int32Array(3));
    if (probe === 0) make().close();
    else expect(make).to.throw();
  });

  it('says which modes exist, and refuses thread mode and bad arguments by throwing', () => {
    expect(native.Ring.modes).to.deep.equal(['integrated', 'exclusive']);
    const arr = new Int32Array(30);
    expect(() => new native.Ring('thread' as RingMode, arr, () => {})).to.throw(TypeError, /thread/);
    expect(() => new native.Ring('integrated', arr)).to.throw(TypeError, /onCompletions/);
    expect(() => new native.Ring('exclusive', new Int32Array(2))).to.throw(TypeError);
    expect(() => new native.Ring('exclusive', new Uint32Array(30) as unknown as Int32Array)).to.throw(TypeError);
    expect(() => new native.Ring('exclusive', arr, undefined, { entries: 0 })).to.throw(TypeError);
    expect(() => new native.Ring('exclusive', arr, undefined, { maxOps: 1.5 })).to.throw(TypeError);
  });

  (probe === 0 ? it : it.skip)('announces a pollable fd and every operation on this kernel', () => {
    const r = new native.Ring('exclusive', new Int32Array(3));
    expect(r.features & R.FEAT_POLLABLE_FD).to.equal(R.FEAT_POLLABLE_FD);
    for (const op of [R.OP_RECV, R.OP_SEND, R.OP_READ, R.OP_WRITE, R.OP_ACCEPT, R.OP_CONNECT, R.OP_POLL, R.OP_RECVFROM, R.OP_SENDTO]) {
      expect(r.ops & (1 << op), `op ${op}`).to.equal(1 << op);
    }
    expect(r.fd).to.be.at.least(0);
    expect(r.wakeupFd).to.be.at.least(0);
    expect([r.capacity, r.slots, r.maxOps, r.inFlight, r.queued]).to.deep.equal([1, 64, 4096, 0, 0]);
    r.close();
  });

  it('is not listed among the readiness backends', () => {
    expect(native.backends().map((b) => b.name)).to.not.include('io_uring');
  });
});

for (const mode of probe === 0 ? native.Ring.modes : []) {
  describe(`io_uring completion contract: ${mode}`, function () {
    let h: RingHarness;
    beforeEach(() => {
      h = new RingHarness(mode, 64);
    });
    afterEach(() => {
      h.close();
      closeAll();
      closeTracked();
    });

    it('recv on a socket pair: the bytes land at the slot offset, one completion with its kind', async () => {
      const [a, b] = socketPair();
      const buf = Buffer.alloc(64);
      expect(h.ring.register(0, buf)).to.equal(0);
      expect(h.ring.recv(11, a, 0, 8, 32)).to.equal(0);
      expect(h.ring.inFlight).to.equal(1);
      expect(userOnly(await h.next(60))).to.deep.equal([]);
      expect(native.write(b, Buffer.from('hello'), 0, 5)).to.equal(5);
      const got = await h.count(1);
      expect(got).to.deep.equal([{ token: 11, result: 5, flags: R.OP_RECV }]);
      expect(buf.subarray(8, 13).toString()).to.equal('hello');
      expect(buf[7]).to.equal(0);
      expect(h.ring.inFlight).to.equal(0);
    });

    it('send on a socket pair, and a partial recv when less is available than asked', async () => {
      const [a, b] = socketPair();
      const out = Buffer.from('0123456789');
      const inp = Buffer.alloc(100);
      h.ring.register(1, out);
      h.ring.register(2, inp);
      expect(h.ring.send(1, a, 1, 2, 6)).to.equal(0);
      const sent = await h.count(1);
      expect(sent).to.deep.equal([{ token: 1, result: 6, flags: R.OP_SEND }]);
      expect(h.ring.recv(2, b, 2, 0, 100)).to.equal(0);
      const got = await h.count(1);
      expect(got).to.deep.equal([{ token: 2, result: 6, flags: R.OP_RECV }]);
      expect(inp.subarray(0, 6).toString()).to.equal('234567');
    });

    it('read and write on a pipe, and poll readiness of a pipe with hang-up', async () => {
      const [r, w] = pipePair();
      const buf = Buffer.alloc(16);
      const src = Buffer.from('pipe data');
      h.ring.register(0, buf);
      h.ring.register(1, src);
      expect(h.ring.read(5, r, 0, 0, 16)).to.equal(0);
      expect(h.ring.write(6, w, 1, 0, src.length)).to.equal(0);
      const got = await h.count(2);
      expect(byToken(got, 6)).to.deep.equal([{ token: 6, result: src.length, flags: R.OP_WRITE }]);
      expect(byToken(got, 5)).to.deep.equal([{ token: 5, result: src.length, flags: R.OP_READ }]);
      expect(buf.subarray(0, src.length).toString()).to.equal('pipe data');

      expect(h.ring.poll(7, r, EV.READ)).to.equal(0);
      expect(userOnly(await h.next(60))).to.deep.equal([]);
      native.write(w, Buffer.from('x'), 0, 1);
      const ready = await h.count(1);
      expect(ready).to.deep.equal([{ token: 7, result: EV.READ, flags: R.OP_POLL }]);
      expect(h.ring.poll(8, r, EV.READ)).to.equal(0);
      closeFd(w);
      const hup = await h.count(1);
      expect(hup[0]!.token).to.equal(8);
      expect(hup[0]!.result & EV.HANGUP).to.equal(EV.HANGUP);
    });

    it('polls write readiness: at once on an empty socket, only after draining a full one', async () => {
      const [a, b] = socketPair();
      expect(h.ring.poll(1, a, EV.WRITE | EV.READ)).to.equal(0);
      expect(await h.count(1)).to.deep.equal([{ token: 1, result: EV.WRITE, flags: R.OP_POLL }]);
      expect(fill(a)).to.be.greaterThan(0);
      expect(h.ring.poll(2, a, EV.WRITE)).to.equal(0);
      expect(userOnly(await h.next(80))).to.deep.equal([]);
      drain(b);
      const got = await h.count(1);
      expect(got[0]!.token).to.equal(2);
      expect(got[0]!.result & EV.WRITE).to.equal(EV.WRITE);
    });

    it('reports EOF as 0 and a send to a closed peer as -EPIPE (no SIGPIPE)', async () => {
      const [a, b] = socketPair();
      const buf = Buffer.alloc(16, 1);
      h.ring.register(0, buf);
      expect(h.ring.recv(1, a, 0, 0, 16)).to.equal(0);
      closeFd(b);
      expect(await h.count(1)).to.deep.equal([{ token: 1, result: 0, flags: R.OP_RECV }]);
      expect(h.ring.send(2, a, 0, 0, 16)).to.equal(0);
      expect(await h.count(1)).to.deep.equal([{ token: 2, result: -E.EPIPE!, flags: R.OP_SEND }]);
    });

    it('moves 8 MB through a socket pair with partial sends and recvs, intact', async function () {
      this.timeout(30000);
      const [a, b] = socketPair();
      const size = 8 * 1024 * 1024;
      const src = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4) src.writeUInt32LE((i * 2654435761) >>> 0, i);
      const dst = Buffer.alloc(size);
      h.ring.register(0, src);
      h.ring.register(1, dst);
      let sent = 0;
      let received = 0;
      let partialSends = 0;
      let partialRecvs = 0;
      const chunk = 1 << 20;
      expect(h.ring.send(1, a, 0, 0, size)).to.equal(0);
      expect(h.ring.recv(2, b, 1, 0, chunk)).to.equal(0);
      const deadline = Date.now() + 20000;
      while ((sent < size || received < size) && Date.now() < deadline) {
        for (const c of userOnly(await h.next(500))) {
          expect(c.result, native.strerror(c.result)).to.be.greaterThan(0);
          if (c.token === 1) {
            sent += c.result;
            if (sent < size) {
              partialSends++;
              expect(h.ring.send(1, a, 0, sent, size - sent)).to.equal(0);
            }
          } else {
            received += c.result;
            if (c.result < chunk) partialRecvs++;
            if (received < size) {
              expect(h.ring.recv(2, b, 1, received, Math.min(chunk, size - received))).to.equal(0);
            }
          }
        }
      }
      expect(sent).to.equal(size);
      expect(received).to.equal(size);
      expect(checksum(dst)).to.equal(checksum(src));
      // A socket pair holds far less than 8 MB, so the transfer cannot have been one piece.
      expect(partialSends + partialRecvs).to.be.greaterThan(0);
    });

    it('produces exactly one completion per operation, over many fds and tokens', async () => {
      const n = 300;
      const buf = Buffer.alloc(n * 4);
      h.ring.register(0, buf);
      const pairs: [number, number][] = [];
      for (let i = 0; i < n; i++) {
        const p = socketPair();
        pairs.push(p);
        expect(h.ring.recv(1000 + i, p[0], 0, i * 4, 4)).to.equal(0);
      }
      expect(h.ring.inFlight).to.equal(n);
      // Half get data, a quarter are cancelled, a quarter see EOF.
      for (let i = 0; i < n; i++) {
        const [, w] = pairs[i]!;
        if (i % 4 < 2) native.write(w, Buffer.from([i & 255, 1, 2, 3]), 0, 4);
        else if (i % 4 === 2) expect(h.ring.cancel(1000 + i)).to.equal(0);
        else closeFd(w);
      }
      const got = await h.count(n, 5000);
      expect(got).to.have.length(n);
      const seen = new Set(got.map((c) => c.token));
      expect(seen.size).to.equal(n);
      for (const c of got) {
        const i = c.token - 1000;
        if (i % 4 < 2) expect(c.result).to.equal(4);
        else if (i % 4 === 2) {
          expect(c.result).to.equal(-E.ECANCELED!);
          expect(c.flags & R.CANCEL_REQUESTED).to.equal(R.CANCEL_REQUESTED);
        } else expect(c.result).to.equal(0);
      }
      expect(h.ring.inFlight).to.equal(0);
      expect(userOnly(await h.next(100))).to.deep.equal([]);
    });

    it('splits more completions than the array holds into batches that fit', async () => {
      h.close();
      h = new RingHarness(mode, 4);
      const buf = Buffer.alloc(64);
      h.ring.register(0, buf);
      for (let i = 0; i < 50; i++) {
        const [a, b] = socketPair();
        native.write(b, Buffer.from('z'), 0, 1);
        expect(h.ring.recv(i, a, 0, i, 1)).to.equal(0);
      }
      const got = await h.count(50);
      expect(new Set(got.map((c) => c.token)).size).to.equal(50);
      expect(h.sizes.every((s) => s >= 1 && s <= 4)).to.equal(true);
      expect(h.sizes.length).to.be.at.least(13);
    });

    it('flushes a full submission queue itself, and keeps completions a small CQ cannot hold', async () => {
      h.close();
      h = new RingHarness(mode, 256, { entries: 2, cqEntries: 4, maxOps: 200 });
      const buf = Buffer.alloc(200);
      h.ring.register(0, buf);
      for (let i = 0; i < 120; i++) {
        const [a, b] = socketPair();
        native.write(b, Buffer.from('q'), 0, 1);
        // Two SQ entries: every third call finds the queue full and flushes it.
        expect(h.ring.recv(i, a, 0, i, 1)).to.equal(0);
        expect(h.ring.queued).to.be.at.most(2);
      }
      // 120 completions into a 4-entry CQ: the kernel keeps the overflow (NODROP) and
      // collect() brings it in.
      const got = await h.count(120, 5000);
      expect(got).to.have.length(120);
      expect(new Set(got.map((c) => c.token)).size).to.equal(120);
      expect(got.every((c) => c.result === 1)).to.equal(true);
      expect(buf.subarray(0, 120).toString()).to.equal('q'.repeat(120));
    });

    it('cancels a pending recv with -ECANCELED; unknown tokens are -ENOENT; a second cancel adds nothing', async () => {
      const [a] = socketPair();
      const buf = Buffer.alloc(8);
      h.ring.register(0, buf);
      expect(h.ring.recv(3, a, 0, 0, 8)).to.equal(0);
      expect(h.ring.submit()).to.be.at.least(1);
      expect(h.ring.cancel(3)).to.equal(0);
      expect(h.ring.cancel(3)).to.equal(0);
      expect(h.ring.cancel(4)).to.equal(-E.ENOENT!);
      expect(h.ring.cancel(-5)).to.equal(-E.EINVAL!);
      const got = await h.count(1);
      expect(got).to.deep.equal([{ token: 3, result: -E.ECANCELED!, flags: R.OP_RECV | R.CANCEL_REQUESTED }]);
      expect(userOnly(await h.next(100))).to.deep.equal([]);
      expect(h.ring.cancel(3)).to.equal(-E.ENOENT!);
      // A token is free again once its completion was delivered.
      expect(h.ring.recv(3, a, 0, 0, 8)).to.equal(0);
      expect(h.ring.cancel(3)).to.equal(0);
      expect(await h.count(1)).to.have.length(1);
    });

    it('cancels an operation still queued (never submitted) just the same', async () => {
      const [a] = socketPair();
      h.ring.register(0, Buffer.alloc(8));
      expect(h.ring.recv(9, a, 0, 0, 8)).to.equal(0);
      expect(h.ring.cancel(9)).to.equal(0);
      expect(await h.count(1)).to.deep.equal([
        { token: 9, result: -E.ECANCELED!, flags: R.OP_RECV | R.CANCEL_REQUESTED },
      ]);
    });

    it('returns misuse as -errno, never throws, and reports a bad fd as a completion', async () => {
      const [a] = socketPair();
      const buf = Buffer.alloc(16);
      const r = h.ring;
      expect(r.register(64, buf)).to.equal(-E.EINVAL!); // 64 slots: 0..63
      expect(r.register(-1, buf)).to.equal(-E.EINVAL!);
      expect(r.register(0, new Uint16Array(4) as unknown as Uint8Array)).to.equal(-E.EINVAL!);
      expect(r.register(0, new Uint8Array(0))).to.equal(-E.EINVAL!);
      expect(r.unregister(0)).to.equal(-E.ENOENT!);
      expect(r.recv(1, a, 0, 0, 1)).to.equal(-E.ENOENT!);
      expect(r.register(0, buf)).to.equal(0);
      expect(r.register(0, buf)).to.equal(-E.EEXIST!);
      expect(r.recv(1, a, 0, 10, 7)).to.equal(-E.EINVAL!); // past the end of the slot
      expect(r.recv(1, a, 0, 17, 0)).to.equal(-E.EINVAL!);
      expect(r.recv(1, a, 70, 0, 1)).to.equal(-E.EINVAL!);
      expect(r.recv(-2, a, 0, 0, 1)).to.equal(-E.EINVAL!);
      expect(r.poll(1, a, 0)).to.equal(-E.EINVAL!);
      expect(r.poll(1, a, EV.EDGE)).to.equal(-E.EINVAL!);
      expect(r.connect(1, a, new Uint8Array(1))).to.equal(-E.EINVAL!);
      expect(r.connect(1, a, new Uint8Array(200))).to.equal(-E.EINVAL!);
      expect((r.recv as (...args: unknown[]) => number)('x', a, 0, 0, 1)).to.equal(-E.EINVAL!);
      expect(r.inFlight).to.equal(0);
      expect(r.recv(1, a, 0, 0, 16)).to.equal(0);
      expect(r.recv(1, a, 0, 0, 16)).to.equal(-E.EEXIST!); // token already in flight
      expect(r.unregister(0)).to.equal(-E.EBUSY!);
      expect(r.recv(2, 1_000_000, 0, 0, 16)).to.equal(0);
      const bad = await h.count(1);
      expect(bad).to.deep.equal([{ token: 2, result: -E.EBADF!, flags: R.OP_RECV }]);
      expect(r.cancel(1)).to.equal(0);
      await h.count(1);
      expect(r.unregister(0)).to.equal(0);
      expect(r.unregister(0)).to.equal(-E.ENOENT!);
    });

    it('refuses operations beyond maxOps with -ENOBUFS until one completes', async () => {
      h.close();
      h = new RingHarness(mode, 16, { maxOps: 3 });
      const [a, b] = socketPair();
      h.ring.register(0, Buffer.alloc(8));
      for (let i = 0; i < 3; i++) expect(h.ring.recv(i, a, 0, i, 1)).to.equal(0);
      expect(h.ring.recv(3, a, 0, 3, 1)).to.equal(-E.ENOBUFS!);
      native.write(b, Buffer.from('A'), 0, 1);
      await h.count(1);
      expect(h.ring.recv(3, a, 0, 3, 1)).to.equal(0);
      expect(h.ring.inFlight).to.equal(3);
    });

    it('wakeup() reports one TOKEN_WAKEUP triple, coalescing repeated calls', async () => {
      expect(h.ring.wakeup()).to.equal(0);
      expect(h.ring.wakeup()).to.equal(0);
      const got = await h.until((all) => all.length > 0);
      expect(got).to.deep.equal([{ token: R.TOKEN_WAKEUP, result: 0, flags: 0 }]);
      expect(await h.next(80)).to.deep.equal([]);
      // And it is re-armed: a later wake-up is reported again.
      expect(h.ring.wakeup()).to.equal(0);
      expect(await h.until((all) => all.length > 0)).to.deep.equal([{ token: R.TOKEN_WAKEUP, result: 0, flags: 0 }]);
    });

    it('is woken from another thread through wakeupFd', async () => {
      const worker = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         const native = require(workerData.root + 'node_modules/node-gyp-build')(workerData.root);
         setTimeout(() => parentPort.postMessage(native.wakeup(workerData.fd)), 50);`,
        { eval: true, workerData: { fd: h.ring.wakeupFd, root } },
      );
      const rc = new Promise<number>((resolve) => worker.once('message', resolve));
      const started = Date.now();
      // In exclusive mode this thread sleeps in wait(); only the worker's write can end it.
      const got = await h.until((all) => all.length > 0, 5000);
      expect(await rc).to.equal(0);
      expect(Date.now() - started).to.be.below(4000);
      expect(got.map((c) => c.token)).to.deep.equal([R.TOKEN_WAKEUP]);
      await worker.terminate();
    });

    it('close() with operations in flight hands each its completion, then refuses everything', async () => {
      const buf = Buffer.alloc(64);
      h.ring.register(0, buf);
      const fds: number[] = [];
      for (let i = 0; i < 10; i++) {
        const [a] = socketPair();
        fds.push(a);
        expect(h.ring.recv(i, a, 0, i, 1)).to.equal(0);
      }
      const [r] = pipePair();
      expect(h.ring.poll(10, r, EV.READ)).to.equal(0);
      h.ring.submit();
      // Two more that never reached the kernel before close().
      expect(h.ring.recv(11, fds[0]!, 0, 20, 1)).to.equal(0);
      expect(h.ring.recv(12, fds[1]!, 0, 21, 1)).to.equal(0);
      h.ring.close();
      const got = userOnly(h.takeQueued());
      expect(got.map((c) => c.token).sort((x, y) => x - y)).to.deep.equal([...Array(13).keys()]);
      expect(got.every((c) => c.result === -E.ECANCELED!)).to.equal(true);
      expect(h.ring.closed).to.equal(true);
      expect(h.ring.inFlight).to.equal(0);
      h.ring.close();
      expect(h.ring.recv(20, fds[0]!, 0, 0, 1)).to.equal(-E.EBADF!);
      expect(h.ring.register(1, buf)).to.equal(-E.EBADF!);
      expect(h.ring.cancel(1)).to.equal(-E.EBADF!);
      expect(h.ring.submit()).to.equal(-E.EBADF!);
      expect(h.ring.wakeup()).to.equal(-E.EBADF!);
      expect(h.ring.wait(0)).to.equal(-E.EBADF!);
      expect(h.ring.fd).to.equal(-1);
    });

    it('close() still finishes when the handler throws on a last completion, and rethrows it', () => {
      const [a] = socketPair();
      const arr = new Int32Array(3);
      const tokens: number[] = [];
      const ring = new native.Ring(mode, arr, () => {
        tokens.push(arr[0]!);
        throw new Error('handler failed in close');
      });
      ring.register(0, Buffer.alloc(4));
      for (let i = 0; i < 3; i++) expect(ring.recv(i, a, 0, i, 1)).to.equal(0);
      expect(() => ring.close()).to.throw('handler failed in close');
      // One completion per batch of this one-triple array: all three were handed over.
      expect(tokens.sort()).to.deep.equal([0, 1, 2]);
      expect(ring.closed).to.equal(true);
      expect(ring.inFlight).to.equal(0);
      expect(() => ring.close()).to.not.throw();
    });

    for (const [family, host, label] of [
      [S.AF_INET, '127.0.0.1', 'IPv4'],
      [S.AF_INET6, '::1', 'IPv6'],
    ] as const) {
      it(`accept and connect over TCP ${label} (${host}), then data both ways`, async () => {
        const l = listener(family, host);
        const c = track(native.socket(family, S.SOCK_STREAM));
        expect(h.ring.accept(1, l.fd)).to.equal(0);
        expect(h.ring.connect(2, c, addr(family, host, l.port))).to.equal(0);
        const got = await h.count(2);
        const acc = byToken(got, 1)[0]!;
        expect(byToken(got, 2)).to.deep.equal([{ token: 2, result: 0, flags: R.OP_CONNECT }]);
        expect(kind(acc)).to.equal(R.OP_ACCEPT);
        const a = track(acc.result);
        expect(a, native.strerror(acc.result)).to.be.at.least(0);
        // The accepted fd is the connection from c, and non-blocking: a read finds nothing yet.
        expect(nameOf(a, true)).to.deep.equal(nameOf(c));
        expect(native.read(a, Buffer.alloc(1), 0, 1)).to.equal(-E.EAGAIN!);
        const ping = Buffer.from('ping over ' + label);
        const pong = Buffer.alloc(64);
        h.ring.register(0, ping);
        h.ring.register(1, pong);
        expect(h.ring.send(3, c, 0, 0, ping.length)).to.equal(0);
        expect(h.ring.recv(4, a, 1, 0, 64)).to.equal(0);
        const io = await h.count(2);
        expect(byToken(io, 3)[0]!.result).to.equal(ping.length);
        expect(byToken(io, 4)[0]!.result).to.equal(ping.length);
        expect(pong.subarray(0, ping.length).toString()).to.equal(ping.toString());
        expect(h.ring.send(5, a, 1, 0, 4)).to.equal(0);
        expect(h.ring.recv(6, c, 1, 10, 4)).to.equal(0);
        const back = await h.count(2);
        expect(byToken(back, 6)[0]!.result).to.equal(4);
        expect(pong.subarray(10, 14).toString()).to.equal('ping');
      });

      it(`recvfrom and sendto over UDP ${label} (${host}): the datagram and its sender's address`, async () => {
        const a = track(native.socket(family, S.SOCK_DGRAM));
        const b = track(native.socket(family, S.SOCK_DGRAM));
        expect(native.bind(a, addr(family, host))).to.equal(0);
        expect(native.bind(b, addr(family, host))).to.equal(0);
        const aName = nameOf(a);
        const bName = nameOf(b);
        if (typeof bName === 'number' || bName.family === 'unix') throw new Error('no name');
        // One slot holds the datagram at [0, 64) and the sender's address right after it.
        const inp = Buffer.alloc(64 + R.ADDR_BYTES, 0xee);
        const out = Buffer.from('datagram over ' + label);
        h.ring.register(0, inp);
        h.ring.register(1, out);
        expect(h.ring.recvfrom(1, b, 0, 0, 64, 64)).to.equal(0);
        expect(userOnly(await h.next(60))).to.deep.equal([]);
        const to = addr(family, host, bName.port);
        expect(h.ring.sendto(2, a, 1, 0, out.length, to)).to.equal(0);
        // The ring copied the address: the caller's buffer can be reused at once.
        to.fill(0);
        const got = await h.count(2);
        expect(byToken(got, 2)).to.deep.equal([{ token: 2, result: out.length, flags: R.OP_SENDTO }]);
        expect(byToken(got, 1)).to.deep.equal([{ token: 1, result: out.length, flags: R.OP_RECVFROM }]);
        expect(inp.subarray(0, out.length).toString()).to.equal(out.toString());
        expect(native.decodeAddress(inp.subarray(64))).to.deep.equal(aName);
        // A datagram longer than the range is cut to it; ranges that overlap or leave no room for
        // the address are refused.
        expect(h.ring.recvfrom(3, b, 0, 0, 4, 64)).to.equal(0);
        expect(h.ring.sendto(4, a, 1, 0, out.length, addr(family, host, bName.port))).to.equal(0);
        const cut = await h.count(2);
        expect(byToken(cut, 3)[0]!.result).to.equal(4);
        expect(h.ring.recvfrom(5, b, 0, 0, 64, 32)).to.equal(-E.EINVAL!);
        expect(h.ring.recvfrom(5, b, 0, 0, 8, 64 + 1)).to.equal(-E.EINVAL!);
        expect(h.ring.sendto(5, a, 1, 0, 1, new Uint8Array(4))).to.equal(-E.EINVAL!);
      });

      it(`reports a refused TCP ${label} connect as -ECONNREFUSED, and cancels a pending accept`, async () => {
        // A port that was just ours and has no listener now.
        const gone = listener(family, host);
        closeTracked(gone.fd);
        const c = track(native.socket(family, S.SOCK_STREAM));
        expect(h.ring.connect(1, c, addr(family, host, gone.port))).to.equal(0);
        expect(await h.count(1)).to.deep.equal([{ token: 1, result: -E.ECONNREFUSED!, flags: R.OP_CONNECT }]);
        const l = listener(family, host);
        expect(h.ring.accept(2, l.fd)).to.equal(0);
        expect(userOnly(await h.next(60))).to.deep.equal([]);
        expect(h.ring.cancel(2)).to.equal(0);
        expect(await h.count(1)).to.deep.equal([
          { token: 2, result: -E.ECANCELED!, flags: R.OP_ACCEPT | R.CANCEL_REQUESTED },
        ]);
      });
    }

    it('many accepts in flight on one listener each get their own connection', async () => {
      const l = listener(S.AF_INET, '127.0.0.1');
      const n = 40;
      for (let i = 0; i < n; i++) expect(h.ring.accept(i, l.fd)).to.equal(0);
      const to = addr(S.AF_INET, '127.0.0.1', l.port);
      for (let i = 0; i < n; i++) {
        const c = track(native.socket(S.AF_INET, S.SOCK_STREAM));
        expect(h.ring.connect(100 + i, c, to)).to.equal(0);
      }
      const got = await h.count(2 * n, 5000);
      const accepted = got.filter((c) => kind(c) === R.OP_ACCEPT);
      const connects = got.filter((c) => kind(c) === R.OP_CONNECT);
      expect(connects.every((c) => c.result === 0)).to.equal(true);
      expect(accepted).to.have.length(n);
      const newFds = accepted.map((c) => track(c.result));
      expect(new Set(newFds).size).to.equal(n);
      expect(new Set(accepted.map((c) => c.token)).size).to.equal(n);
    });

    if (mode === 'exclusive') {
      for (const timeoutOp of [false, true]) {
        it(`wait() honours its timeout and returns at once with 0 (${timeoutOp ? 'timeout operation, as before 5.11' : 'EXT_ARG'})`, () => {
          h.close();
          h = new RingHarness(mode, 16, { timeoutOp });
          expect(h.ring.features & R.FEAT_WAIT_TIMEOUT).to.equal(timeoutOp ? 0 : R.FEAT_WAIT_TIMEOUT);
          const t0 = process.hrtime.bigint();
          expect(h.ring.wait(0)).to.equal(0);
          const t1 = process.hrtime.bigint();
          expect(h.ring.wait(60)).to.equal(0);
          const t2 = process.hrtime.bigint();
          expect(Number(t1 - t0) / 1e6).to.be.below(20);
          expect(Number(t2 - t1) / 1e6).to.be.within(50, 1000);
          // A completion ends the wait early, and the internal timeout never shows.
          const [a, b] = socketPair();
          h.ring.register(0, Buffer.alloc(4));
          expect(h.ring.recv(1, a, 0, 0, 4)).to.equal(0);
          setTimeout(() => {}, 0);
          native.write(b, Buffer.from('w'), 0, 1);
          const t3 = Date.now();
          expect(h.ring.wait(2000)).to.equal(1);
          expect(Date.now() - t3).to.be.below(1000);
          expect(Array.from(h.completions.subarray(0, 3))).to.deep.equal([1, 1, R.OP_RECV]);
          expect(h.ring.wait(80)).to.equal(0);
        });
      }
    } else {
      it('wait() is refused outside exclusive mode (-EPERM)', () => {
        expect(h.ring.wait(0)).to.equal(-E.EPERM!);
      });

      it('hands queued operations to the kernel before the loop blocks, without submit()', async () => {
        const [a, b] = socketPair();
        h.ring.register(0, Buffer.alloc(4));
        expect(h.ring.recv(1, a, 0, 0, 4)).to.equal(0);
        expect(h.ring.queued).to.be.at.least(1);
        // The flush runs in the loop's prepare phase; under load a short timer can fire before
        // the loop has reached it once, so give it a few iterations (never calling submit()).
        for (let i = 0; i < 200 && h.ring.queued !== 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
        expect(h.ring.queued).to.equal(0);
        native.write(b, Buffer.from('p'), 0, 1);
        expect(await h.count(1)).to.deep.equal([{ token: 1, result: 1, flags: R.OP_RECV }]);
      });

      it('re-arms its wake-up when a completion batch arrives with the submission queue full', async () => {
        // Two rings woken at once: whichever handler runs first fills the other's two-entry
        // queue, so the other collects its wake-up with no room left to re-arm it at once.
        const [a] = socketPair();
        const arrays = [new Int32Array(12), new Int32Array(12)];
        const rings: NativeRing[] = [];
        const woken = [0, 0];
        let next = 0;
        await new Promise<void>((resolve) => {
          for (const i of [0, 1]) {
            rings.push(new native.Ring('integrated', arrays[i]!, (n) => {
              for (let k = 0; k < n; k++) if (arrays[i]![3 * k] === R.TOKEN_WAKEUP) woken[i]!++;
              const other = rings[1 - i]!;
              if (!other.closed && other.queued === 0) {
                expect(other.recv(next++, a, 0, 0, 1)).to.equal(0);
                expect(other.recv(next++, a, 0, 1, 1)).to.equal(0);
              }
              if (woken[0]! >= 2 && woken[1]! >= 2) resolve();
            }, { entries: 2 }));
            rings[i]!.register(0, Buffer.alloc(4));
          }
          for (const r of rings) r.wakeup();
          // Wake-ups keep working afterwards: the re-arm happened once there was room.
          setTimeout(() => {
            for (const r of rings) r.wakeup();
          }, 50);
        });
        for (const r of rings) r.close();
        expect(woken).to.deep.equal([2, 2]);
      });

      it('close() from inside the handler hands over the remaining completions, each once', async () => {
        const [a, b] = socketPair();
        const [c] = socketPair();
        const seen: Completion[] = [];
        const arr = new Int32Array(12);
        await new Promise<void>((resolve) => {
          const ring: NativeRing = new native.Ring('integrated', arr, (n) => {
            const batch: Completion[] = [];
            for (let i = 0; i < n; i++) batch.push({ token: arr[3 * i]!, result: arr[3 * i + 1]!, flags: arr[3 * i + 2]! });
            seen.push(...batch);
            ring.close(); // re-enters this handler with the cancelled recv, then returns
            resolve();
          });
          ring.register(0, Buffer.alloc(8));
          expect(ring.recv(1, a, 0, 0, 4)).to.equal(0);
          expect(ring.recv(2, c, 0, 4, 4)).to.equal(0);
          native.write(b, Buffer.from('r'), 0, 1);
        });
        expect(seen).to.deep.equal([
          { token: 1, result: 1, flags: R.OP_RECV },
          { token: 2, result: -E.ECANCELED!, flags: R.OP_RECV | R.CANCEL_REQUESTED },
        ]);
      });

      it('runs promise jobs and nextTicks queued by a completion handler before the loop moves on', async () => {
        const order: string[] = [];
        const [a, b] = socketPair();
        const done = new Promise<void>((resolve) => {
          const ring: NativeRing = new native.Ring('integrated', new Int32Array(12), () => {
            ring.close();
            setImmediate(() => {
              order.push('immediate');
              resolve();
            });
            Promise.resolve().then(() => order.push('promise'));
            process.nextTick(() => order.push('tick'));
          });
          ring.register(0, Buffer.alloc(1));
          ring.recv(1, a, 0, 0, 1);
        });
        native.write(b, Buffer.from('m'), 0, 1);
        await done;
        expect(order).to.deep.equal(['tick', 'promise', 'immediate']);
      });
    }
  });
}

(probe === 0 ? describe : describe.skip)('io_uring: process lifetime, workers, handler errors', function () {
  this.timeout(30000);

  const child = (args: string[], killAfterMs = 0, nodeArgs: string[] = []): Promise<ChildResult> =>
    runChild(fixture, args, killAfterMs, nodeArgs);

  it('an unref()ed ring with a recv in flight lets the process exit', async () => {
    const r = await child(['unref'], 15000);
    expect(r.err).to.equal('');
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.contain('ready');
  });

  it('a ref()ed ring keeps it alive until closed', async () => {
    const r = await child(['ref'], 2500);
    expect(r.signal, `exited by itself: ${r.out} ${r.err}`).to.equal('SIGTERM');
    const r2 = await child(['ref-until-completion'], 15000);
    expect(r2.code, r2.err).to.equal(0);
    expect(r2.out).to.contain('completion 1 token 1 result 1');
    expect(r2.ms).to.be.at.least(250);
  });

  it('rings dropped with operations in flight are closed by their destructors when collected', async () => {
    const r = await child(['gc'], 15000, ['--expose-gc']);
    expect(r.err).to.equal('');
    expect(r.signal, 'still alive: a collected ring kept the loop').to.equal(null);
    expect(r.code).to.equal(0);
    expect(r.out).to.contain('collected');
  });

  it('an exception in the completion handler is uncaught, not lost', async () => {
    const r = await child(['throw'], 15000);
    expect(r.code).to.equal(7);
    expect(r.out).to.contain('uncaught: handler failed');
  });

  it('runs in worker_threads, and a worker that leaves or drops rings with operations in flight cleans up', async () => {
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      const native = require(workerData.root + 'node_modules/node-gyp-build')(workerData.root);
      const fds = new Int32Array(2);
      native.socketpair(fds);
      const ev = new Int32Array(30);
      const ring = new native.Ring('exclusive', ev);
      const buf = Buffer.alloc(8);
      ring.register(0, buf);
      ring.recv(42, fds[0], 0, 0, 8);
      native.write(fds[1], Buffer.from('worker'), 0, 6);
      const n = ring.wait(1000);
      const seen = [n, ev[0], ev[1], buf.subarray(0, 6).toString()];
      ring.close();
      // Left open on purpose, with a recv in flight: the environment's cleanup must cancel it
      // and close the rings when the worker ends.
      const keep = [new native.Ring('exclusive', new Int32Array(30)),
                    new native.Ring('integrated', new Int32Array(30), () => {})];
      for (const r of keep) { r.register(0, Buffer.alloc(8)); r.recv(1, fds[0], 0, 0, 8); r.submit(); }
      if (workerData.unref) keep[1].unref();
      // Dropped at once, unref()ed: their recvs complete (EOF) once the sockets are closed,
      // possibly after the objects became garbage and before their destructors ran.
      for (const m of ['integrated', 'exclusive']) {
        const r = new native.Ring(m, new Int32Array(30), () => {});
        r.register(0, Buffer.alloc(8)); r.recv(1, fds[0], 0, 0, 8); r.submit(); r.unref();
      }
      // The operations in flight hold their own reference to the socket.
      native.close(fds[0]); native.close(fds[1]);
      parentPort.postMessage(seen);
    `;
    for (let round = 0; round < 4; round++) {
      const unref = round % 2 === 0;
      const w = new Worker(src, { eval: true, workerData: { root, unref } });
      const seen = await new Promise<unknown[]>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      expect(seen).to.deep.equal([1, 42, 6, 'worker']);
      const exited = new Promise<number>((resolve) => w.once('exit', resolve));
      if (unref) {
        expect(await exited).to.equal(0);
      } else {
        const early = await Promise.race([exited, new Promise((r) => setTimeout(() => r('alive'), 300))]);
        expect(early).to.equal('alive');
        await w.terminate();
        expect(await exited).to.equal(1);
      }
    }
  });
});
