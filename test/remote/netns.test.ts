/**
 * Peers on separate hosts: three network namespaces joined by veth pairs to a bridge (in a fourth
 * namespace, so the machine's own network is untouched). The nodes find each other by UDP
 * broadcast on the bridge's subnet; cutting one host's link partitions it (the others see it go
 * offline), and restoring the link heals the partition (it comes back online, same incarnation).
 * Nodes that discover by multicast (an IPv4 or an IPv6 group) find each other and not a node
 * that broadcasts.
 *
 * Needs root and `ip netns`; where either is missing the tests are reported as pending (not run),
 * never as passed.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { startPeer, stopPeers, type PeerProcess } from '../helpers/peers.js';

const tag = `a8${process.pid % 100000}`;
const bridgeNs = `${tag}br`;
const hosts = [1, 2, 3].map((i) => ({ ns: `${tag}h${i}`, ip: `10.208.${process.pid % 200}.${i}`, veth: `${tag}v${i}`, peer: `${tag}p${i}` }));
/** Each host's IPv6 address (without duplicate address detection, so usable at once). */
const ip6 = (i: number): string => `fd08:${(process.pid % 200).toString(16)}::${i}`;
const subnet = `10.208.${process.pid % 200}`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function setUp(): void {
  ip('netns', 'add', bridgeNs);
  ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', bridgeNs, 'link', 'set', 'br0', 'up');
  for (const h of hosts) {
    ip('netns', 'add', h.ns);
    ip('-n', h.ns, 'link', 'set', 'lo', 'up');
    ip('link', 'add', h.veth, 'type', 'veth', 'peer', 'name', h.peer);
    ip('link', 'set', h.veth, 'netns', h.ns);
    ip('link', 'set', h.peer, 'netns', bridgeNs);
    ip('-n', bridgeNs, 'link', 'set', h.peer, 'master', 'br0');
    ip('-n', bridgeNs, 'link', 'set', h.peer, 'up');
    ip('-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'brd', `${subnet}.255`, 'dev', h.veth);
    ip('-n', h.ns, '-6', 'addr', 'add', `${ip6(hosts.indexOf(h) + 1)}/64`, 'dev', h.veth, 'nodad');
    ip('-n', h.ns, 'link', 'set', h.veth, 'up');
  }
}

function tearDown(): void {
  for (const ns of [...hosts.map((h) => h.ns), bridgeNs]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // Not made.
    }
  }
}

function canUseNetns(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    ip('netns', 'add', `${tag}probe`);
    ip('netns', 'del', `${tag}probe`);
    return null;
  } catch (e) {
    return `ip netns does not work here: ${(e as Error).message}`;
  }
}

describe('remote/peers across network namespaces', function () {
  this.timeout(120000);
  let why: string | null = null;

  before(function () {
    why = canUseNetns();
    if (why !== null) {
      console.log(`    (not run: ${why})`);
      this.skip();
    }
    setUp();
  });
  afterEach(() => stopPeers());
  after(async () => {
    await stopPeers();
    if (why === null) tearDown();
  });

  it('three hosts discover each other by broadcast; a partition is seen and heals', async () => {
    const secret = 'netns-secret';
    const nodes: PeerProcess[] = [];
    for (const [i, h] of hosts.entries()) {
      nodes.push(
        await startPeer({ name: `n${i + 1}`, host: h.ip, tcpPort: 9705, udpPort: 9706, secret, heartbeat: 500, reconnectFor: 60000, discover: { interval: 500 } }, [
          'ip',
          'netns',
          'exec',
          h.ns,
        ]),
      );
    }
    const [n1, n2, n3] = nodes as [PeerProcess, PeerProcess, PeerProcess];
    await Promise.all([
      n1.waitFor(/^status n2 online$/, 20000),
      n1.waitFor(/^status n3 online$/, 20000),
      n2.waitFor(/^status n3 online$/, 20000),
      n3.waitFor(/^status n1 online$/, 20000),
    ]);
    // Partition: n3's link goes down.
    ip('-n', bridgeNs, 'link', 'set', hosts[2]!.peer, 'down');
    const t0 = Date.now();
    await Promise.all([n1.waitFor(/^status n3 offline$/, 20000), n2.waitFor(/^status n3 offline$/, 20000), n3.waitFor(/^status n1 offline$/, 20000)]);
    const detectMs = Date.now() - t0;
    const onlineBefore = (p: PeerProcess, name: string): number => p.out.split('\n').filter((l) => l === `status ${name} online`).length;
    expect(onlineBefore(n1, 'n3')).to.equal(1);
    // Heal.
    ip('-n', bridgeNs, 'link', 'set', hosts[2]!.peer, 'up');
    const t1 = Date.now();
    const again = async (p: PeerProcess, name: string): Promise<void> => {
      const end = Date.now() + 30000;
      while (onlineBefore(p, name) < 2) {
        if (Date.now() > end) throw new Error(`${name} not online again at ${p.out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await Promise.all([again(n1, 'n3'), again(n2, 'n3'), again(n3, 'n1'), again(n3, 'n2')]);
    const healMs = Date.now() - t1;
    // Heartbeat 500 ms: lost after 1.5 s of silence, seen within a few seconds.
    expect(detectMs).to.be.lessThan(6000);
    expect(healMs).to.be.lessThan(20000);
    for (const p of nodes) expect(p.err).to.not.match(/refused/);
  });

  for (const group of ['239.208.1.1', 'ff15::208:1']) {
    it(`two hosts discover each other by multicast (${group}); the host that broadcasts finds neither`, async () => {
      const secret = 'netns-secret';
      const common = { tcpPort: 9705, udpPort: 9706, secret, heartbeat: 500 };
      const discover = { multicast: group, interval: 300 };
      const [h1, h2, h3] = hosts as [(typeof hosts)[0], (typeof hosts)[0], (typeof hosts)[0]];
      const n1 = await startPeer({ name: 'm1', host: h1.ip, ...common, discover }, ['ip', 'netns', 'exec', h1.ns]);
      const n3 = await startPeer({ name: 'b3', host: h3.ip, ...common, discover: { interval: 300 } }, ['ip', 'netns', 'exec', h3.ns]);
      const n2 = await startPeer({ name: 'm2', host: h2.ip, ...common, discover }, ['ip', 'netns', 'exec', h2.ns]);
      await Promise.all([n1.waitFor(/^status m2 online$/, 20000), n2.waitFor(/^status m1 online$/, 20000)]);
      // Ten ping intervals more: the broadcasting node hears no multicast ping and no multicast
      // node hears its broadcasts.
      await new Promise((r) => setTimeout(r, 3000));
      for (const p of [n1, n2]) expect(p.out).to.not.match(/status b3/);
      expect(n3.out).to.not.match(/status m[12]/);
      for (const p of [n1, n2, n3]) expect(p.err).to.not.match(/failed|refused/);
    });
  }
});
