/**
 * AsyncSocket on real kernel sockets (127.0.0.1, ::1, Unix paths), run under every backend and
 * mode this host has.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, sleep } from '../../lib/core/coro.js';
import { SystemError, TimeoutError } from '../../lib/core/errors.js';
import { AsyncSocket, SendTimeoutError } from '../../lib/io/socket.js';
import { native } from '../../lib/native/binding.js';
import { AddressError, EOFError, MessageTooLargeError, SocketClosedError } from '../../lib/io/errors.js';
import { testedBackends } from '../helpers/backends.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Whether this host has Unix domain sockets (Windows' afunix may be missing; wine has none). */
const unixSockets = (() => {
  const fd = native.socket(native.sockets.AF_UNIX, native.sockets.SOCK_STREAM);
  if (fd >= 0) native.close(fd);
  return fd >= 0;
})();

/** A listening TCP socket on `host` with an OS-chosen port. */
function* listener(host: string): Generator<unknown, [AsyncSocket, number], unknown> {
  const s = AsyncSocket.tcp();
  s.setReuseAddress();
  yield* s.bind({ host, port: 0 });
  s.listen();
  const a = s.localAddress;
  if (a.family === 'unix') throw new Error('unexpected unix address');
  return [s, a.port];
}

/** A connected pair: [client, server side]. */
function* pair(host = '127.0.0.1'): Generator<unknown, [AsyncSocket, AsyncSocket], unknown> {
  const [l, port] = yield* listener(host);
  const server = spawn(function* () {
    return yield* l.accept({ timeout: 5000 });
  });
  const c = AsyncSocket.tcp();
  yield* c.connect({ host, port }, { timeout: 5000 });
  const s = yield* server.finish(5000);
  l.close();
  return [c, s];
}

for (const b of testedBackends()) {
  for (const mode of b.modes) {
    describe(`io/socket on ${b.name} (${mode})`, function () {
      this.timeout(60000);
      let t: TestScheduler;
      beforeEach(() => {
        t = makeScheduler({ poller: b.name, mode });
      });
      afterEach(() => {
        closeSchedulers();
        expect(t.errors.map((e) => String(e.err))).to.deep.equal([]);
      });

      for (const host of ['127.0.0.1', '::1']) {
        it(`TCP on ${host}: connect, accept, addresses, echo with recv/recvall/sendall`, async () => {
          await runCoro(t.sched, function* () {
            const [l, port] = yield* listener(host);
            expect(l.localAddress).to.deep.include({ host, port, family: host.includes(':') ? 6 : 4 });
            const server = spawn(function* () {
              const conn = yield* l.accept();
              for (;;) {
                const data = yield* conn.recv(1024);
                if (data.length === 0) break;
                yield* conn.sendall(data);
              }
              conn.close();
            });
            const c = AsyncSocket.tcp().setNoDelay();
            yield* c.connect({ host, port });
            expect(c.noDelay).to.equal(true);
            expect(c.remoteAddress).to.deep.equal(l.localAddress);
            for (let i = 0; i < 20; i++) {
              const msg = Buffer.from(`message ${i} `.repeat(i + 1));
              yield* c.sendall(msg);
              const back = yield* c.recvall(msg.length);
              expect(back.toString()).to.equal(msg.toString());
            }
            c.shutdown('write');
            expect((yield* c.recv(10)).length).to.equal(0);
            yield* server.finish(5000);
            expect(c.statistics().bytesSent).to.equal(c.statistics().bytesReceived);
            c.close();
            l.close();
          });
        });
      }

      (unixSockets ? it : it.skip)('Unix stream and datagram sockets on paths', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'asyncoro-'));
        try {
          await runCoro(t.sched, function* () {
            const path = join(dir, 'echo.sock');
            const l = AsyncSocket.unix();
            yield* l.bind(path);
            l.listen();
            expect(l.localAddress).to.deep.equal({ family: 'unix', path });
            const server = spawn(function* () {
              const conn = yield* l.accept();
              yield* conn.sendall(yield* conn.recvall(5));
              conn.close();
            });
            const c = AsyncSocket.unix();
            yield* c.connect(path);
            yield* c.sendall('hello');
            expect((yield* c.recvall(5)).toString()).to.equal('hello');
            yield* server.finish(5000);
            c.close();
            l.close();

            const d1 = AsyncSocket.unix({ type: 'dgram' });
            const d2 = AsyncSocket.unix({ type: 'dgram' });
            yield* d1.bind(join(dir, 'd1'));
            yield* d2.bind(join(dir, 'd2'));
            yield* d2.sendto('ping', join(dir, 'd1'));
            const dg = yield* d1.recvfrom(100, { timeout: 5000 });
            expect(dg.data.toString()).to.equal('ping');
            expect(dg.address).to.deep.equal({ family: 'unix', path: join(dir, 'd2') });
            d1.close();
            d2.close();
          });
        } finally {
          rmSync(dir, { recursive: true });
        }
      });

      for (const host of ['127.0.0.1', '::1']) {
        it(`UDP on ${host}: sendto/recvfrom with the sender's address, timeouts`, async () => {
          await runCoro(t.sched, function* () {
            const a = AsyncSocket.udp();
            const bsock = AsyncSocket.udp();
            yield* a.bind({ host, port: 0 });
            yield* bsock.bind({ host, port: 0 });
            const bport = (bsock.localAddress as { port: number }).port;
            for (let i = 0; i < 10; i++) {
              expect(yield* a.sendto(`dg ${i}`, { host, port: bport })).to.equal(`dg ${i}`.length);
              const dg = yield* bsock.recvfrom(100, { timeout: 5000 });
              expect(dg.data.toString()).to.equal(`dg ${i}`);
              expect(dg.address).to.deep.equal(a.localAddress);
            }
            let err: unknown;
            try {
              yield* bsock.recvfrom(100, { timeout: 30 });
            } catch (e) {
              err = e;
            }
            expect(err).to.be.instanceOf(TimeoutError);
            a.close();
            bsock.close();
          });
        });
      }

      it('recvMsg/sendMsg frames small, empty and large messages; oversize and short frames fail clearly', async () => {
        await runCoro(t.sched, function* () {
          const [c, s] = yield* pair();
          const big = randomBytes(3 * 1024 * 1024);
          const writer = spawn(function* () {
            yield* c.sendMsg('small');
            yield* c.sendMsg(Buffer.alloc(0));
            yield* c.sendMsg(big);
          });
          expect((yield* s.recvMsg()).toString()).to.equal('small');
          expect((yield* s.recvMsg()).length).to.equal(0);
          expect(sha(yield* s.recvMsg())).to.equal(sha(big));
          yield* writer.finish(5000);

          // A frame longer than the receiver's limit closes that socket.
          const small = AsyncSocket.tcp({ maxMessageSize: 10 });
          let err: unknown;
          try {
            yield* small.sendMsg(Buffer.alloc(11));
          } catch (e) {
            err = e;
          }
          expect(err).to.be.instanceOf(MessageTooLargeError);
          small.close();
          const [c2, s2] = yield* pair();
          const limited = s2 as unknown as { maxMessageSize: number };
          expect(limited.maxMessageSize).to.equal(64 * 1024 * 1024);
          const hdr = Buffer.alloc(4);
          hdr.writeUInt32BE(0xffffffff, 0);
          yield* c2.sendall(hdr);
          try {
            yield* s2.recvMsg();
          } catch (e) {
            err = e;
          }
          expect(err).to.be.instanceOf(MessageTooLargeError);
          expect(s2.isClosed).to.equal(true);

          // A stream that ends inside a frame: EOFError with what did arrive.
          const [c3, s3] = yield* pair();
          const part = Buffer.alloc(4);
          part.writeUInt32BE(100, 0);
          yield* c3.sendall(Buffer.concat([part, Buffer.from('only this')]));
          c3.shutdown('write');
          try {
            yield* s3.recvMsg();
          } catch (e) {
            err = e;
          }
          expect(err).to.be.instanceOf(EOFError);
          expect((err as EOFError).partial.subarray(4).toString()).to.equal('only this');
          for (const x of [c, s, c2, c3, s3]) x.close();
        });
      });

      it('a timed-out recvall loses nothing: the bytes wait for the next read', async () => {
        await runCoro(t.sched, function* () {
          const [c, s] = yield* pair();
          yield* c.sendall('12345');
          let err: unknown;
          try {
            yield* s.recvall(10, { timeout: 50 });
          } catch (e) {
            err = e;
          }
          expect(err).to.be.instanceOf(TimeoutError);
          expect((err as TimeoutError).timeout).to.equal(50);
          yield* c.sendall('67890');
          expect((yield* s.recvall(10, { timeout: 5000 })).toString()).to.equal('1234567890');
          c.close();
          s.close();
        });
      });

      it('EOF, refused connections, resets and broken pipes are typed errors with errno codes', async () => {
        await runCoro(t.sched, function* () {
          const [c, s] = yield* pair();
          yield* c.sendall('abc');
          c.close();
          let err: unknown;
          try {
            yield* s.recvall(10);
          } catch (e) {
            err = e;
          }
          expect(err).to.be.instanceOf(EOFError);
          expect((err as EOFError).partial.toString()).to.equal('abc');
          expect((yield* s.recv(10)).length).to.equal(0);
          // Writing into a connection the peer closed: EPIPE or ECONNRESET, never SIGPIPE.
          try {
            for (let i = 0; i < 100; i++) yield* s.sendall(Buffer.alloc(65536));
          } catch (e) {
            err = e;
          }
          expect(err).to.be.instanceOf(SystemError);
          expect(['EPIPE', 'ECONNRESET']).to.include((err as SystemError).code);
          s.close();

          const [l, port] = yield* listener('127.0.0.1');
          l.close();
          const r = AsyncSocket.tcp();
          try {
            yield* r.connect({ host: '127.0.0.1', port }, { timeout: 5000 });
          } catch (e) {
            err = e;
          }
          expect(err).to.be.instanceOf(SystemError);
          expect((err as SystemError).code).to.equal('ECONNREFUSED');
          r.close();
        });
      });

      it('closing a socket ends a pending operation with SocketClosedError; later calls fail at once', async () => {
        await runCoro(t.sched, function* () {
          const [c, s] = yield* pair();
          const reader = spawn(function* () {
            try {
              yield* s.recv(10);
              return 'returned';
            } catch (e) {
              return e;
            }
          });
          yield* sleep(20);
          s.close();
          s.close();
          const e = yield* reader.finish(5000);
          expect(e).to.be.instanceOf(SocketClosedError);
          let err: unknown;
          try {
            yield* s.recv(1);
          } catch (x) {
            err = x;
          }
          expect(err).to.be.instanceOf(SocketClosedError);
          c.close();
        });
      });

      it('is full duplex: one coroutine reads while another writes, on one socket', async () => {
        await runCoro(t.sched, function* () {
          const [c, s] = yield* pair();
          const size = 4 * 1024 * 1024;
          const up = randomBytes(size);
          const down = randomBytes(size);
          const cw = spawn(function* () {
            yield* c.sendall(up);
          });
          const sw = spawn(function* () {
            yield* s.sendall(down);
          });
          const sr = spawn(function* () {
            return sha(yield* s.recvall(size));
          });
          const got = yield* c.recvall(size);
          expect(sha(got)).to.equal(sha(down));
          expect(yield* sr.finish(20000)).to.equal(sha(up));
          yield* cw.finish(20000);
          yield* sw.finish(20000);
          c.close();
          s.close();
        });
      });

      it('serves 500 concurrent connections, a coroutine each', async () => {
        await runCoro(t.sched, function* () {
          const [l, port] = yield* listener('127.0.0.1');
          const n = 500;
          spawn(function* () {
            for (let i = 0; i < n; i++) {
              const conn = yield* l.accept();
              spawn(function* () {
                const m = yield* conn.recvMsg();
                yield* conn.sendMsg(m);
                conn.close();
              });
            }
          });
          const clients = [];
          for (let i = 0; i < n; i++) {
            clients.push(
              spawn(function* () {
                const c = AsyncSocket.tcp();
                yield* c.connect({ host: '127.0.0.1', port });
                yield* c.sendMsg(`client ${i}`);
                const back = (yield* c.recvMsg()).toString();
                c.close();
                return back;
              }),
            );
          }
          for (let i = 0; i < n; i++) expect(yield* clients[i]!.finish(30000)).to.equal(`client ${i}`);
          l.close();
        });
      });

      it('moves 100 MB through sendall/recvall intact', async function () {
        this.timeout(120000);
        await runCoro(t.sched, function* () {
          const [c, s] = yield* pair();
          const chunk = randomBytes(1024 * 1024);
          const total = 100;
          const writer = spawn(function* () {
            for (let i = 0; i < total; i++) {
              chunk[0] = i;
              yield* c.sendall(chunk);
            }
            c.shutdown('write');
          });
          const h = createHash('sha256');
          const expected = createHash('sha256');
          for (let i = 0; i < total; i++) {
            chunk[0] = i;
            expected.update(chunk);
            h.update(yield* s.recvall(chunk.length));
          }
          expect((yield* s.recv(1)).length).to.equal(0);
          yield* writer.finish(60000);
          expect(h.digest('hex')).to.equal(expected.digest('hex'));
          c.close();
          s.close();
        });
      });

      it('times out a send into a full buffer, saying how much went out', async () => {
        await runCoro(t.sched, function* () {
          const [c, s] = yield* pair();
          c.sendBufferSize = 4096;
          let err: unknown;
          try {
            yield* c.sendall(Buffer.alloc(32 * 1024 * 1024), { timeout: 100 });
          } catch (e) {
            err = e;
          }
          expect(err).to.be.instanceOf(SendTimeoutError);
          expect(err).to.be.instanceOf(TimeoutError);
          expect((err as SendTimeoutError).bytesSent).to.be.above(0).and.below(32 * 1024 * 1024);
          c.close();
          s.close();
        });
      });
    });
  }
}

describe('io/socket: arguments, names, options', () => {
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler();  // the host's default backend and mode
  });
  afterEach(() => closeSchedulers());

  it('rejects bad arguments at the call with typed errors', async () => {
    await runCoro(t.sched, function* () {
      const s = AsyncSocket.tcp();
      expect(() => s.recv(-1).next()).to.throw(RangeError);
      expect(() => s.recv(1, { timeout: -5 }).next()).to.throw(RangeError);
      expect(() => AsyncSocket.tcp({ family: 5 as never })).to.throw(RangeError);
      expect(() => AsyncSocket.unix({ type: 'raw' as never })).to.throw(TypeError);
      expect(() => s.listen(-1)).to.throw(RangeError);
      expect(() => s.shutdown('sideways' as never)).to.throw(TypeError);
      let err: unknown;
      for (const bad of [{ host: '127.0.0.1', port: 70000 }, '/tmp/x.sock', { host: 5 } as never]) {
        err = undefined;
        try {
          yield* s.bind(bad);
        } catch (e) {
          err = e;
        }
        expect(err, JSON.stringify(bad)).to.be.instanceOf(AddressError);
      }
      const six = AsyncSocket.tcp({ family: 6 });
      try {
        yield* six.connect({ host: '127.0.0.1', port: 1 });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(AddressError);
      six.close();
      s.close();
    });
  });

  it('resolves localhost and host names without blocking', async () => {
    await runCoro(t.sched, function* () {
      const [l, port] = yield* listener('0.0.0.0');
      const acc = spawn(function* () {
        const a = yield* l.accept();
        const b = yield* l.accept();
        a.close();
        b.close();
      });
      const c1 = AsyncSocket.tcp({ family: 4 });
      yield* c1.connect({ host: 'localhost', port });
      const c2 = AsyncSocket.tcp({ family: 4 });
      // A name that goes through the resolver (dns.lookup): this machine's own name.
      yield* c2.connect({ host: hostname(), port });
      yield* acc.finish(5000);
      c1.close();
      c2.close();
      l.close();
      const bad = AsyncSocket.tcp();
      let err: unknown;
      try {
        yield* bad.connect({ host: 'no-such-host.invalid', port: 1 });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(AddressError);
    });
  });

  it('setIPv6Only: an IPv6 socket bound to :: takes IPv4 datagrams (as mapped addresses) only without it', async () => {
    await runCoro(t.sched, function* () {
      const dual = AsyncSocket.udp({ family: 6 }).setIPv6Only(false);
      const only = AsyncSocket.udp({ family: 6 }).setIPv6Only();
      yield* dual.bind({ host: '::', port: 0 });
      yield* only.bind({ host: '::', port: 0 });
      const port = (s: AsyncSocket) => (s.localAddress as { port: number }).port;
      const v4 = AsyncSocket.udp({ family: 4 });
      const v6 = AsyncSocket.udp({ family: 6 });
      yield* v4.sendto('over IPv4', { host: '127.0.0.1', port: port(dual) });
      const d = yield* dual.recvfrom(100, { timeout: 5000 });
      expect(d.data.toString()).to.equal('over IPv4');
      expect(d.address).to.deep.include({ family: 6, host: '::ffff:127.0.0.1' });
      yield* v4.sendto('lost', { host: '127.0.0.1', port: port(only) });
      yield* v6.sendto('over IPv6', { host: '::1', port: port(only) });
      // Sent after the IPv4 one, so it would come second.
      expect((yield* only.recvfrom(100, { timeout: 5000 })).data.toString()).to.equal('over IPv6');
      expect(() => v4.setIPv6Only()).to.throw(TypeError);
      expect(() => AsyncSocket.udp().setIPv6Only()).to.throw(TypeError);
      for (const s of [dual, only, v4, v6]) s.close();
    });
  });

  it('wraps an existing socket fd', async () => {
    await runCoro(t.sched, function* () {
      const [c, s] = yield* pair();
      const fd = s.fd;
      const wrapped = AsyncSocket.fromFd(fd, 'tcp');
      expect(() => AsyncSocket.fromFd(fd, 'udp')).to.throw(TypeError);
      yield* c.sendall('via fd');
      expect((yield* wrapped.recvall(6)).toString()).to.equal('via fd');
      wrapped.close();
      c.close();
    });
  });
});
