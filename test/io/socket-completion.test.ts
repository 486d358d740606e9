/**
 * What a completion backend (io_uring, IOCP) adds under AsyncSocket, and what every backend must keep:
 * the kernel runs the waiting recv/send/accept, so an operation whose coroutine stops waiting
 * (terminated) still ends in the kernel, and what it received or accepted is kept for the next
 * call. A ring with few slots or few operation records falls back to readiness waits and loses
 * nothing.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { spawn, sleep } from '../../lib/core/coro.js';
import { CoroStateError, TimeoutError } from '../../lib/core/errors.js';
import { backends } from '../../lib/core/poller.js';
import { AsyncSocket } from '../../lib/io/socket.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function* listener(): Generator<unknown, [AsyncSocket, number], unknown> {
  const s = AsyncSocket.tcp();
  yield* s.bind({ host: '127.0.0.1', port: 0 });
  s.listen();
  const a = s.localAddress;
  if (a.family === 'unix') throw new Error('unexpected unix address');
  return [s, a.port];
}

function* pair(): Generator<unknown, [AsyncSocket, AsyncSocket], unknown> {
  const [l, port] = yield* listener();
  const server = spawn(function* () {
    return yield* l.accept({ timeout: 5000 });
  });
  const c = AsyncSocket.tcp();
  yield* c.connect({ host: '127.0.0.1', port }, { timeout: 5000 });
  const s = yield* server.finish(5000);
  l.close();
  return [c, s];
}

for (const b of backends()) {
  for (const mode of b.modes) {
    describe(`io/socket, operations left behind, on ${b.name} (${mode})`, function () {
      this.timeout(30000);
      let t: TestScheduler;
      beforeEach(() => {
        t = makeScheduler({ poller: b.name, mode });
      });
      afterEach(() => {
        closeSchedulers();
        expect(t.errors.map((e) => String(e.err))).to.deep.equal([]);
      });

      it('a reader terminated while waiting loses nothing: the next recv gets the bytes', async () => {
        await runCoro(t.sched, function* () {
          const [c, s] = yield* pair();
          const reader = spawn(function* () {
            return yield* s.recv(100);
          });
          yield* sleep(20);
          reader.terminate();
          try {
            yield* reader.finish(1000);
          } catch {
            // finish() reports the termination
          }
          yield* c.sendall('hello');
          const got = yield* s.recvall(5, { timeout: 2000 });
          expect(got.toString()).to.equal('hello');
          if (b.kind === 'completion') expect(t.sched.statistics().completions).to.be.greaterThan(0);
          else expect(t.sched.statistics().completions).to.equal(0);
          c.close();
          s.close();
        });
      });

      it('an accept terminated while waiting loses no connection: the next accept gets it', async () => {
        await runCoro(t.sched, function* () {
          const [l, port] = yield* listener();
          const acceptor = spawn(function* () {
            return yield* l.accept();
          });
          yield* sleep(20);
          acceptor.terminate();
          const c = AsyncSocket.tcp();
          yield* c.connect({ host: '127.0.0.1', port }, { timeout: 2000 });
          yield* sleep(20);
          const s = yield* l.accept({ timeout: 2000 });
          yield* c.sendall('x');
          expect((yield* s.recvall(1, { timeout: 2000 })).toString()).to.equal('x');
          for (const x of [c, s, l]) x.close();
        });
      });

      it('one reader and one writer at a time: a second one is refused at the call', async () => {
        await runCoro(t.sched, function* () {
          const [c, s] = yield* pair();
          const reader = spawn(function* () {
            return (yield* s.recv(10)).toString();
          });
          yield* sleep(10);
          for (const second of [() => s.recv(10), () => s.recvInto(Buffer.alloc(4)), () => s.recvall(2), () => s.recvMsg()]) {
            let err: unknown;
            try {
              yield* second();
            } catch (e) {
              err = e;
            }
            expect(err).to.be.instanceOf(CoroStateError).and.to.have.property('code', 'ERR_FD_BUSY');
          }
          yield* c.sendall('ok');
          expect(yield* reader.finish(2000)).to.equal('ok');
          // Free again once the first reader is done.
          yield* c.sendall('next');
          expect((yield* s.recvall(4, { timeout: 2000 })).toString()).to.equal('next');
          c.close();
          s.close();
        });
      });

      it('a recvfrom terminated while waiting loses no datagram: the next recvfrom gets it, with its sender', async () => {
        await runCoro(t.sched, function* () {
          const a = AsyncSocket.udp();
          const b = AsyncSocket.udp();
          yield* a.bind({ host: '127.0.0.1', port: 0 });
          yield* b.bind({ host: '127.0.0.1', port: 0 });
          const reader = spawn(function* () {
            return yield* b.recvfrom(100);
          });
          yield* sleep(20);
          reader.terminate();
          try {
            yield* reader.finish(1000);
          } catch {
            // finish() reports the termination
          }
          const to = b.localAddress as { port: number };
          yield* a.sendto('first', { host: '127.0.0.1', port: to.port });
          yield* a.sendto('second', { host: '127.0.0.1', port: to.port });
          const one = yield* b.recvfrom(100, { timeout: 2000 });
          const two = yield* b.recvfrom(100, { timeout: 2000 });
          expect([one.data.toString(), two.data.toString()]).to.deep.equal(['first', 'second']);
          expect(one.address).to.deep.equal(a.localAddress);
          a.close();
          b.close();
        });
      });

      it('a recv timeout that races the data keeps every byte, in order', async () => {
        await runCoro(t.sched, function* () {
          const [c, s] = yield* pair();
          const data = randomBytes(256 * 1024);
          const writer = spawn(function* () {
            for (let off = 0; off < data.length; off += 1024) {
              yield* c.sendall(data.subarray(off, off + 1024));
              if ((off / 1024) % 16 === 0) yield* sleep(1);
            }
          });
          const parts: Buffer[] = [];
          let got = 0;
          let timeouts = 0;
          while (got < data.length) {
            try {
              const p = yield* s.recv(4096, { timeout: 1 });
              parts.push(p);
              got += p.length;
            } catch (e) {
              if (!(e instanceof TimeoutError)) throw e;
              timeouts++;
            }
          }
          yield* writer.finish(5000);
          expect(sha(Buffer.concat(parts))).to.equal(sha(data));
          expect(timeouts).to.be.greaterThan(0);
          c.close();
          s.close();
        });
      });
    });
  }
}

const ring = backends().find((b) => b.kind === 'completion');

describe(`io/socket on ${ring?.name ?? 'a completion backend'} with a small ring`, function () {
  this.timeout(30000);
  before(function () {
    // The CI host has io_uring (Windows: IOCP); a kernel that refuses rings (io_uring_disabled)
    // has nothing to test here.
    if (ring === undefined) this.skip();
  });
  afterEach(() => closeSchedulers());

  for (const mode of ring?.modes ?? []) {
    it(`${mode}: 40 connections on 2 buffer slots and 8 operation records all echo intact`, async () => {
      const t = makeScheduler({ poller: ring!.name, mode, ring: { slots: 2, maxOps: 8, entries: 8 } });
      await runCoro(t.sched, function* () {
        const [l, port] = yield* listener();
        const n = 40;
        const server = spawn(function* () {
          const conns: AsyncSocket[] = [];
          for (let i = 0; i < n; i++) {
            const s = yield* l.accept({ timeout: 5000 });
            conns.push(s);
            spawn(function* () {
              for (;;) {
                const m = yield* s.recv(65536);
                if (m.length === 0) break;
                yield* s.sendall(m);
              }
              s.close();
            });
          }
        });
        const clients = [];
        for (let i = 0; i < n; i++) {
          clients.push(
            spawn(function* () {
              const c = AsyncSocket.tcp();
              yield* c.connect({ host: '127.0.0.1', port }, { timeout: 5000 });
              const data = randomBytes(200 * 1024);
              const w = spawn(function* () {
                yield* c.sendall(data);
              });
              const back = yield* c.recvall(data.length, { timeout: 10000 });
              yield* w.finish(5000);
              c.close();
              return sha(back) === sha(data);
            }),
          );
        }
        for (const c of clients) expect(yield* c.finish(15000)).to.equal(true);
        yield* server.finish(5000);
        l.close();
      });
      expect(t.errors.map((e) => String(e.err))).to.deep.equal([]);
      expect(t.sched.statistics().completions).to.be.greaterThan(0);
    });
  }
});
