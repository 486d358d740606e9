/**
 * AsyncSocket against peers in other processes: 10,000 concurrent connections, and a peer that
 * is killed in the middle of a transfer.
 */
import { expect } from 'chai';
import { spawn as spawnProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from '../../lib/core/coro.js';
import { SystemError } from '../../lib/core/errors.js';
import { backends } from '../../lib/core/poller.js';
import { AsyncSocket } from '../../lib/io/socket.js';
import { EOFError, SocketClosedError } from '../../lib/io/errors.js';
import { closeSchedulers, makeScheduler, runCoro } from '../helpers/coro.js';

const fixture = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'socket-peer.ts');

function peer(args: string[]): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawnProcess(process.execPath, ['--import', 'tsx', fixture, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code, signal) => resolve({ code, signal, out, err }));
  });
}

describe('io/socket with peer processes', function () {
  this.timeout(180000);
  afterEach(() => closeSchedulers());

  for (const b of backends()) {
    const mode = b.modes[0]!;
    it(`${b.name} (${mode}): holds 10,000 concurrent connections, one coroutine each`, async () => {
      const { sched, errors } = makeScheduler({ poller: b.name, mode });
      const n = 10000;
      let served = 0;
      let peak = 0;
      let open = 0;
      const done = await runCoro(sched, function* () {
        const l = AsyncSocket.tcp();
        yield* l.bind({ host: '127.0.0.1', port: 0 });
        l.listen(4096);
        const port = (l.localAddress as { port: number }).port;
        spawn(function* () {
          for (;;) {
            let conn: AsyncSocket;
            try {
              conn = yield* l.accept();
            } catch (e) {
              // Closing the listener is how this loop ends.
              if (e instanceof SocketClosedError) return;
              throw e;
            }
            open++;
            peak = Math.max(peak, open);
            spawn(function* () {
              try {
                yield* conn.sendMsg(yield* conn.recvMsg());
                served++;
                // Stay open until the client closes, so all n are held at once.
                yield* conn.recv(1);
              } finally {
                open--;
                conn.close();
              }
            });
          }
        });
        const r = yield peer(['many', String(port), String(n)]);
        l.close();
        return r as { code: number; out: string; err: string };
      });
      expect(done.code, done.err).to.equal(0);
      expect(done.out.trim()).to.equal(`ok ${n}`);
      expect(served).to.equal(n);
      expect(peak).to.equal(n);
      expect(errors).to.deep.equal([]);
    });
  }

  it('a peer killed mid-transfer ends the transfer with a typed error, and only that connection', async () => {
    const { sched } = makeScheduler({ poller: 'epoll', mode: 'integrated' });
    const outcome = await runCoro(sched, function* () {
      const l = AsyncSocket.tcp();
      yield* l.bind({ host: '127.0.0.1', port: 0 });
      l.listen();
      const port = (l.localAddress as { port: number }).port;
      const other = AsyncSocket.tcp();
      const otherSide = spawn(function* () {
        return yield* l.accept();
      });
      yield* other.connect({ host: '127.0.0.1', port });
      const otherServer = yield* otherSide.finish(5000);
      const victim = spawn(function* () {
        const conn = yield* l.accept();
        yield* conn.recvall(1024 * 1024);
        try {
          // The peer dies after reading 1000 bytes of this: the kernel resets the connection.
          for (let i = 0; i < 1000; i++) yield* conn.sendall(Buffer.alloc(65536, 1));
          return 'sent everything';
        } catch (e) {
          return e;
        } finally {
          conn.close();
        }
      });
      const p = yield peer(['vanish', String(port)]);
      const err = yield* victim.finish(30000);
      // The other connection is untouched.
      yield* other.sendall('still here');
      const got = (yield* otherServer.recvall(10)).toString();
      other.close();
      otherServer.close();
      l.close();
      return { p: p as { signal: string }, err, got };
    });
    expect(outcome.p.signal).to.equal('SIGKILL');
    expect(outcome.err).to.satisfy((e: unknown) => (e instanceof SystemError && ['ECONNRESET', 'EPIPE'].includes(e.code)) || e instanceof EOFError);
    expect(outcome.got).to.equal('still here');
  });
});
