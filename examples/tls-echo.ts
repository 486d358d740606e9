/**
 * TLS at work: a mutual-TLS echo server (each client shows a certificate from the test CA) and
 * 50 clients, each a coroutine sending framed messages over TLS and checking the echo. Prints a
 * short summary. Certificates come from a directory made by scripts/test-certs.sh, or are made
 * in a temporary one (that needs the openssl command).
 *
 * Run: `npx tsx examples/tls-echo.ts [--certs DIR] [--engine native|node] [--poller epoll]`
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AsyncSocket, Scheduler, SocketClosedError, spawn, TlsError, type BackendName, type TlsEngineName, type TlsSocket } from '../lib/index.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const CLIENTS = 20;
const ROUNDS = 20;
let dir = arg('certs');
if (dir === undefined) {
  dir = mkdtempSync(join(tmpdir(), 'asyncoro-tls-echo-'));
  const made = dir;
  process.on('exit', () => rmSync(made, { recursive: true, force: true }));
  execFileSync('bash', [join(fileURLToPath(new URL('.', import.meta.url)), '..', 'scripts', 'test-certs.sh'), dir]);
}
const pem = (name: string) => readFileSync(join(dir, name));
const engine = arg('engine') as TlsEngineName | undefined;
const poller = arg('poller') as BackendName | undefined;
const sched = new Scheduler(poller ? { poller } : {});

function* main(): Generator<unknown, void, unknown> {
  const t0 = performance.now();
  const l = AsyncSocket.tcp({ family: 4 }).setReuseAddress();
  yield* l.bind({ host: '127.0.0.1', port: 0 });
  l.listen(1024);
  const port = (l.localAddress as { port: number }).port;
  // One options object for the listener: one context for every connection.
  const server = yield* l.startTls({ key: pem('server.key'), cert: pem('server.pem'), ca: pem('ca.pem'), requestCert: true, ...(engine ? { engine } : {}) });
  const subjects = new Set<string>();
  spawn(function* () {
    for (;;) {
      let conn: TlsSocket;
      try {
        conn = yield* server.accept();
      } catch (e) {
        if (e instanceof SocketClosedError) return;
        if (e instanceof TlsError) continue; // a client whose handshake failed
        throw e;
      }
      subjects.add(conn.getPeerX509Certificate()!.subject);
      spawn(function* () {
        try {
          for (;;) {
            const m = yield* conn.recvMsg();
            if (m.length === 0) break;
            yield* conn.sendMsg(m);
          }
        } finally {
          conn.close();
        }
      });
    }
  });

  const client = { ca: pem('ca.pem'), servername: 'localhost', key: pem('client.key'), cert: pem('client.pem'), ...(engine ? { engine } : {}) };
  let protocol = '';
  let used = '';
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) {
    clients.push(
      spawn(function* () {
        const s = AsyncSocket.tcp();
        yield* s.connect({ host: '127.0.0.1', port });
        const tls = yield* s.startTls(client);
        protocol = tls.protocol;
        used = tls.engine;
        for (let r = 0; r < ROUNDS; r++) {
          const msg = `client ${i} round ${r} `.repeat(r + 1);
          yield* tls.sendMsg(msg);
          if ((yield* tls.recvMsg()).toString() !== msg) throw new Error(`client ${i}: wrong echo`);
        }
        yield* tls.sendMsg('');
        tls.close();
      }),
    );
  }
  for (const c of clients) yield* c.finish();
  server.close();
  const ms = performance.now() - t0;
  console.log(`tls echo: ${CLIENTS} clients x ${ROUNDS} messages over ${protocol} (${used} engine), every echo checked`);
  console.log(`client certificates seen: ${[...subjects].join(', ')}`);
  console.log(`time: ${ms.toFixed(0)} ms on ${sched.backend} (${sched.mode})`);
}

const done = sched.spawn(main);
if (sched.mode === 'exclusive') sched.run();
done.value().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
