/**
 * Helpers for the TLS tests: certificates made once per test process by scripts/test-certs.sh
 * (the openssl command line), `openssl s_server` and `s_client` as peers, listeners and
 * connections of our own, and the matrix of engines and pollers every TLS test runs on.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backends, type BackendName, type PollerMode } from '../../lib/core/poller.js';
import { native } from '../../lib/native/binding.js';
import { AsyncSocket } from '../../lib/io/socket.js';
import type { TlsEngineName, TlsOptions, TlsSocket } from '../../lib/io/tls.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

export interface Certs {
  dir: string;
  ca: string;
  server: string;
  serverKey: string;
  alt: string;
  altKey: string;
  expired: string;
  expiredKey: string;
  wronghost: string;
  wronghostKey: string;
  client: string;
  clientKey: string;
  otherCa: string;
  stranger: string;
  strangerKey: string;
  self: string;
  peer: string;
  peerKey: string;
  intruder: string;
  intruderKey: string;
  selfKey: string;
}

let made: Certs | undefined;

/** The test certificates (see scripts/test-certs.sh), made on first use and removed at exit. */
export function certs(): Certs {
  if (made === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'asyncoro-certs-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    execFileSync('bash', [join(root, 'scripts', 'test-certs.sh'), dir], { stdio: ['ignore', 'ignore', 'inherit'] });
    const r = (name: string) => readFileSync(join(dir, name), 'utf8');
    made = {
      dir,
      ca: r('ca.pem'),
      server: r('server.pem'),
      serverKey: r('server.key'),
      alt: r('alt.pem'),
      altKey: r('alt.key'),
      expired: r('expired.pem'),
      expiredKey: r('expired.key'),
      wronghost: r('wronghost.pem'),
      wronghostKey: r('wronghost.key'),
      client: r('client.pem'),
      clientKey: r('client.key'),
      otherCa: r('other-ca.pem'),
      stranger: r('stranger.pem'),
      strangerKey: r('stranger.key'),
      self: r('self.pem'),
      selfKey: r('self.key'),
      peer: r('peer.pem'),
      peerKey: r('peer.key'),
      intruder: r('intruder.pem'),
      intruderKey: r('intruder.key'),
    };
  }
  return made;
}

/** One cell of the matrix: a TLS engine on a poller. */
export interface TlsCell {
  engine: TlsEngineName;
  poller: BackendName;
  mode: PollerMode;
  label: string;
}

/** Both engines (native only where the running Node allows it) on epoll and io_uring, where present. */
export function tlsMatrix(): TlsCell[] {
  const engines: TlsEngineName[] = native.tls.openssl.available ? ['native', 'node'] : ['node'];
  const pollers = backends().filter((b) => b.name === 'epoll' || b.name === 'io_uring');
  const cells: TlsCell[] = [];
  for (const engine of engines) {
    for (const b of pollers) cells.push({ engine, poller: b.name, mode: b.modes[0]!, label: `${engine} engine on ${b.name} (${b.modes[0]})` });
  }
  return cells;
}

/** A TLS listener of ours on 127.0.0.1 with an OS-chosen port. */
export function* tlsListener(options: TlsOptions, host = '127.0.0.1'): Generator<unknown, [TlsSocket, number], unknown> {
  const l = AsyncSocket.tcp();
  l.setReuseAddress();
  yield* l.bind({ host, port: 0 });
  l.listen();
  const a = l.localAddress;
  if (a.family === 'unix') throw new Error('unexpected unix address');
  return [yield* l.startTls(options), a.port];
}

/** Connects to `port` and starts TLS as the client. */
export function* tlsConnect(port: number, options: TlsOptions, host = '127.0.0.1'): Generator<unknown, TlsSocket, unknown> {
  const s = AsyncSocket.tcp();
  s.setNoDelay();
  yield* s.connect({ host, port }, { timeout: 5000 });
  return yield* s.startTls(options);
}

/** A running `openssl s_server`. */
export interface OpensslServer {
  port: number;
  proc: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves once its output matches `re` (or rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  stop(): void;
}

/** Starts `openssl s_server` on 127.0.0.1 (any free port) with `args`, in the certificates' directory. */
export function opensslServer(args: string[]): Promise<OpensslServer> {
  return new Promise((resolve, reject) => {
    const proc = spawn('openssl', ['s_server', '-accept', '127.0.0.1:0', ...args], { cwd: certs().dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const waiters: (() => void)[] = [];
    const onData = (d: Buffer) => {
      out += d.toString('latin1');
      for (const w of waiters.splice(0)) w();
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    const server: OpensslServer = {
      port: 0,
      proc,
      output: () => out,
      waitFor(re, ms = 5000) {
        return new Promise((res, rej) => {
          const timer = setTimeout(() => rej(new Error(`s_server never printed ${re}; it printed:\n${out}`)), ms);
          const check = () => {
            const m = re.exec(out);
            if (m !== null) {
              clearTimeout(timer);
              res(m[0]);
            } else waiters.push(check);
          };
          check();
        });
      },
      stop: () => proc.kill('SIGKILL'),
    };
    proc.once('exit', (code) => reject(new Error(`s_server exited (${code}): ${out}`)));
    server.waitFor(/ACCEPT 127\.0\.0\.1:(\d+)/).then((line) => {
      server.port = Number(/:(\d+)$/.exec(line)![1]);
      resolve(server);
    }, reject);
  });
}

/** Runs `openssl s_client` against 127.0.0.1:`port` with `input` on its stdin; resolves when it exits. */
export function opensslClient(port: number, args: string[], input = '', killAfterMs = 10000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const proc = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { cwd: certs().dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString('latin1')));
    const killer = setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
    proc.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, out, err });
    });
    // Kept open: s_client ends the connection when its stdin ends.
    if (input !== '') proc.stdin.write(input);
  });
}
