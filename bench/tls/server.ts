/**
 * A TLS echo server for bench/tls.ts, in a process of its own so its CPU time can be read from
 * /proc: `server.ts <certs-dir> node` (Node's tls) or `server.ts <certs-dir> asyncoro <backend>
 * <mode> <engine>`. Prints its port, then serves until killed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { spawn } from '../../lib/core/coro.js';
import type { BackendName, PollerMode } from '../../lib/core/poller.js';
import { Scheduler } from '../../lib/core/scheduler.js';
import { AsyncSocket } from '../../lib/io/socket.js';
import type { TlsEngineName, TlsSocket } from '../../lib/io/tls.js';

const [dir, kind, backend, mode, engine] = process.argv.slice(2);
if (dir === undefined) {
  console.error('usage: server.ts <certs-dir> node | asyncoro <backend> <mode> <engine>');
  process.exit(2);
}
const key = readFileSync(join(dir, 'server.key'));
const cert = readFileSync(join(dir, 'server.pem'));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(0));

if (kind === 'node') {
  const server = createServer({ key, cert, noDelay: true }, (c) => {
    c.on('data', (d) => c.write(d));
    c.on('error', () => c.destroy());
  });
  // Clients that reset the connection (the handshake benchmark does) are not errors here.
  server.on('tlsClientError', () => {});
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
    const a = server.address();
    console.log(typeof a === 'object' && a !== null ? a.port : 0);
  });
} else if (kind === 'asyncoro') {
  const sched = new Scheduler({ poller: backend as BackendName, mode: mode as PollerMode });
  sched.spawn(function* () {
    const l = AsyncSocket.tcp();
    // Accepted sockets inherit TCP_NODELAY (Linux): the handshake's flights go out at once.
    l.setReuseAddress().setNoDelay();
    yield* l.bind({ host: '127.0.0.1', port: 0 });
    l.listen(4096);
    const server = yield* l.startTls({ key, cert, engine: engine as TlsEngineName });
    console.log((l.localAddress as { port: number }).port);
    // Each connection's read buffer comes from a free list, as a server that takes many short
    // connections would do it: a fresh 64 KB ArrayBuffer per connection (over 1,000 a second
    // in the handshake load) makes V8 run a full mark-compact every few dozen connections.
    const buffers: Buffer[] = [];
    for (;;) {
      let conn: TlsSocket;
      try {
        conn = yield* server.accept();
      } catch {
        // A handshake that failed (a client that went away): the next one.
        continue;
      }
      // TCP_NODELAY came from the listener.
      spawn(function* () {
        const buf = buffers.pop() ?? Buffer.allocUnsafeSlow(65536);
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
        if (buffers.length < 256) buffers.push(buf);
      });
    }
  });
  if (sched.mode === 'exclusive') sched.run();
} else {
  console.error('usage: server.ts <certs-dir> node | asyncoro <backend> <mode> <engine>');
  process.exit(2);
}
