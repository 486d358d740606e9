/**
 * The `asyncoro node` daemon as a user runs it: it hosts the generator functions of a module,
 * prints a status line a person can read, and leaves the network cleanly on SIGTERM and SIGINT.
 */
import { expect } from 'chai';
import { spawn as spawnProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { self } from '../../lib/core/coro.js';
import { receive } from '../../lib/msg/mailbox.js';
import { joinNetwork, PeerStatus, peerStatus } from '../../lib/remote/network.js';
import { RCI } from '../../lib/remote/rci.js';
import { RemoteError } from '../../lib/remote/errors.js';
import { closeSchedulers, makeScheduler, runCoro } from '../helpers/coro.js';
import { group4, loopback, probe } from '../helpers/multicast.js';
import { freeUdpPort } from '../helpers/peers.js';
import { certs } from '../helpers/tls.js';

const cli = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'lib', 'cli', 'asyncoro.ts');

function daemon(args: string[]) {
  const p = spawnProcess(process.execPath, ['--import', 'tsx', cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const d = { p, out: '', err: '', exited: new Promise<{ code: number | null; signal: string | null }>((r) => p.on('exit', (code, signal) => r({ code, signal }))) };
  p.stdout.on('data', (x) => (d.out += x));
  p.stderr.on('data', (x) => (d.err += x));
  return d;
}

async function lineMatching(d: { out: string; err: string }, re: RegExp, ms = 20000): Promise<RegExpMatchArray> {
  const end = Date.now() + ms;
  for (;;) {
    const m = re.exec(d.out);
    if (m !== null) return m;
    if (Date.now() > end) throw new Error(`no ${re} in:\n${d.out}\n${d.err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('cli: asyncoro node', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'asyncoro-cli-'));
    writeFileSync(
      join(dir, 'tasks.js'),
      'export function* double(n) { return 2 * n }\nexport function* explode(what) { throw new TypeError(`cannot ${what}`) }\nexport const notAFunction = 3;\n',
    );
  });
  afterEach(() => {
    closeSchedulers();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`hosts the exported generator functions, shows a status line, and leaves cleanly on ${signal}`, async () => {
      const d = daemon(['node', '--secret', 'cli-secret', '--name', 'worker', '--no-discover', '--register', join(dir, 'tasks.js'), '--status-ms', '100']);
      const m = await lineMatching(d, /^asyncoro node worker at (127\.0\.0\.1:\d+) \| 0 peer\(s\) online \| rci: double, explode \| coroutines: \d+/m);
      const loc = m[1]!;
      const { sched } = makeScheduler();
      const r = await runCoro(sched, function* () {
        const net = yield* joinNetwork({ name: 'user', secret: 'cli-secret', discover: false, peers: [loc], log: () => {} });
        try {
          peerStatus(self());
          yield* receive((x): x is PeerStatus => x instanceof PeerStatus && x.status === 'online', 10000);
          const double = yield* RCI.locate<[number], number>('double', { location: loc, timeout: 5000 });
          const value = yield* (yield* double.call(21)).finish(5000);
          const explode = yield* RCI.locate('explode', { location: loc, timeout: 5000 });
          let err: unknown;
          try {
            yield* (yield* explode.call('divide')).finish(5000);
          } catch (e) {
            err = e;
          }
          yield lineMatching(d, /1 peer\(s\) online \(user\)/);
          d.p.kill(signal);
          const off = yield* receive((x): x is PeerStatus => x instanceof PeerStatus && x.status === 'offline', 5000, null);
          return { value, err, off };
        } finally {
          net.closeNow();
        }
      });
      const exit = await d.exited;
      expect(r.value).to.equal(42);
      expect(r.err).to.be.instanceOf(RemoteError);
      expect((r.err as RemoteError).remoteName).to.equal('TypeError');
      expect((r.err as RemoteError).message).to.equal('cannot divide');
      expect(r.off?.name).to.equal('worker');
      expect(exit).to.deep.equal({ code: 0, signal: null });
      expect(d.out).to.match(new RegExp(`asyncoro node: ${signal}: leaving the network`));
      expect(d.out).to.match(/peer user at 127\.0\.0\.1:\d+ online/);
    });
  }

  it('--multicast GROUP: the daemon discovers (and is discovered) by multicast; a group that is none is refused', async function () {
    const no = await probe(4, group4(), loopback.address);
    if (no !== null) {
      console.log(`    (not run: ${no})`);
      this.skip();
    }
    const group = group4();
    const udpPort = freeUdpPort();
    const d = daemon(['node', '--secret', 'cli-secret', '--name', 'mc', '--multicast', group, '--udp-port', String(udpPort), '--status-ms', '100']);
    try {
      await lineMatching(d, /^asyncoro node mc at 127\.0\.0\.1:\d+ \| 0 peer\(s\) online/m);
      const { sched } = makeScheduler();
      const st = await runCoro(sched, function* () {
        const net = yield* joinNetwork({ name: 'user', secret: 'cli-secret', udpPort, discover: { multicast: group, interval: 200 }, log: () => {} });
        try {
          peerStatus(self());
          return yield* receive((x): x is PeerStatus => x instanceof PeerStatus && x.status === 'online', 10000, null);
        } finally {
          net.closeNow();
        }
      });
      expect(st?.name).to.equal('mc');
      await lineMatching(d, /peer user at 127\.0\.0\.1:\d+ online/);
    } finally {
      d.p.kill('SIGTERM');
      await d.exited;
    }
    const bad = daemon(['node', '--secret', 'cli-secret', '--multicast', '10.1.2.3']);
    expect((await bad.exited).code).to.equal(1);
    expect(bad.err).to.match(/cannot join the network: discover\.multicast must be a multicast group/);
    const both = daemon(['node', '--secret', 'cli-secret', '--multicast', group, '--no-discover']);
    expect((await both.exited).code).to.equal(2);
    expect(both.err).to.match(/--multicast and --no-discover exclude each other/);
  });

  it('--tls-cert/--tls-key/--tls-ca: a daemon without a secret whose links are mutual TLS', async () => {
    const c = certs();
    const f = (n: string) => join(c.dir, n);
    const d = daemon(['node', '--tls-cert', f('peer.pem'), '--tls-key', f('peer.key'), '--tls-ca', f('ca.pem'), '--name', 'worker', '--no-discover', '--register', join(dir, 'tasks.js'), '--status-ms', '100']);
    const m = await lineMatching(d, /^asyncoro node worker at (127\.0\.0\.1:\d+) \(mutual TLS\) \| 0 peer\(s\) online/m);
    const loc = m[1]!;
    const { sched } = makeScheduler();
    const r = await runCoro(sched, function* () {
      const net = yield* joinNetwork({ name: 'user', tls: { key: c.peerKey, cert: c.peer, ca: c.ca }, discover: false, peers: [loc], log: () => {} });
      try {
        peerStatus(self());
        yield* receive((x): x is PeerStatus => x instanceof PeerStatus && x.status === 'online', 10000);
        const double = yield* RCI.locate<[number], number>('double', { location: loc, timeout: 5000 });
        return { value: yield* (yield* double.call(21)).finish(5000), tls: net.peers()[0]?.tls };
      } finally {
        net.closeNow();
      }
    });
    d.p.kill('SIGTERM');
    expect(await d.exited).to.deep.equal({ code: 0, signal: null });
    expect(r.value).to.equal(42);
    expect(r.tls?.protocol).to.equal('TLSv1.3');
    // A user with the secret's habits but no certificate: the daemon takes no plain connection.
    for (const bad of [
      ['node', '--tls-cert', f('peer.pem'), '--tls-key', f('peer.key')],
      ['node', '--secret', 's', '--tls-servername', 'x'],
      ['node', '--tls-cert', f('missing.pem'), '--tls-key', f('peer.key'), '--tls-ca', f('ca.pem')],
    ]) {
      const e = daemon(bad);
      expect((await e.exited).code, bad.join(' ')).to.equal(2);
      expect(e.err).to.match(/--tls-|missing\.pem/);
    }
  });

  it('refuses to start without a secret, with the usage', async () => {
    const d = daemon(['node', '--register', join(dir, 'tasks.js')]);
    const exit = await d.exited;
    expect(exit.code).to.equal(2);
    expect(d.err).to.match(/a secret is required/);
    expect(d.err).to.match(/usage: asyncoro node/);
  });
});
