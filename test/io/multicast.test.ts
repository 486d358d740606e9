/**
 * Multicast on AsyncSocket with real kernel sockets: members receive what is sent to their group
 * and stop when they leave, source-specific membership, the TTL, loopback and interface setters
 * (read back, and seen to act), and the typed errors of bad arguments.
 *
 * Where the host cannot carry a kind of multicast (checked first with Node's own dgram, so a
 * fault of ours cannot make a test look inapplicable), the test is reported as pending with the
 * reason, never as passed: IPv4 on the loopback interface, IPv6 on a real interface (Linux's `lo`
 * has no IPv6 multicast), and, when running as root with `ip netns`, two hosts in network
 * namespaces joined by a bridge, where a datagram's TTL and the loopback switch can be seen to act.
 */
import { expect } from 'chai';
import { spawn as spawnProcess, execFileSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SystemError, TimeoutError } from '../../lib/core/errors.js';
import { AsyncSocket, isMulticastAddress, type Datagram } from '../../lib/io/socket.js';
import { AddressError, SocketClosedError } from '../../lib/io/errors.js';
import { native } from '../../lib/native/binding.js';
import { testedBackends } from '../helpers/backends.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';
import { group4, group6, loopback, onlyMembersReceive, probe, realInterface, ssmGroup4, type RealInterface } from '../helpers/multicast.js';

const linux = process.platform === 'linux';

function* expectNothing(s: AsyncSocket, ms = 100): Generator<unknown, void, unknown> {
  let got: Datagram | undefined;
  try {
    got = yield* s.recvfrom(1500, { timeout: ms });
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
  }
  expect(got?.data.toString(), 'a datagram arrived').to.equal(undefined);
}

/** `n` UDP sockets of `family` bound to one wildcard port (SO_REUSEADDR), and the port. */
function* members(n: number, family: 4 | 6): Generator<unknown, [AsyncSocket[], number], unknown> {
  const out: AsyncSocket[] = [];
  let port = 0;
  for (let i = 0; i < n; i++) {
    const s = AsyncSocket.udp({ family });
    s.setReuseAddress();
    yield* s.bind({ host: family === 4 ? '0.0.0.0' : '::', port });
    port = (s.localAddress as { port: number }).port;
    out.push(s);
  }
  return [out, port];
}

function* text(s: AsyncSocket): Generator<unknown, string, unknown> {
  return (yield* s.recvfrom(1500, { timeout: 5000 })).data.toString();
}

/** Throws what `fn` throws, or fails. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('nothing was thrown');
}

let loopback4: string | null = 'not probed';
let real4: RealInterface | string = 'not probed';
let real6: RealInterface | string = 'not probed';
const { name: loName, address: loAddress } = loopback;

describe('io/socket multicast', function () {
  before(async function () {
    this.timeout(20000);
    loopback4 = await probe(4, group4(), '127.0.0.1');
    real4 = await realInterface(4);
    real6 = await realInterface(6);
  });

  for (const b of testedBackends()) {
    for (const mode of b.modes) {
      describe(`io/socket multicast on ${b.name} (${mode})`, function () {
        this.timeout(30000);
        let t: TestScheduler;
        beforeEach(() => {
          t = makeScheduler({ poller: b.name, mode });
        });
        afterEach(() => closeSchedulers());

        it('IPv4 on loopback: two members receive what a third socket sends; after dropMembership nothing more arrives', async function () {
          if (loopback4 !== null) {
            console.log(`    (not run: ${loopback4})`);
            this.skip();
          }
          await runCoro(t.sched, function* () {
            const group = group4();
            const [[a, bm, control], port] = (yield* members(3, 4)) as [[AsyncSocket, AsyncSocket, AsyncSocket], number];
            for (const m of [a, bm, control]) expect(m.addMembership(group, '127.0.0.1')).to.equal(m);
            const s = AsyncSocket.udp({ family: 4 });
            yield* s.bind({ host: '127.0.0.1', port: 0 });
            s.setMulticastInterface('127.0.0.1');
            expect(yield* s.sendto('one', { host: group, port })).to.equal(3);
            for (const m of [a, bm, control]) {
              const d = yield* m.recvfrom(100, { timeout: 5000 });
              expect(d.data.toString()).to.equal('one');
              expect(d.address).to.deep.equal(s.localAddress);
            }
            a.dropMembership(group, '127.0.0.1');
            yield* s.sendto('two', { host: group, port });
            expect(yield* text(bm)).to.equal('two');
            expect(yield* text(control)).to.equal('two');
            // The control member had it, so a would have had it too (one delivery reaches every
            // socket of the port): nothing for a.
            if (onlyMembersReceive) yield* expectNothing(a, 50);
            else expect(yield* text(a)).to.equal('two');
            bm.dropMembership(group, '127.0.0.1');
            yield* s.sendto('three', { host: group, port });
            expect(yield* text(control)).to.equal('three');
            if (onlyMembersReceive) {
              yield* expectNothing(a, 50);
              yield* expectNothing(bm, 50);
            } else {
              expect(yield* text(a)).to.equal('three');
              expect(yield* text(bm)).to.equal('three');
            }
            // Joined again, it receives again.
            a.addMembership(group, '127.0.0.1');
            yield* s.sendto('four', { host: group, port });
            expect(yield* text(a)).to.equal('four');
            for (const x of [a, bm, control, s]) x.close();
          });
        });
      });
    }
  }

  describe('io/socket multicast: setters, interfaces, errors', function () {
    this.timeout(30000);
    let t: TestScheduler;
    beforeEach(() => {
      t = makeScheduler();
    });
    afterEach(() => closeSchedulers());

    (linux ? it : it.skip)('source-specific membership: only the named sender gets through, until it is dropped', async function () {
      if (loopback4 !== null) {
        console.log(`    (not run: ${loopback4})`);
        this.skip();
      }
      await runCoro(t.sched, function* () {
        const group = ssmGroup4();
        const [[r, control], port] = (yield* members(2, 4)) as [[AsyncSocket, AsyncSocket], number];
        r.addSourceSpecificMembership('127.0.0.2', group, '127.0.0.1');
        control.addSourceSpecificMembership('127.0.0.3', group, '127.0.0.1');
        control.addSourceSpecificMembership('127.0.0.2', group, '127.0.0.1');
        const other = AsyncSocket.udp({ family: 4 });
        const named = AsyncSocket.udp({ family: 4 });
        yield* other.bind({ host: '127.0.0.3', port: 0 });
        yield* named.bind({ host: '127.0.0.2', port: 0 });
        other.setMulticastInterface('127.0.0.1');
        named.setMulticastInterface('127.0.0.1');
        yield* other.sendto('from .3', { host: group, port });
        yield* named.sendto('from .2', { host: group, port });
        expect(yield* text(control)).to.equal('from .3');
        expect(yield* text(control)).to.equal('from .2');
        expect(yield* text(r)).to.equal('from .2');
        yield* expectNothing(r, 50);
        r.dropSourceSpecificMembership('127.0.0.2', group, '127.0.0.1');
        yield* named.sendto('again', { host: group, port });
        expect(yield* text(control)).to.equal('again');
        yield* expectNothing(r, 50);
        const e = thrown(() => r.dropSourceSpecificMembership('127.0.0.2', group, '127.0.0.1'));
        expect(e).to.be.instanceOf(SystemError);
        for (const x of [r, control, other, named]) x.close();
      });
    });

    it('IPv6 on a real interface, named by its name and by its address: members receive; after dropMembership nothing more arrives', async function () {
      if (typeof real6 === 'string') {
        console.log(`    (not run: ${real6})`);
        this.skip();
      }
      const { name: iface, address } = real6;
      await runCoro(t.sched, function* () {
        const group = group6();
        const [[a, control], port] = (yield* members(2, 6)) as [[AsyncSocket, AsyncSocket], number];
        a.addMembership(group, iface);
        control.addMembership(group, address);
        const s = AsyncSocket.udp({ family: 6 });
        // Hop limit 0: the datagram is looped back to this host's members and goes no further.
        s.setMulticastInterface(iface).setMulticastTTL(0);
        yield* s.sendto('six', { host: group, port });
        expect(yield* text(a)).to.equal('six');
        expect(yield* text(control)).to.equal('six');
        a.dropMembership(group, iface);
        yield* s.sendto('gone', { host: group, port });
        expect(yield* text(control)).to.equal('gone');
        if (onlyMembersReceive) yield* expectNothing(a, 50);
        for (const x of [a, control, s]) x.close();
      });
    });

    it('TTL, loopback and outgoing interface are set and read back, on IPv4 and IPv6', async () => {
      await runCoro(t.sched, function* () {
        const s4 = AsyncSocket.udp({ family: 4 });
        expect(s4.multicastTTL).to.equal(1);
        for (const ttl of [0, 255, 7]) expect(s4.setMulticastTTL(ttl).multicastTTL).to.equal(ttl);
        expect(s4.multicastLoopback).to.equal(true);
        expect(s4.setMulticastLoopback(false).multicastLoopback).to.equal(false);
        expect(s4.setMulticastLoopback(true).multicastLoopback).to.equal(true);
        expect(s4.multicastInterface).to.equal('0.0.0.0');
        expect(s4.setMulticastInterface('127.0.0.1').multicastInterface).to.equal('127.0.0.1');
        expect(s4.setMulticastInterface('0.0.0.0').multicastInterface).to.equal('0.0.0.0');
        // An interface named by its name: its IPv4 address.
        expect(s4.setMulticastInterface(loName).multicastInterface).to.equal(loAddress);
        s4.close();

        const s6 = AsyncSocket.udp({ family: 6 });
        expect(s6.multicastTTL).to.equal(1);
        expect(s6.setMulticastTTL(64).multicastTTL).to.equal(64);
        expect(s6.setMulticastLoopback(false).multicastLoopback).to.equal(false);
        expect(s6.multicastInterface).to.equal('::');
        // Named by index, by name, by `::%name`, and by an address it has (IPv4 too): one index.
        expect(s6.setMulticastInterface('1').multicastInterface).to.equal('::%1');
        expect(s6.setMulticastInterface('::').multicastInterface).to.equal('::');
        // The loopback interface by its name, where the system knows it by that name (Linux's
        // if_nametoindex; Windows' loopback has neither such a name nor a link-local address).
        const out = new Uint8Array(native.sockets.ADDR_BYTES);
        if (native.sockaddr(out, native.sockets.AF_INET6, `::%${loName}`, 0) === 0) {
          const lo = (native.decodeAddress(out) as { host: string }).host;
          expect(s6.setMulticastInterface(loName).multicastInterface).to.equal(lo);
          s6.setMulticastInterface('::');
          expect(s6.setMulticastInterface(`::%${loName}`).multicastInterface).to.equal(lo);
          s6.setMulticastInterface('::');
          expect(s6.setMulticastInterface(loAddress).multicastInterface).to.equal(lo);
        }
        if (typeof real6 !== 'string') {
          const { name, address } = real6;
          const byName = s6.setMulticastInterface(name).multicastInterface;
          expect(byName).to.match(/^::%\d+$/);
          s6.setMulticastInterface('::');
          expect(s6.setMulticastInterface(address).multicastInterface).to.equal(byName);
          s6.setMulticastInterface('::');
          expect(s6.setMulticastInterface(`::%${name}`).multicastInterface).to.equal(byName);
          if (real6.ipv4 !== undefined) {
            s6.setMulticastInterface('::');
            expect(s6.setMulticastInterface(real6.ipv4).multicastInterface).to.equal(byName);
          }
        }
        s6.close();
      });
    });

    it('loopback off keeps a datagram from this host\'s own members; the outgoing interface decides which members get it', async function () {
      const why = typeof real4 === 'string' ? real4 : loopback4 ?? (onlyMembersReceive ? null : 'non-members receive a group here (wine on Linux)');
      if (why !== null || typeof real4 === 'string') {
        console.log(`    (not run: ${why})`);
        this.skip();
      }
      const { address } = real4;
      await runCoro(t.sched, function* () {
        const group = group4();
        const [[onReal, onLo], port] = (yield* members(2, 4)) as [[AsyncSocket, AsyncSocket], number];
        onReal.addMembership(group, address);
        onLo.addMembership(group, '127.0.0.1');
        // TTL 0 everywhere: nothing leaves this host.
        const quiet = AsyncSocket.udp({ family: 4 }).setMulticastTTL(0).setMulticastInterface(address).setMulticastLoopback(false);
        const loud = AsyncSocket.udp({ family: 4 }).setMulticastTTL(0).setMulticastInterface(address);
        const viaLo = AsyncSocket.udp({ family: 4 }).setMulticastTTL(0).setMulticastInterface('127.0.0.1');
        // Sent in this order; what arrives first shows what did not arrive before it.
        yield* quiet.sendto('no loopback', { host: group, port });
        yield* viaLo.sendto('via lo', { host: group, port });
        yield* loud.sendto('loopback', { host: group, port });
        expect(yield* text(onReal)).to.equal('loopback');
        expect(yield* text(onLo)).to.equal('via lo');
        yield* expectNothing(onReal, 50);
        yield* expectNothing(onLo, 50);
        for (const x of [onReal, onLo, quiet, loud, viaLo]) x.close();
      });
    });

    it('a socket without a family takes the group\'s; joining twice and leaving a group not joined are SystemErrors', async () => {
      await runCoro(t.sched, function* () {
        const s = AsyncSocket.udp();
        expect(s.fd).to.equal(-1);
        const group = group4();
        s.addMembership(group, loAddress);
        expect(s.fd).to.be.at.least(0);
        expect(s.multicastTTL).to.equal(1);
        let e = thrown(() => s.addMembership(group, loAddress));
        expect(e).to.be.instanceOf(SystemError);
        if (linux) expect((e as SystemError).code).to.equal('EADDRINUSE');
        s.dropMembership(group, loAddress);
        e = thrown(() => s.dropMembership(group, loAddress));
        expect(e).to.be.instanceOf(SystemError);
        if (linux) expect((e as SystemError).code).to.equal('EADDRNOTAVAIL');
        // TEST-NET-2: an address no interface of a test machine has.
        e = thrown(() => s.addMembership(group, '198.51.100.77'));
        expect(e).to.be.instanceOf(SystemError);
        if (linux) expect((e as SystemError).code).to.equal('ENODEV');
        e = thrown(() => s.setMulticastInterface('198.51.100.77'));
        expect(e).to.be.instanceOf(SystemError);
        if (linux) expect((e as SystemError).code).to.equal('EADDRNOTAVAIL');
        let bindErr: unknown;
        try {
          yield* s.bind({ host: '::', port: 0 });
        } catch (x) {
          bindErr = x;
        }
        expect(bindErr).to.be.instanceOf(AddressError);
        s.close();
        const six = AsyncSocket.udp();
        // Interface 1 is the loopback interface on Linux and Windows alike.
        six.addMembership(group6(), '1');
        expect(six.multicastInterface).to.equal('::');
        six.close();
      });
    });

    it('rejects bad arguments at the call with typed errors', async () => {
      await runCoro(t.sched, function* () {
        const tcp = AsyncSocket.tcp({ family: 4 });
        const unbound = AsyncSocket.udp();
        const s4 = AsyncSocket.udp({ family: 4 });
        const s6 = AsyncSocket.udp({ family: 6 });
        const cases: [string, () => unknown, new (...a: never[]) => Error][] = [
          ['a TCP socket', () => tcp.addMembership('239.1.1.1'), TypeError],
          ['a TCP socket (TTL)', () => tcp.setMulticastTTL(1), TypeError],
          ['a TCP socket (loopback)', () => tcp.setMulticastLoopback(true), TypeError],
          ['a TCP socket (interface)', () => tcp.setMulticastInterface('127.0.0.1'), TypeError],
          ['a group that is no string', () => s4.addMembership(239 as never), TypeError],
          ['a group that is no IP address', () => s4.addMembership('not-an-address'), AddressError],
          ['a group that is a name', () => s4.addMembership('localhost'), AddressError],
          ['a group that is not multicast', () => s4.addMembership('10.1.2.3'), RangeError],
          ['an IPv6 address that is not multicast', () => s6.addMembership('fd00::1'), RangeError],
          ['an IPv4 group on an IPv6 socket', () => s6.addMembership('239.1.1.1'), AddressError],
          ['an IPv6 group on an IPv4 socket', () => s4.addMembership('ff15::1'), AddressError],
          ['an IPv4 group with a scope', () => s4.addMembership('239.1.1.1%lo'), AddressError],
          ['an interface that is no string', () => s4.addMembership('239.1.1.1', 7 as never), TypeError],
          ['an IPv4 interface named by an IPv6 address', () => s4.addMembership('239.1.1.1', '::1'), AddressError],
          ['an interface name no interface has', () => s4.addMembership('239.1.1.1', 'no-such-if0'), AddressError],
          ['an IPv6 interface name no interface has', () => s6.addMembership('ff15::1', 'no-such-if0'), AddressError],
          ['an IPv6 interface index with nothing after %', () => s6.setMulticastInterface('::%'), AddressError],
          ['an IPv6 interface address no interface has', () => s6.setMulticastInterface('2001:db8::77'), AddressError],
          ['a source that is multicast', () => s4.addSourceSpecificMembership('239.9.9.9', '232.1.1.1'), RangeError],
          ['a source of the other family', () => s4.addSourceSpecificMembership('::1', '232.1.1.1'), AddressError],
          ['a source that is no string', () => s4.addSourceSpecificMembership(null as never, '232.1.1.1'), TypeError],
          ['a TTL above 255', () => s4.setMulticastTTL(256), RangeError],
          ['a negative TTL', () => s6.setMulticastTTL(-1), RangeError],
          ['a fractional TTL', () => s4.setMulticastTTL(1.5), RangeError],
          ['a TTL that is no number', () => s4.setMulticastTTL('5' as never), TypeError],
          ['loopback that is no boolean', () => s4.setMulticastLoopback(1 as never), TypeError],
          ['an interface that is no string (setter)', () => s4.setMulticastInterface(undefined as never), TypeError],
          ['TTL before the socket has a family', () => unbound.setMulticastTTL(1), SocketClosedError],
        ];
        for (const [what, fn, type] of cases) expect(thrown(fn), what).to.be.instanceOf(type);
        s4.close();
        expect(thrown(() => s4.addMembership('239.1.1.1')), 'a closed socket').to.be.instanceOf(SocketClosedError);
        expect(thrown(() => s4.setMulticastTTL(1)), 'a closed socket').to.be.instanceOf(SocketClosedError);
        expect(isMulticastAddress('239.1.2.3')).to.equal(true);
        expect(isMulticastAddress('224.0.0.1')).to.equal(true);
        expect(isMulticastAddress('240.0.0.1')).to.equal(false);
        expect(isMulticastAddress('ff02::1%eth0')).to.equal(true);
        expect(isMulticastAddress('FF15::1')).to.equal(true);
        expect(isMulticastAddress('ff::1')).to.equal(false);
        expect(isMulticastAddress('239.1.2.3%lo')).to.equal(false);
        expect(isMulticastAddress('example.com')).to.equal(false);
        for (const x of [tcp, unbound, s6]) x.close();
      });
    });
  });

});

// ---- two hosts: network namespaces on a bridge ----

const fixture = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'mcast-node.ts');
const tag = `m8${process.pid % 100000}`;
const bridgeNs = `${tag}br`;
const net = process.pid % 200;
const hosts = [1, 2].map((i) => ({ ns: `${tag}h${i}`, veth: `${tag}v${i}`, peer: `${tag}p${i}`, ip4: `10.209.${net}.${i}`, ip6: `fd09:${net.toString(16)}::${i}` }));

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function canUseNetns(): string | null {
  if (!linux) return 'network namespaces are Linux\'s';
  if (process.getuid?.() !== 0) return 'not root';
  try {
    ip('netns', 'add', `${tag}probe`);
    ip('netns', 'del', `${tag}probe`);
    return null;
  } catch (e) {
    return `ip netns does not work here: ${(e as Error).message}`;
  }
}

function setUpHosts(): void {
  ip('netns', 'add', bridgeNs);
  ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
  ip('-n', bridgeNs, 'link', 'set', 'br0', 'up');
  for (const h of hosts) {
    ip('netns', 'add', h.ns);
    ip('-n', h.ns, 'link', 'set', 'lo', 'up');
    ip('link', 'add', h.veth, 'type', 'veth', 'peer', 'name', h.peer);
    ip('link', 'set', h.veth, 'netns', h.ns);
    ip('link', 'set', h.peer, 'netns', bridgeNs);
    ip('-n', bridgeNs, 'link', 'set', h.peer, 'master', 'br0');
    ip('-n', bridgeNs, 'link', 'set', h.peer, 'up');
    ip('-n', h.ns, 'addr', 'add', `${h.ip4}/24`, 'dev', h.veth);
    ip('-n', h.ns, '-6', 'addr', 'add', `${h.ip6}/64`, 'dev', h.veth, 'nodad');
    ip('-n', h.ns, 'link', 'set', h.veth, 'up');
  }
}

function tearDownHosts(): void {
  for (const ns of [...hosts.map((h) => h.ns), bridgeNs]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // Not made.
    }
  }
}

interface Received {
  id: string;
  text: string;
  from: string;
}

/** The fixture in a namespace: commands answered in order, datagrams collected. */
class Host {
  readonly proc: ChildProcess;
  readonly got: Received[] = [];
  private readonly answers: ((a: Record<string, unknown>) => void)[] = [];
  private err = '';
  constructor(ns: string) {
    this.proc = spawnProcess('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', fixture], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      const m = JSON.parse(l) as Record<string, unknown>;
      if (m['ev'] === 'recv') this.got.push(m as unknown as Received);
      else this.answers.shift()?.(m);
    });
    this.proc.stderr!.on('data', (d) => (this.err += d));
  }
  /** Runs a command; a failed one rejects with its message and code. */
  do(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(cmd)}; stderr:\n${this.err}`)), 20000);
      this.answers.push((a) => {
        clearTimeout(timer);
        if (a['error'] !== undefined) reject(Object.assign(new Error(String(a['error'])), { code: a['code'] }));
        else resolve(a);
      });
      this.proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
    });
  }
  /** The texts socket `id` received, in order, once `last` is among them. */
  async texts(id: string, last: string, ms = 10000): Promise<string[]> {
    const end = Date.now() + ms;
    for (;;) {
      const list = this.got.filter((r) => r.id === id).map((r) => r.text);
      if (list.includes(last)) return list;
      if (Date.now() > end) throw new Error(`${id} did not receive ${JSON.stringify(last)}; it has ${JSON.stringify(list)}; stderr:\n${this.err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  async stop(): Promise<void> {
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stdin!.end();
    await exited;
  }
}

describe('io/socket multicast between two hosts (network namespaces)', function () {
  this.timeout(120000);
  let why: string | null = null;
  let h1: Host;
  let h2: Host;

  before(function () {
    why = canUseNetns();
    if (why !== null) {
      console.log(`    (not run: ${why})`);
      this.skip();
    }
    setUpHosts();
    h1 = new Host(hosts[0]!.ns);
    h2 = new Host(hosts[1]!.ns);
  });
  after(async () => {
    if (why !== null) return;
    await Promise.all([h1?.stop(), h2?.stop()]);
    tearDownHosts();
  });

  for (const family of [4, 6] as const) {
    it(`IPv${family}: TTL 1 reaches the other host and TTL 0 does not; loopback off reaches only the other host; a member that leaves gets nothing more`, async () => {
      const [a, b] = hosts as [(typeof hosts)[0], (typeof hosts)[0]];
      const group = family === 4 ? `239.209.${net}.${family}` : `ff15::209:${net.toString(16)}`;
      // The interface by its address for IPv4, by its name for IPv6.
      const iface1 = family === 4 ? a.ip4 : a.veth;
      const iface2 = family === 4 ? b.ip4 : b.veth;
      const r = `r${family}`;
      const stay = `stay${family}`;
      const s = `s${family}`;
      const { port } = (await h2.do({ op: 'open', id: r, family, port: 0 })) as { port: number };
      await h2.do({ op: 'open', id: stay, family, port });
      await h1.do({ op: 'open', id: r, family, port });
      await h2.do({ op: 'join', id: r, group, iface: iface2 });
      await h2.do({ op: 'join', id: stay, group, iface: iface2 });
      await h1.do({ op: 'join', id: r, group, iface: iface1 });
      await h1.do({ op: 'open', id: s, family, port: 0 });
      const set = await h1.do({ op: 'set', id: s, ttl: 1, iface: iface1 });
      expect(set['ttl']).to.equal(1);
      expect(set['loop']).to.equal(true);
      if (family === 4) expect(set['iface']).to.equal(a.ip4);
      else expect(set['iface']).to.match(/^::%\d+$/);
      const send = (text: string) => h1.do({ op: 'send', id: s, group, port, text });

      await send('ttl 1');
      expect(await h2.texts(r, 'ttl 1')).to.deep.equal(['ttl 1']);
      expect(await h1.texts(r, 'ttl 1')).to.deep.equal(['ttl 1']);

      // TTL 0 stays on the sending host: its own member gets it, the other host does not (the
      // datagram after it, with TTL 1, arrives there first).
      await h1.do({ op: 'set', id: s, ttl: 0 });
      await send('ttl 0');
      await h1.do({ op: 'set', id: s, ttl: 1 });
      await send('ttl 1 again');
      expect(await h2.texts(r, 'ttl 1 again')).to.deep.equal(['ttl 1', 'ttl 1 again']);
      expect(await h1.texts(r, 'ttl 1 again')).to.deep.equal(['ttl 1', 'ttl 0', 'ttl 1 again']);

      // Loopback off: the other host gets it, the sender's own host does not.
      await h1.do({ op: 'set', id: s, loop: false });
      await send('no loopback');
      await h1.do({ op: 'set', id: s, loop: true });
      await send('loopback');
      expect(await h2.texts(r, 'loopback')).to.deep.equal(['ttl 1', 'ttl 1 again', 'no loopback', 'loopback']);
      expect(await h1.texts(r, 'loopback')).to.deep.equal(['ttl 1', 'ttl 0', 'ttl 1 again', 'loopback']);

      // A member that leaves: the other member of its host still gets what follows, it does not.
      await h2.do({ op: 'drop', id: r, group, iface: iface2 });
      await send('after drop');
      await h1.do({ op: 'send', id: s, group, port, text: 'last' });
      await h2.texts(stay, 'last');
      await new Promise((res) => setTimeout(res, 100));
      expect(h2.got.filter((x) => x.id === r).map((x) => x.text)).to.deep.equal(['ttl 1', 'ttl 1 again', 'no loopback', 'loopback']);
      const from = h2.got.find((x) => x.id === stay)!.from;
      expect(from).to.equal(family === 4 ? a.ip4 : a.ip6);

      // Leaving again is the kernel's error, as a SystemError in the fixture.
      let err: unknown;
      try {
        await h2.do({ op: 'drop', id: r, group, iface: iface2 });
      } catch (e) {
        err = e;
      }
      expect((err as { code?: string }).code).to.equal('EADDRNOTAVAIL');
    });
  }
});
