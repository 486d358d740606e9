/**
 * Peers in real processes on loopback: discovery (by broadcast and by multicast), messages with
 * their types, deliver, locate, RCI, channels, relaying, a peer killed in the middle of a stream.
 */
import { expect } from 'chai';
import { Coro, self, sleep, spawn } from '../../lib/core/coro.js';
import { receive } from '../../lib/msg/mailbox.js';
import { Channel } from '../../lib/msg/channel.js';
import { joinNetwork, PeerStatus, peerStatus, type Network, type NetworkOptions } from '../../lib/remote/network.js';
import { RemoteChannel, RemoteCoro } from '../../lib/remote/refs.js';
import { RCI } from '../../lib/remote/rci.js';
import { PeerLostError, RemoteError, SendQueueFullError } from '../../lib/remote/errors.js';
import { AsyncSocket } from '../../lib/io/socket.js';
import { SystemError } from '../../lib/core/errors.js';
import { closeSchedulers, makeScheduler, runCoro } from '../helpers/coro.js';
import { freeUdpPort, startPeer, stopPeers, type PeerProcess } from '../helpers/peers.js';
import { group4, group6, loopback, probe, realInterface, type RealInterface } from '../helpers/multicast.js';
import { decodeAnnouncement, PING } from '../../lib/remote/discovery.js';

const SECRET = 'peers-test-secret';

/** Joins a network in this process for the duration of `body`. */
function withNetwork<R>(options: NetworkOptions, body: (net: Network) => Generator<unknown, R, unknown>): Promise<R> {
  const { sched } = makeScheduler();
  return runCoro(sched, function* () {
    const net = yield* joinNetwork({ secret: SECRET, log: () => {}, ...options });
    try {
      return yield* body(net);
    } finally {
      net.closeNow();
    }
  });
}

function* waitStatus(status: 'online' | 'offline', timeout = 10000): Generator<unknown, PeerStatus, unknown> {
  const st = yield* receive((m): m is PeerStatus => m instanceof PeerStatus && m.status === status, timeout, null);
  if (st === null) throw new Error(`no ${status} notice within ${timeout} ms`);
  return st;
}

describe('remote/peers (processes on loopback)', function () {
  this.timeout(60000);
  afterEach(async () => {
    closeSchedulers();
    await stopPeers();
  });

  it('discovers a peer by UDP broadcast and exchanges messages that keep Date, Map, Set, Buffer, typed arrays and bigint', async () => {
    const udpPort = freeUdpPort();
    const b = await startPeer({ name: 'b', secret: SECRET, udpPort, heartbeat: 1000 });
    const got = await withNetwork({ name: 'a', udpPort, heartbeat: 1000 }, function* () {
      peerStatus(self());
      const st = yield* waitStatus('online');
      const echo = yield* Coro.locate('echo', { timeout: 5000 });
      expect(echo).to.be.instanceOf(RemoteCoro);
      const value = {
        when: new Date(1700000000123),
        map: new Map<unknown, unknown>([[1, 'one'], ['two', { n: 2 }]]),
        set: new Set(['x', 3]),
        buf: Buffer.from('bytes'),
        f64: new Float64Array([1.5, -2]),
        i32: new Int32Array([7, -7]),
        big: 2n ** 70n,
        small: -5n,
        nested: [null, true, 'text', { deep: [1, 2, 3] }],
      };
      echo!.send([self(), value]);
      const back = (yield* receive<unknown>(5000, 'timeout')) as [string, typeof value];
      return { st, back, value };
    });
    expect(got.st.name).to.equal('b');
    expect(got.st.location).to.equal(`127.0.0.1:${b.port}`);
    expect(got.back[0]).to.equal('echo');
    expect(got.back[1]).to.deep.equal(got.value);
    expect(got.back[1].map).to.be.instanceOf(Map);
    expect(got.back[1].set).to.be.instanceOf(Set);
    expect(got.back[1].when).to.be.instanceOf(Date);
    expect(Buffer.isBuffer(got.back[1].buf)).to.equal(true);
    expect(got.back[1].f64).to.be.instanceOf(Float64Array);
    expect(typeof got.back[1].big).to.equal('bigint');
  });

  it('relays: two nodes that only know a hub are introduced to each other', async () => {
    const hub = await startPeer({ name: 'hub', secret: SECRET, discover: false });
    const c = await startPeer({ name: 'c', secret: SECRET, discover: false, peers: [`127.0.0.1:${hub.port}`] });
    const names = await withNetwork({ name: 'a', discover: false, peers: [`127.0.0.1:${hub.port}`] }, function* () {
      peerStatus(self());
      const seen = new Set<string>();
      while (seen.size < 2) seen.add((yield* waitStatus('online')).name);
      // A message straight to c, over the connection the relay made.
      const echo = (yield* Coro.locate('echo', { location: 'c', timeout: 5000 })) as RemoteCoro;
      echo.send([self(), 'direct']);
      expect(yield* receive(5000, 'timeout')).to.deep.equal(['echo', 'direct']);
      return [...seen].sort();
    });
    expect(names).to.deep.equal(['c', 'hub']);
    await c.waitFor(/^status a online$/);
  });

  it('a peer killed with SIGKILL mid-stream: offline notice, pending operations fail with PeerLostError, sends are dropped', async () => {
    const b = await startPeer({ name: 'b', secret: SECRET, discover: false, killAfter: 5000, heartbeat: 1000 });
    const r = await withNetwork({ name: 'a', discover: false, heartbeat: 1000, peers: [`127.0.0.1:${b.port}`] }, function* () {
      peerStatus(self());
      yield* waitStatus('online');
      const loc = `127.0.0.1:${b.port}`;
      const sink = (yield* Coro.locate('sink', { location: loc, timeout: 5000 })) as RemoteCoro;
      const forever = yield* RCI.locate('forever', { location: loc, timeout: 5000 });
      const lc = yield* forever.call();
      // A finish() pending on the peer when it dies.
      const waiter = spawn(function* () {
        try {
          yield* lc.finish();
          return 'finished';
        } catch (e) {
          return e;
        }
      });
      let sent = 0;
      while (sink.isAlive && sent < 100000) {
        sink.send(sent++);
        if (sent % 500 === 0) yield* sink.drain(5000);
      }
      const st = yield* waitStatus('offline');
      let deliverErr: unknown;
      try {
        yield* sink.deliver('after', 1000);
      } catch (e) {
        deliverErr = e;
      }
      sink.send('dropped');
      return { st, pending: yield* waiter.finish(5000), deliverErr, alive: sink.isAlive, sent };
    });
    const exit = await b.exited;
    expect(exit.signal).to.equal('SIGKILL');
    expect(r.st.name).to.equal('b');
    expect(r.pending).to.be.instanceOf(PeerLostError);
    expect(r.deliverErr).to.be.instanceOf(PeerLostError);
    expect(r.alive).to.equal(false);
    expect(r.sent).to.be.greaterThan(5000);
  });

  it('a peer that shuts down (SIGTERM) is offline at once, and one restarted on the same port is a new incarnation', async () => {
    const b = await startPeer({ name: 'b', secret: SECRET, discover: false, heartbeat: 30000 });
    const port = b.port;
    const r = await withNetwork({ name: 'a', discover: false, heartbeat: 30000, peers: [`127.0.0.1:${port}`] }, function* () {
      peerStatus(self());
      const on = yield* waitStatus('online');
      const old = (yield* Coro.locate('echo', { location: `127.0.0.1:${port}`, timeout: 5000 })) as RemoteCoro;
      const t0 = Date.now();
      void b.stop();
      const off = yield* waitStatus('offline', 5000);
      const offMs = Date.now() - t0;
      // Asked of the address while nobody is there: the restarted process answers it.
      const early = spawn(function* () {
        return (yield* Coro.locate('echo', { location: `127.0.0.1:${port}`, timeout: 15000 })) as RemoteCoro;
      });
      yield* sleep(200);
      yield startPeer({ name: 'b', secret: SECRET, discover: false, tcpPort: port });
      const again = yield* waitStatus('online', 15000);
      const fresh = (yield* Coro.locate('echo', { location: `127.0.0.1:${port}`, timeout: 5000 })) as RemoteCoro;
      const asked = yield* early.finish(5000);
      // No other notice: the leaving process took no connection after its goodbye.
      const more = yield* receive((m): m is PeerStatus => m instanceof PeerStatus, 300, null);
      return { on, off, offMs, again, oldAlive: old.isAlive, freshAlive: fresh.isAlive, asked, fresh, more };
    });
    expect(r.off.incarnation).to.equal(r.on.incarnation);
    // Well under the 90 s that heartbeats would take: the peer said goodbye.
    expect(r.offMs).to.be.lessThan(5000);
    expect(r.again.incarnation).to.not.equal(r.on.incarnation);
    expect(r.oldAlive).to.equal(false);
    expect(r.freshAlive).to.equal(true);
    expect(r.asked).to.equal(r.fresh);
    expect(r.more).to.equal(null);
  });

  it('a node leaving the network takes no new connection while it flushes its goodbyes', async () => {
    // c stops reading, so the close below keeps flushing the queue to it until its timeout.
    const c = await startPeer({ name: 'c', secret: SECRET, discover: false, heartbeat: 30000 });
    const r = await withNetwork({ name: 'a', discover: false, heartbeat: 30000, maxQueueBytes: 1024 * 1024, peers: [`127.0.0.1:${c.port}`] }, function* (net) {
      peerStatus(self());
      yield* waitStatus('online');
      const sink = (yield* Coro.locate('sink', { location: `127.0.0.1:${c.port}`, timeout: 5000 })) as RemoteCoro;
      c.proc.kill('SIGSTOP');
      const chunk = Buffer.alloc(64 * 1024, 7);
      let full = false;
      for (let i = 0; i < 4000 && !full; i++) {
        try {
          sink.send(chunk);
        } catch (e) {
          if (!(e instanceof SendQueueFullError)) throw e;
          full = true;
        }
        if (i % 8 === 7) yield* sleep(1);
      }
      const t0 = Date.now();
      const leaving = spawn(function* () {
        yield* net.close(1500);
      });
      yield* sleep(100);
      const sock = AsyncSocket.tcp();
      let refused: unknown = null;
      try {
        yield* sock.connect({ host: '127.0.0.1', port: net.port }, { timeout: 1000 });
      } catch (e) {
        refused = e;
      } finally {
        sock.close();
      }
      yield* leaving.finish(5000);
      c.proc.kill('SIGCONT');
      return { full, refused, closeMs: Date.now() - t0 };
    });
    expect(r.full).to.equal(true);
    // Still flushing when the connection was tried: it was refused, not accepted.
    expect(r.closeMs).to.be.greaterThan(1000);
    expect(r.refused).to.be.instanceOf(SystemError);
    expect((r.refused as SystemError).code).to.equal('ECONNREFUSED');
  });

  describe('with one peer process', () => {
    let b: PeerProcess;
    before(async () => {
      b = await startPeer({ name: 'b', secret: SECRET, discover: false }, [], true);
    });
    after(async () => {
      await b.stop();
    });

    it('deliver is acknowledged by the peer; messages to one coroutine keep their order', async () => {
      const r = await withNetwork({ name: 'a', discover: false, peers: [`127.0.0.1:${b.port}`] }, function* () {
        const echo = (yield* Coro.locate('echo', { location: `127.0.0.1:${b.port}`, timeout: 5000 })) as RemoteCoro;
        const acks: number[] = [];
        for (let i = 0; i < 3; i++) acks.push(yield* echo.deliver([self(), i], 5000));
        for (let i = 3; i < 2000; i++) echo.send([self(), i]);
        const order: number[] = [];
        for (let i = 0; i < 2000; i++) order.push(((yield* receive(5000, ['timeout', -1])) as [string, number])[1]);
        return { acks, order };
      });
      expect(r.acks).to.deep.equal([1, 1, 1]);
      expect(r.order).to.deep.equal(Array.from({ length: 2000 }, (_, i) => i));
    });

    it('locates registered coroutines, channels and RCIs on a peer, and finds nothing for unknown names', async () => {
      const r = await withNetwork({ name: 'a', discover: false, peers: [`127.0.0.1:${b.port}`] }, function* () {
        const loc = `127.0.0.1:${b.port}`;
        const echo = yield* Coro.locate('echo', { location: loc, timeout: 5000 });
        const none = yield* Coro.locate('no-such', { location: loc, timeout: 5000 });
        const news = yield* Channel.locate('news', { location: 'b', timeout: 5000 });
        const rci = yield* RCI.locate('square', { location: loc, timeout: 5000 });
        let missing: unknown;
        try {
          yield* RCI.locate('no-such-rci', { location: loc, timeout: 5000 });
        } catch (e) {
          missing = e;
        }
        return { echo, none, news, rci, missing };
      });
      expect(r.echo).to.be.instanceOf(RemoteCoro);
      expect((r.echo as RemoteCoro).name).to.equal('echo');
      expect(r.none).to.equal(undefined);
      expect(r.news).to.be.instanceOf(RemoteChannel);
      expect(r.rci.location).to.equal(`127.0.0.1:${b.port}`);
      expect((r.missing as { code: string }).code).to.equal('ERR_NOT_FOUND');
    });

    it('RCI: runs a registered function on the peer, returns its proxy, brings errors back with message and stack', async () => {
      const r = await withNetwork({ name: 'a', discover: false, peers: [`127.0.0.1:${b.port}`] }, function* () {
        const square = yield* RCI.locate<[number], number>('square', { location: `127.0.0.1:${b.port}`, timeout: 5000 });
        const rc = yield* square.call(12);
        const value = yield* rc.finish(5000);
        const fail = yield* RCI.locate<[string]>('fail', { location: `127.0.0.1:${b.port}`, timeout: 5000 });
        const fc = yield* fail.call('bad input 42');
        let err: unknown;
        try {
          yield* fc.finish(5000);
        } catch (e) {
          err = e;
        }
        // Terminating a remote coroutine: its finish() says it was terminated.
        const forever = yield* RCI.locate('forever', { location: `127.0.0.1:${b.port}`, timeout: 5000 });
        const lc = yield* forever.call();
        expect(lc.terminate()).to.equal(true);
        let term: unknown;
        try {
          yield* lc.finish(5000);
        } catch (e) {
          term = e;
        }
        return { rc, value, err, term };
      });
      expect(r.rc).to.be.instanceOf(RemoteCoro);
      expect(r.rc.name).to.equal('square');
      expect(r.value).to.equal(144);
      expect(r.err).to.be.instanceOf(RemoteError);
      const e = r.err as RemoteError;
      expect(e.message).to.equal('bad input 42');
      expect(e.remoteName).to.equal('RangeError');
      expect(e.remoteStack).to.match(/RangeError: bad input 42\n\s+at .*fail/);
      expect((r.term as RemoteError).remoteName).to.equal('TerminatedError');
    });

    it('channels: a local coroutine subscribes to a remote channel; a remote coroutine subscribes to a local one', async () => {
      const r = await withNetwork({ name: 'a', discover: false, peers: [`127.0.0.1:${b.port}`] }, function* () {
        const news = (yield* Channel.locate('news', { location: `127.0.0.1:${b.port}`, timeout: 5000 })) as RemoteChannel;
        expect(yield* news.subscribe(self(), 5000)).to.equal(true);
        expect(yield* news.subscribe(self(), 5000)).to.equal(false);
        news.send('hello subscribers');
        const first = yield* receive(5000, 'timeout');
        const n = yield* news.deliver('second', { n: 1, timeout: 5000 });
        const second = yield* receive(5000, 'timeout');
        expect(yield* news.unsubscribe(self(), 5000)).to.equal(true);
        // The other way: the peer's echo coroutine subscribes to a channel here.
        const local = new Channel('local-news');
        const echo = (yield* Coro.locate('echo', { location: `127.0.0.1:${b.port}`, timeout: 5000 })) as RemoteCoro;
        expect(local.subscribe(echo)).to.equal(true);
        local.send([self(), 'via a local channel']);
        const echoed = yield* receive(5000, 'timeout');
        local.close();
        return { first, n, second, echoed };
      });
      expect(r.first).to.equal('hello subscribers');
      expect(r.n).to.equal(1);
      expect(r.second).to.equal('second');
      expect(r.echoed).to.deep.equal(['echo', 'via a local channel']);
    });

    it('send throws SendQueueFullError when the queue to a peer is full; drain() waits for room', async () => {
      const r = await withNetwork({ name: 'a', discover: false, maxQueueBytes: 256 * 1024, peers: [`127.0.0.1:${b.port}`] }, function* () {
        const sink = (yield* Coro.locate('sink', { location: `127.0.0.1:${b.port}`, timeout: 5000 })) as RemoteCoro;
        const chunk = Buffer.alloc(16 * 1024, 1);
        let full: unknown;
        let sent = 0;
        try {
          for (;;) {
            sink.send(chunk);
            sent++;
          }
        } catch (e) {
          full = e;
        }
        yield* sink.drain(5000);
        sink.send(chunk);
        return { full, sent, n: yield* sink.deliver('last', 5000) };
      });
      expect(r.full).to.be.instanceOf(SendQueueFullError);
      expect(r.sent).to.be.within(10, 20);
      expect(r.n).to.equal(1);
    });
  });
});

describe('remote/peers: discovery by multicast (processes on this host)', function () {
  this.timeout(60000);
  let loopback4: string | null = 'not probed';
  let real6: RealInterface | string = 'not probed';
  before(async function () {
    this.timeout(20000);
    loopback4 = await probe(4, group4(), loopback.address);
    real6 = await realInterface(6);
  });
  afterEach(async () => {
    closeSchedulers();
    await stopPeers();
  });

  it('two nodes find each other by multicast on loopback; their pings go to the group and none is broadcast', async function () {
    if (loopback4 !== null) {
      console.log(`    (not run: ${loopback4})`);
      this.skip();
    }
    const udpPort = freeUdpPort();
    const group = group4();
    const discover = { multicast: group, interval: 300 };
    const key = Buffer.from(SECRET);
    const { sched: osched } = makeScheduler();
    // Observers on the discovery port: a member of the group, and a member of another group,
    // which (a member, so only of what it joined) hears broadcasts and unicasts to the port only.
    const heard = runCoro(osched, function* () {
      const member = AsyncSocket.udp({ family: 4 });
      const other = AsyncSocket.udp({ family: 4 });
      for (const s of [member, other]) {
        s.setReuseAddress();
        yield* s.bind({ host: '0.0.0.0', port: udpPort });
      }
      member.addMembership(group, loopback.address);
      other.addMembership(group4(), loopback.address);
      const names = new Set<string>();
      const others: string[] = [];
      spawn(function* () {
        for (;;) others.push((yield* other.recvfrom(2048)).data.toString('latin1'));
      }).daemon = true;
      while (names.size < 2) {
        const d = yield* member.recvfrom(2048, { timeout: 20000 });
        const a = decodeAnnouncement(key, d.data);
        if (a !== null && a.kind === PING) names.add(a.name);
      }
      return { names, others, member, other };
    });
    const b = await startPeer({ name: 'b', secret: SECRET, udpPort, heartbeat: 1000, discover });
    const st = await withNetwork({ name: 'a', udpPort, heartbeat: 1000, discover }, function* () {
      peerStatus(self());
      return yield* waitStatus('online');
    });
    expect(st.name).to.equal('b');
    expect(st.location).to.equal(`127.0.0.1:${b.port}`);
    await b.waitFor(/^status a online$/);
    const h = await heard;
    expect([...h.names].sort()).to.deep.equal(['a', 'b']);
    expect(h.others, 'datagrams that were not sent to the group').to.deep.equal([]);
    // The second observer does hear a broadcast to the port: it would have heard broadcast pings.
    await runCoro(osched, function* () {
      const s = AsyncSocket.udp({ family: 4 }).setBroadcast();
      yield* s.sendto('broadcast', { host: '127.255.255.255', port: udpPort });
      for (let i = 0; i < 100 && h.others.length === 0; i++) yield* sleep(10);
      s.close();
      h.member.close();
      h.other.close();
    });
    expect(h.others).to.deep.equal(['broadcast']);
  });

  it('a node with another secret hears the announcements but is not admitted', async function () {
    if (loopback4 !== null) {
      console.log(`    (not run: ${loopback4})`);
      this.skip();
    }
    const udpPort = freeUdpPort();
    const discover = { multicast: group4(), interval: 200 };
    const b = await startPeer({ name: 'b', secret: SECRET, udpPort, heartbeat: 1000, discover });
    const r = await withNetwork({ name: 'intruder', secret: 'another secret', udpPort, heartbeat: 1000, discover }, function* (net) {
      peerStatus(self());
      // It hears b's pings: they arrive, and are dropped as not signed with its secret.
      for (let i = 0; i < 500 && net.statistics().badDatagrams < 3; i++) yield* sleep(10);
      const heard = net.statistics().badDatagrams;
      // And in ten more ping intervals, nobody comes online.
      const online = yield* receive((m): m is PeerStatus => m instanceof PeerStatus, 2000, null);
      return { heard, online, peers: net.peers().length, authFailures: net.statistics().authFailures };
    });
    expect(r.heard).to.be.at.least(3);
    expect(r.online).to.equal(null);
    expect(r.peers).to.equal(0);
    expect(r.authFailures).to.equal(0);
    expect(b.out).to.not.match(/status intruder/);
  });

  it('an IPv6 group on a real interface (TTL 0: the pings stay on this host)', async function () {
    if (typeof real6 === 'string' || real6.ipv4 === undefined) {
      console.log(`    (not run: ${typeof real6 === 'string' ? real6 : `${real6.name} has no IPv4 address for the TCP side`})`);
      this.skip();
    }
    const host = real6.ipv4;
    const udpPort = freeUdpPort();
    const discover = { multicast: group6(), ttl: 0, interval: 300 };
    const b = await startPeer({ name: 'b6', secret: SECRET, host, udpPort, heartbeat: 1000, discover });
    const st = await withNetwork({ name: 'a6', host, udpPort, heartbeat: 1000, discover }, function* () {
      peerStatus(self());
      return yield* waitStatus('online');
    });
    expect(st.name).to.equal('b6');
    expect(st.location).to.equal(`${host}:${b.port}`);
  });
});
