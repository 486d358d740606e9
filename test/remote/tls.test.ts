/**
 * Peers over mutual TLS, in real processes on loopback: nodes with certificates from the test CA
 * find each other and work without a shared secret; a node whose certificate another CA issued
 * is refused whether it dials or is dialled; a node without TLS is refused by one with it; and
 * `openssl s_client` sees a TLS server that asks for a client certificate on a peer's port.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { Coro, self, sleep } from '../../lib/core/coro.js';
import { receive } from '../../lib/msg/mailbox.js';
import { joinNetwork, PeerStatus, peerStatus, type Network, type NetworkOptions } from '../../lib/remote/network.js';
import { RCI } from '../../lib/remote/rci.js';
import type { RemoteCoro } from '../../lib/remote/refs.js';
import { native } from '../../lib/native/binding.js';
import { closeSchedulers, makeScheduler, runCoro } from '../helpers/coro.js';
import { freeUdpPort, startPeer, stopPeers } from '../helpers/peers.js';
import { certs } from '../helpers/tls.js';

function withNetwork<R>(options: NetworkOptions, body: (net: Network) => Generator<unknown, R, unknown>): Promise<R> {
  const { sched } = makeScheduler();
  return runCoro(sched, function* () {
    const net = yield* joinNetwork({ log: () => {}, ...options });
    try {
      return yield* body(net);
    } finally {
      net.closeNow();
    }
  });
}

function* waitOnline(timeout: number): Generator<unknown, PeerStatus | null, unknown> {
  return yield* receive((m): m is PeerStatus => m instanceof PeerStatus && m.status === 'online', timeout, null);
}

/** Runs `openssl s_client` against a port with the given certificate; resolves with its output. */
function sClient(port: number, dir: string, cert: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', 'ca.pem', '-cert', `${cert}.pem`, '-key', `${cert}.key`, '-verify_return_error', '-brief'], {
      cwd: dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', () => resolve(out));
    // Say nothing: the peer waits for its own hello and closes after its handshake timeout.
    setTimeout(() => p.stdin.end(), 1500);
  });
}

const engines = native.tls.openssl.available ? (['native', 'node'] as const) : (['node'] as const);

describe('remote/tls (peer processes on loopback)', function () {
  this.timeout(60000);
  afterEach(async () => {
    closeSchedulers();
    await stopPeers();
  });

  for (const engine of engines) {
    const other = engines.length === 2 ? (engine === 'native' ? 'node' : 'native') : engine;
    it(`mutual TLS and no secret: discovery, messages and RCI between a ${engine}-engine node and a ${other}-engine process`, async () => {
      const c = certs();
      const udpPort = freeUdpPort();
      const b = await startPeer({ name: 'b', udpPort, heartbeat: 1000, tls: { key: c.peerKey, cert: c.peer, ca: c.ca, engine: other } });
      const r = await withNetwork({ name: 'a', udpPort, heartbeat: 1000, tls: { key: c.peerKey, cert: c.peer, ca: c.ca, engine } }, function* (net) {
        peerStatus(self());
        const st = yield* waitOnline(10000);
        if (st === null) throw new Error('b never came online');
        const echo = (yield* Coro.locate('echo', { location: 'b', timeout: 5000 })) as RemoteCoro;
        const big = Buffer.alloc(200000, 7);
        echo.send([self(), { when: new Date(5), big }]);
        const back = (yield* receive<unknown>(5000, 'timeout')) as [string, { when: Date; big: Buffer }];
        const square = yield* RCI.locate('square', { location: 'b', timeout: 5000 });
        const rc = yield* square.call(12);
        const result = yield* rc.finish(5000);
        return { st, back, result, info: net.peers().find((p) => p.name === 'b'), stats: net.statistics() };
      });
      expect(r.st.location).to.equal(`127.0.0.1:${b.port}`);
      expect(r.back[0]).to.equal('echo');
      expect(r.back[1].when).to.be.instanceOf(Date);
      expect(Buffer.compare(r.back[1].big, Buffer.alloc(200000, 7))).to.equal(0);
      expect(r.result).to.equal(144);
      expect(r.info?.tls?.protocol).to.equal('TLSv1.3');
      expect(r.info?.tls?.subject).to.contain('CN=asyncoro peer');
      expect(r.stats.authFailures).to.equal(0);
      await b.waitFor(/^status a online$/);
    });
  }

  it('a node with a certificate from another CA is refused when it dials and when it is dialled', async () => {
    const c = certs();
    const trusted = { key: c.peerKey, cert: c.peer, ca: c.ca };
    const logs: string[] = [];
    // This process is the intruder: it trusts the test CA, but its own certificate is the other CA's.
    const b = await startPeer({ name: 'b', discover: false, tls: trusted });
    const r = await withNetwork(
      { name: 'intruder', discover: false, peers: [`127.0.0.1:${b.port}`], log: (l) => logs.push(l), tls: { key: c.intruderKey, cert: c.intruder, ca: c.ca } },
      function* (net) {
        peerStatus(self());
        // And a trusted process that dials the intruder: it refuses the intruder's certificate.
        let settled = false;
        const dialler = startPeer({ name: 'd', discover: false, peers: [net.location], tls: trusted });
        const refusedLine = dialler.then((d) => d.waitFor(/refused peer .*certificate/i, 15000, 'err'));
        refusedLine.then(
          () => (settled = true),
          () => (settled = true),
        );
        const start = Date.now();
        while (!settled && Date.now() - start < 20000) yield* sleep(50);
        const st = yield* receive((m): m is PeerStatus => m instanceof PeerStatus && m.status === 'online', 0, null);
        return { st, dialler, refusedLine, peers: net.peers() };
      },
    );
    const d = await r.dialler;
    expect(await r.refusedLine).to.match(/certificate/i);
    expect(r.st, 'the intruder saw a peer online').to.equal(null);
    expect(r.peers.filter((p) => p.status === 'online')).to.deep.equal([]);
    // b refused the intruder's client certificate when the intruder dialled it.
    await b.waitFor(/refused connection from .*(certificate|handshake|unknown ca)/i, 5000, 'err');
    expect(logs.join('\n')).to.match(/certificate|handshake|refused/i);
    expect(b.out).to.not.match(/status intruder online/);
    expect(d.out).to.not.match(/status intruder online/);
  });

  it('a node without TLS, holding the secret, is refused by a node with TLS and the same secret', async () => {
    const c = certs();
    const b = await startPeer({ name: 'b', secret: 'shared', discover: false, tls: { key: c.peerKey, cert: c.peer, ca: c.ca } });
    const st = await withNetwork({ name: 'plain', secret: 'shared', discover: false, peers: [`127.0.0.1:${b.port}`], reconnectFor: 1500 }, function* () {
      peerStatus(self());
      return yield* waitOnline(2500);
    });
    expect(st).to.equal(null);
    await b.waitFor(/refused connection from/, 5000, 'err');
  });

  it('TLS and a secret together: the right certificate with the wrong secret is refused', async () => {
    const c = certs();
    const tls = { key: c.peerKey, cert: c.peer, ca: c.ca };
    const b = await startPeer({ name: 'b', secret: 'right', discover: false, tls });
    const st = await withNetwork({ name: 'a', secret: 'wrong', discover: false, peers: [`127.0.0.1:${b.port}`], reconnectFor: 1500, tls }, function* () {
      peerStatus(self());
      return yield* waitOnline(2500);
    });
    expect(st).to.equal(null);
    await b.waitFor(/refused connection from/, 5000, 'err');
  });

  it("openssl s_client sees a TLS 1.3 server on a peer's port that verifies and asks for a client certificate", async () => {
    const c = certs();
    const b = await startPeer({ name: 'b', discover: false, tls: { key: c.peerKey, cert: c.peer, ca: c.ca, handshakeTimeout: 3000 } });
    const ok = await sClient(b.port, c.dir, 'peer');
    expect(ok).to.match(/Protocol version: TLSv1\.3/);
    expect(ok).to.match(/Verification: OK/);
    expect(ok).to.match(/Peer certificate: CN ?= ?asyncoro peer/);
    // A client certificate from another CA: the handshake fails on the peer's side.
    const refused = await sClient(b.port, c.dir, 'intruder');
    expect(refused).to.match(/alert|error|unknown ca/i);
    await b.waitFor(/refused connection from .*/, 5000, 'err');
    // The peer is still there for a trusted node.
    const st = await withNetwork({ name: 'a', discover: false, peers: [`127.0.0.1:${b.port}`], tls: { key: c.peerKey, cert: c.peer, ca: c.ca } }, function* () {
      peerStatus(self());
      const s = yield* waitOnline(5000);
      yield* sleep(10);
      return s;
    });
    expect(st?.name).to.equal('b');
  });
});
