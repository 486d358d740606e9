/**
 * An echo server for bench/echo.ts, in a process of its own so its CPU time can be read from
 * /proc: `server.ts asyncoro <backend> <mode>` or `server.ts node`. Prints its port, then serves
 * until killed.
 */
import { createServer } from 'node:net';
import { AsyncSocket } from '../../lib/io/socket.js';
import { Scheduler } from '../../lib/core/scheduler.js';
import { spawn } from '../../lib/core/coro.js';
import type { BackendName, PollerMode } from '../../lib/core/poller.js';

const [kind, backend, mode, variant] = process.argv.slice(2);
// 'idle' (last argument): connections are held, each with its coroutine waiting in recv, for the
// idle-connection memory benchmark; otherwise they echo.
const idle = (kind === 'node' ? backend : variant) === 'idle';
// A normal exit on a signal, so --cpu-prof can write its profile (integrated and thread modes).
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(0));

if (kind === 'node') {
  const server = createServer((c) => {
    c.setNoDelay(true);
    if (!idle) c.on('data', (d) => c.write(d));
    c.on('error', () => c.destroy());
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
    const a = server.address();
    console.log(typeof a === 'object' && a !== null ? a.port : 0);
  });
} else if (kind === 'asyncoro') {
  const sched = new Scheduler({ poller: backend as BackendName, mode: mode as PollerMode });
  sched.spawn(function* () {
    const l = AsyncSocket.tcp();
    l.setReuseAddress();
    yield* l.bind({ host: '127.0.0.1', port: 0 });
    l.listen(4096);
    console.log((l.localAddress as { port: number }).port);
    for (;;) {
      const conn = yield* l.accept();
      conn.setNoDelay();
      if (idle) {
        spawn(function* () {
          try {
            while ((yield* conn.recv(1)).length > 0);
          } catch {
            // The client went away.
          }
          conn.close();
        });
        continue;
      }
      spawn(function* () {
        const buf = Buffer.allocUnsafe(65536);
        try {
          for (;;) {
            const n = yield* conn.recvInto(buf);
            if (n === 0) break;
            yield* conn.sendall(buf.subarray(0, n));
          }
        } catch {
          // A client that goes away mid-message ends only its own coroutine.
        }
        conn.close();
      });
    }
  });
  if (sched.mode === 'exclusive') sched.run();
} else {
  console.error('usage: server.ts node | asyncoro <backend> <mode>');
  process.exit(2);
}
