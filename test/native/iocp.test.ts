/**
 * The completion contract on IOCP (native/iocp.cc through the Ring adapter's thread and exclusive
 * modes): what uring.test.ts checks on io_uring, for the operations IOCP has. It runs where the
 * binary's completion backend is IOCP: Windows, and here under wine (scripts/platform-win32.sh);
 * on Linux it says it is skipped.
 */
import { expect } from 'chai';
import { native } from '../../lib/native/binding.js';
import type { NativeRing, RingMode } from '../../lib/native/types.js';
import { BatchCollector } from '../helpers/batches.js';
import { closeAll, closeFd, socketPair } from '../helpers/native.js';

const E = native.errno;
const R = native.ring;
const EV = native.events;
const S = native.sockets;
const iocp = native.ringBackend === 'iocp';

interface Completion {
  token: number;
  result: number;
  flags: number;
}
const userOnly = (all: Completion[]) => all.filter((c) => c.token !== R.TOKEN_WAKEUP);
const byToken = (all: Completion[], token: number) => all.filter((c) => c.token === token);

class RingHarness extends BatchCollector<Completion> {
  readonly ring: NativeRing;
  readonly out: Int32Array;
  constructor(mode: RingMode, capacity = 64) {
    super(mode, 3000);
    this.out = new Int32Array(3 * capacity);
    this.ring = new native.Ring(mode, this.out, (n) => this.deliver(this.copy(n)));
  }
  private copy(n: number): Completion[] {
    const got: Completion[] = [];
    for (let i = 0; i < n; i++) got.push({ token: this.out[3 * i]!, result: this.out[3 * i + 1]!, flags: this.out[3 * i + 2]! });
    return got;
  }
  protected waitSync(timeoutMs: number): Completion[] {
    const n = this.ring.wait(timeoutMs);
    if (n < 0) throw new Error(`wait: ${native.strerror(n)}`);
    return this.copy(n);
  }
  count(n: number, timeoutMs = 3000): Promise<Completion[]> {
    return this.until((all) => userOnly(all).length >= n, timeoutMs).then(userOnly);
  }
}

const tracked: number[] = [];
function track(fd: number): number {
  expect(fd, native.strerror(fd)).to.be.at.least(0);
  tracked.push(fd);
  return fd;
}
function addr(family: number, host: string, port = 0): Uint8Array {
  const out = new Uint8Array(S.ADDR_BYTES);
  expect(native.sockaddr(out, family, host, port)).to.equal(0);
  return out;
}
function portOf(fd: number): number {
  const out = new Uint8Array(S.ADDR_BYTES);
  expect(native.getsockname(fd, out)).to.equal(0);
  const a = native.decodeAddress(out);
  if (typeof a === 'number' || a.family === 'unix') throw new Error('no port');
  return a.port;
}
function listener(family: number, host: string): { fd: number; port: number } {
  const fd = track(native.socket(family, S.SOCK_STREAM));
  expect(native.bind(fd, addr(family, host))).to.equal(0);
  expect(native.listen(fd, 64)).to.equal(0);
  return { fd, port: portOf(fd) };
}

if (!iocp) {
  describe('IOCP completion contract', () => {
    it(`is skipped: this binary's completion backend is ${native.ringBackend || 'none'}`, function () {
      this.skip();
    });
  });
}

describe('IOCP: availability and construction', () => {
  (iocp ? it : it.skip)('opens in thread and exclusive mode only, with every socket operation', () => {
    expect(native.ringProbe()).to.equal(0);
    expect(native.Ring.modes).to.deep.equal(['thread', 'exclusive']);
    expect(() => new native.Ring('integrated', new Int32Array(3), () => {})).to.throw(TypeError, /integrated/);
    expect(() => new native.Ring('thread', new Int32Array(3))).to.throw(TypeError, /onCompletions/);
    const r = new native.Ring('exclusive', new Int32Array(3));
    expect(r.features & R.FEAT_THREAD_WAIT).to.equal(R.FEAT_THREAD_WAIT);
    expect(r.features & R.FEAT_POLLABLE_FD).to.equal(0);
    for (const op of [R.OP_RECV, R.OP_SEND, R.OP_ACCEPT, R.OP_CONNECT, R.OP_POLL, R.OP_RECVFROM, R.OP_SENDTO]) {
      expect(r.ops & (1 << op), `op ${op}`).to.equal(1 << op);
    }
    expect([r.fd, r.wakeupFd]).to.deep.equal([-1, -1]);
    r.close();
  });
});

for (const mode of iocp ? native.Ring.modes : []) {
  describe(`IOCP completion contract: ${mode}`, function () {
    let h: RingHarness;
    beforeEach(() => {
      h = new RingHarness(mode);
    });
    afterEach(() => {
      h.ring.close();
      closeAll();
      for (const fd of tracked.splice(0)) native.close(fd);
    });

    it('recv and send on a socket pair land at the slot offsets, one completion each with its kind', async () => {
      const [a, b] = socketPair();
      const inp = Buffer.alloc(64);
      const out = Buffer.from('0123456789');
      expect(h.ring.register(0, inp)).to.equal(0);
      expect(h.ring.register(1, out)).to.equal(0);
      expect(h.ring.recv(1, a, 0, 8, 32)).to.equal(0);
      expect(userOnly(await h.next(60))).to.deep.equal([]);
      expect(h.ring.send(2, b, 1, 2, 5)).to.equal(0);
      const got = await h.count(2);
      expect(byToken(got, 2)).to.deep.equal([{ token: 2, result: 5, flags: R.OP_SEND }]);
      expect(byToken(got, 1)).to.deep.equal([{ token: 1, result: 5, flags: R.OP_RECV }]);
      expect(inp.subarray(8, 13).toString()).to.equal('23456');
      expect(h.ring.inFlight).to.equal(0);
    });

    it('read and write are for fds that are not sockets: not on Windows (-EOPNOTSUPP)', () => {
      const [a] = socketPair();
      h.ring.register(0, Buffer.alloc(4));
      expect(h.ring.read(1, a, 0, 0, 4)).to.equal(-E.EOPNOTSUPP!);
      expect(h.ring.write(1, a, 0, 0, 4)).to.equal(-E.EOPNOTSUPP!);
    });

    it('reports EOF as 0, and a bad socket as a completion with -EBADF', async () => {
      const [a, b] = socketPair();
      h.ring.register(0, Buffer.alloc(16));
      expect(h.ring.recv(1, a, 0, 0, 16)).to.equal(0);
      closeFd(b);
      expect(await h.count(1)).to.deep.equal([{ token: 1, result: 0, flags: R.OP_RECV }]);
      expect(h.ring.recv(2, 0x7ffffff0, 0, 0, 16)).to.equal(0);
      expect(await h.count(1)).to.deep.equal([{ token: 2, result: -E.EBADF!, flags: R.OP_RECV }]);
    });

    it('polls read readiness without taking the data (a zero-byte peek)', async () => {
      const [a, b] = socketPair();
      expect(h.ring.poll(1, a, EV.READ)).to.equal(0);
      expect(userOnly(await h.next(60))).to.deep.equal([]);
      native.write(b, Buffer.from('abc'), 0, 3);
      expect(await h.count(1)).to.deep.equal([{ token: 1, result: EV.READ, flags: R.OP_POLL }]);
      const buf = Buffer.alloc(8);
      expect(native.read(a, buf, 0, 8)).to.equal(3);
      expect(buf.subarray(0, 3).toString()).to.equal('abc');
      expect(h.ring.poll(2, a, EV.WRITE)).to.equal(0);
      expect(await h.count(1)).to.deep.equal([{ token: 2, result: EV.WRITE, flags: R.OP_POLL }]);
    });

    for (const [family, host, label] of [
      [S.AF_INET, '127.0.0.1', 'IPv4'],
      [S.AF_INET6, '::1', 'IPv6'],
    ] as const) {
      it(`AcceptEx and ConnectEx over TCP ${label}, then data both ways`, async () => {
        const l = listener(family, host);
        const c = track(native.socket(family, S.SOCK_STREAM));
        expect(h.ring.accept(1, l.fd)).to.equal(0);
        expect(h.ring.connect(2, c, addr(family, host, l.port))).to.equal(0);
        const got = await h.count(2);
        expect(byToken(got, 2)).to.deep.equal([{ token: 2, result: 0, flags: R.OP_CONNECT }]);
        const acc = byToken(got, 1)[0]!;
        expect(acc.flags).to.equal(R.OP_ACCEPT);
        const a = track(acc.result);
        // The accepted socket is a normal connected, non-blocking socket (SO_UPDATE_ACCEPT_CONTEXT).
        const peer = new Uint8Array(S.ADDR_BYTES);
        expect(native.getpeername(a, peer)).to.equal(0);
        expect(native.decodeAddress(peer)).to.deep.include({ port: portOf(c) });
        expect(native.read(a, Buffer.alloc(1), 0, 1)).to.equal(-E.EAGAIN!);
        const ping = Buffer.from('ping over ' + label);
        const pong = Buffer.alloc(64);
        h.ring.register(0, ping);
        h.ring.register(1, pong);
        expect(h.ring.send(3, c, 0, 0, ping.length)).to.equal(0);
        expect(h.ring.recv(4, a, 1, 0, 64)).to.equal(0);
        const io = await h.count(2);
        expect(byToken(io, 4)[0]!.result).to.equal(ping.length);
        expect(pong.subarray(0, ping.length).toString()).to.equal(ping.toString());
      });

      it(`recvfrom and sendto over UDP ${label}: the datagram and its sender's address`, async () => {
        const a = track(native.socket(family, S.SOCK_DGRAM));
        const b = track(native.socket(family, S.SOCK_DGRAM));
        expect(native.bind(a, addr(family, host))).to.equal(0);
        expect(native.bind(b, addr(family, host))).to.equal(0);
        const inp = Buffer.alloc(64 + R.ADDR_BYTES);
        const out = Buffer.from('datagram over ' + label);
        h.ring.register(0, inp);
        h.ring.register(1, out);
        expect(h.ring.recvfrom(1, b, 0, 0, 64, 64)).to.equal(0);
        expect(h.ring.sendto(2, a, 1, 0, out.length, addr(family, host, portOf(b)))).to.equal(0);
        const got = await h.count(2);
        expect(byToken(got, 1)).to.deep.equal([{ token: 1, result: out.length, flags: R.OP_RECVFROM }]);
        expect(inp.subarray(0, out.length).toString()).to.equal(out.toString());
        expect(native.decodeAddress(inp.subarray(64))).to.deep.include({ host, port: portOf(a) });
        // A longer datagram is cut to the range, as recvfrom(2) does.
        expect(h.ring.recvfrom(3, b, 0, 0, 4, 64)).to.equal(0);
        expect(h.ring.sendto(4, a, 1, 0, out.length, addr(family, host, portOf(b)))).to.equal(0);
        expect(byToken(await h.count(2), 3)[0]!.result).to.equal(4);
      });
    }

    it('a refused connect is -ECONNREFUSED; a cancelled accept is -ECANCELED with CANCEL_REQUESTED', async () => {
      const gone = listener(S.AF_INET, '127.0.0.1');
      native.close(tracked.splice(tracked.indexOf(gone.fd), 1)[0]!);
      const c = track(native.socket(S.AF_INET, S.SOCK_STREAM));
      expect(h.ring.connect(1, c, addr(S.AF_INET, '127.0.0.1', gone.port))).to.equal(0);
      expect(await h.count(1, 5000)).to.deep.equal([{ token: 1, result: -E.ECONNREFUSED!, flags: R.OP_CONNECT }]);
      const l = listener(S.AF_INET, '127.0.0.1');
      expect(h.ring.accept(2, l.fd)).to.equal(0);
      expect(h.ring.accept(2, l.fd)).to.equal(-E.EEXIST!);
      expect(h.ring.cancel(2)).to.equal(0);
      expect(h.ring.cancel(2)).to.equal(0);
      expect(h.ring.cancel(99)).to.equal(-E.ENOENT!);
      expect(await h.count(1)).to.deep.equal([{ token: 2, result: -E.ECANCELED!, flags: R.OP_ACCEPT | R.CANCEL_REQUESTED }]);
      expect(userOnly(await h.next(80))).to.deep.equal([]);
    });

    it('produces exactly one completion per operation over many sockets, data, cancels and EOFs mixed', async () => {
      const n = 120;
      const buf = Buffer.alloc(n * 4);
      h.ring.register(0, buf);
      const pairs: [number, number][] = [];
      for (let i = 0; i < n; i++) {
        const p = socketPair();
        pairs.push(p);
        expect(h.ring.recv(1000 + i, p[0], 0, i * 4, 4)).to.equal(0);
      }
      expect(h.ring.inFlight).to.equal(n);
      for (let i = 0; i < n; i++) {
        const [, w] = pairs[i]!;
        if (i % 3 === 0) native.write(w, Buffer.from([i & 255, 1, 2, 3]), 0, 4);
        else if (i % 3 === 1) expect(h.ring.cancel(1000 + i)).to.equal(0);
        else closeFd(w);
      }
      const got = await h.count(n, 10000);
      expect(new Set(got.map((c) => c.token)).size).to.equal(n);
      for (const c of got) {
        const i = c.token - 1000;
        expect(c.result).to.equal(i % 3 === 0 ? 4 : i % 3 === 1 ? -E.ECANCELED! : 0);
      }
      expect(h.ring.inFlight).to.equal(0);
    });

    it('wakeup() is reported as one TOKEN_WAKEUP triple, coalescing repeated calls', async () => {
      expect(h.ring.wakeup()).to.equal(0);
      expect(h.ring.wakeup()).to.equal(0);
      const got = await h.until((all) => all.length > 0);
      expect(got).to.deep.equal([{ token: R.TOKEN_WAKEUP, result: 0, flags: 0 }]);
      expect(await h.next(80)).to.deep.equal([]);
    });

    it('close() with operations in flight hands each its completion, then refuses everything', () => {
      const [a] = socketPair();
      const l = listener(S.AF_INET, '127.0.0.1');
      h.ring.register(0, Buffer.alloc(8));
      expect(h.ring.recv(1, a, 0, 0, 8)).to.equal(0);
      expect(h.ring.accept(2, l.fd)).to.equal(0);
      h.ring.close();
      // close() hands the last completions to the handler before it returns.
      const last = userOnly(h.takeQueued());
      expect(last.map((c) => [c.token, c.result]).sort()).to.deep.equal([
        [1, -E.ECANCELED!],
        [2, -E.ECANCELED!],
      ]);
      expect(h.ring.inFlight).to.equal(0);
      expect(h.ring.recv(3, a, 0, 0, 8)).to.equal(-E.EBADF!);
    });
  });
}
