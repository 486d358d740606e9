/**
 * Sockets at work on the chosen poller backend: an echo server with a coroutine per connection,
 * and 1,000 concurrent clients, each a coroutine sending framed messages and checking the echo.
 * Prints a short summary.
 *
 * Run: `npx tsx examples/socket-demo.ts` (backend: ASYNCORO_POLLER=epoll|poll|select, or
 * `--poller poll --mode exclusive`).
 */
import { AsyncSocket, Scheduler, SocketClosedError, spawn, type BackendName, type PollerMode } from '../lib/index.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const CLIENTS = 1000;
const ROUNDS = 20;
const poller = arg('poller') as BackendName | undefined;
const mode = arg('mode') as PollerMode | undefined;
const sched = new Scheduler({ ...(poller ? { poller } : {}), ...(mode ? { mode } : {}) });

function* main(): Generator<unknown, void, unknown> {
  const t0 = performance.now();
  const server = AsyncSocket.tcp({ family: 4 });
  yield* server.bind({ host: '127.0.0.1', port: 0 });
  server.listen(1024);
  const port = (server.localAddress as { port: number }).port;
  let served = 0;
  spawn(function* () {
    for (;;) {
      let conn: AsyncSocket;
      try {
        conn = yield* server.accept();
      } catch (e) {
        if (e instanceof SocketClosedError) return;
        throw e;
      }
      served++;
      spawn(function* () {
        try {
          for (;;) yield* conn.sendMsg(yield* conn.recvMsg());
        } catch {
          // The client closed its end: this connection's coroutine ends.
        } finally {
          conn.close();
        }
      });
    }
  });

  let bytes = 0;
  const clients = Array.from({ length: CLIENTS }, (_, id) =>
    spawn(function* () {
      const sock = AsyncSocket.tcp({ family: 4 }).setNoDelay();
      yield* sock.connect({ host: '127.0.0.1', port }, { timeout: 10_000 });
      for (let r = 0; r < ROUNDS; r++) {
        const msg = Buffer.from(`client ${id} round ${r} `.repeat(1 + (r % 4)));
        yield* sock.sendMsg(msg);
        const back = yield* sock.recvMsg({ timeout: 10_000 });
        if (!back.equals(msg)) throw new Error(`client ${id}: the echo differs`);
        bytes += back.length;
      }
      sock.close();
    }),
  );
  for (const c of clients) yield* c.finish(60_000);
  server.close();
  const ms = performance.now() - t0;
  const trips = CLIENTS * ROUNDS;
  console.log(`asyncoro socket demo on ${sched.backend} (${sched.mode} mode)`);
  console.log(`  connections served     ${served.toLocaleString('en-US')} (a coroutine each, plus one per client)`);
  console.log(`  framed round trips     ${trips.toLocaleString('en-US')}, ${(bytes / 1e6).toFixed(1)} MB echoed, every byte checked`);
  console.log(`  elapsed                ${ms.toFixed(0)} ms (${Math.round((trips / ms) * 1000).toLocaleString('en-US')} round trips/s), RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
}

const m = sched.spawn(main);
if (sched.mode === 'exclusive') sched.run();
m.value().then(
  () => sched.close(),
  (e: unknown) => {
    console.error(e);
    sched.close();
    process.exitCode = 1;
  },
);
