/**
 * The raw socket calls: TCP over IPv4 and IPv6, UDP, Unix stream and datagram sockets, options,
 * names, half-close and the errors a user meets, each checked against a real kernel socket and
 * waited for with a real poller.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../lib/native/binding.js';
import { EV, backends, openPoller } from '../../lib/core/poller.js';
import { onlyMembersReceive } from '../helpers/multicast.js';
import type { NativePoller } from '../../lib/core/poller.js';

const S = native.sockets;
const E = native.errno;
const fds: number[] = [];
const track = (fd: number) => {
  expect(fd, native.strerror(fd)).to.be.at.least(0);
  fds.push(fd);
  return fd;
};
const addr = (family: number, host: string, port = 0) => {
  const out = new Uint8Array(S.ADDR_BYTES);
  expect(native.sockaddr(out, family, host, port)).to.equal(0);
  return out;
};
const nameOf = (fd: number, peer = false) => {
  const out = new Uint8Array(S.ADDR_BYTES);
  expect(peer ? native.getpeername(fd, out) : native.getsockname(fd, out)).to.equal(0);
  return native.decodeAddress(out);
};

let poller: NativePoller;
let events: Int32Array;
/** The host's first readiness poller: epoll on Linux, select on Windows. */
const readiness = backends().find((b) => b.kind === 'readiness')!.name;
/** Waits until `fd` reports any of `bits`, through a real exclusive poller. */
function waitFor(fd: number, bits: number, timeout = 2000): number {
  expect(poller.add(fd, bits, 1)).to.equal(0);
  try {
    const n = poller.wait(timeout);
    expect(n, 'timed out waiting for readiness').to.equal(1);
    return events[1]!;
  } finally {
    poller.remove(fd);
  }
}

function listener(family: number, host: string): { fd: number; port: number } {
  const fd = track(native.socket(family, S.SOCK_STREAM));
  expect(native.setsockopt(fd, S.SOL_SOCKET, S.SO_REUSEADDR, 1)).to.equal(0);
  expect(native.bind(fd, addr(family, host))).to.equal(0);
  expect(native.listen(fd, 128)).to.equal(0);
  const name = nameOf(fd);
  if (name === undefined || typeof name === 'number' || name.family === 'unix') throw new Error('no name');
  return { fd, port: name.port };
}

function connected(family: number, host: string): [number, number, number] {
  const l = listener(family, host);
  const c = track(native.socket(family, S.SOCK_STREAM));
  const rc = native.connect(c, addr(family, host, l.port));
  expect([0, -E.EINPROGRESS!]).to.include(rc);
  waitFor(c, EV.WRITE);
  expect(native.getsockopt(c, S.SOL_SOCKET, S.SO_ERROR)).to.equal(0);
  waitFor(l.fd, EV.READ);
  const a = track(native.accept(l.fd));
  return [l.fd, c, a];
}

describe('native sockets', () => {
  beforeEach(() => {
    ({ poller, events } = openPoller({ poller: readiness, mode: 'exclusive', capacity: 4 }));
  });
  afterEach(() => {
    poller.close();
    for (const fd of fds.splice(0)) native.close(fd);
  });

  for (const [family, host, label] of [
    [S.AF_INET, '127.0.0.1', 'IPv4'],
    [S.AF_INET6, '::1', 'IPv6'],
  ] as const) {
    it(`TCP over ${label}: listen, connect, accept, names, data both ways, half-close`, () => {
      const [l, c, a] = connected(family, host);
      const lname = nameOf(l);
      expect(lname).to.deep.include({ family: family === S.AF_INET ? 4 : 6, host });
      expect(nameOf(c, true)).to.deep.equal(lname);
      expect(nameOf(a, true)).to.deep.equal(nameOf(c));
      const msg = Buffer.from('hello over ' + label);
      expect(native.write(c, msg, 0, msg.length)).to.equal(msg.length);
      waitFor(a, EV.READ);
      const buf = Buffer.alloc(64);
      const n = native.read(a, buf, 0, buf.length);
      expect(buf.subarray(0, n).toString()).to.equal(msg.toString());
      // Half-close: the server sees EOF but can still answer.
      expect(native.shutdown(c, S.SHUT_WR)).to.equal(0);
      waitFor(a, EV.READ);
      expect(native.read(a, buf, 0, buf.length)).to.equal(0);
      expect(native.write(a, msg, 0, msg.length)).to.equal(msg.length);
      waitFor(c, EV.READ);
      expect(native.read(c, buf, 0, buf.length)).to.equal(msg.length);
      // Nothing pending is EAGAIN, returned, not thrown.
      expect(native.read(c, buf, 0, buf.length)).to.equal(-E.EAGAIN!);
      expect(native.accept(l)).to.equal(-E.EAGAIN!);
    });
  }

  it('a refused connection surfaces as ECONNREFUSED through SO_ERROR', () => {
    const l = listener(S.AF_INET, '127.0.0.1');
    native.close(fds.splice(fds.indexOf(l.fd), 1)[0]!);
    const c = track(native.socket(S.AF_INET, S.SOCK_STREAM));
    const rc = native.connect(c, addr(S.AF_INET, '127.0.0.1', l.port));
    if (rc === -E.EINPROGRESS!) {
      waitFor(c, EV.WRITE);
      expect(native.getsockopt(c, S.SOL_SOCKET, S.SO_ERROR)).to.equal(E.ECONNREFUSED);
    } else {
      expect(rc).to.equal(-E.ECONNREFUSED!);
    }
  });

  it('writing to a closed peer is EPIPE or ECONNRESET, never SIGPIPE', () => {
    const [, c, a] = connected(S.AF_INET, '127.0.0.1');
    native.close(fds.splice(fds.indexOf(a), 1)[0]!);
    const chunk = Buffer.alloc(65536);
    let rc = 0;
    for (let i = 0; i < 100 && rc >= 0; i++) rc = native.write(c, chunk, 0, chunk.length);
    expect([-E.EPIPE!, -E.ECONNRESET!]).to.include(rc);
  });

  it('binding a port in use is EADDRINUSE', () => {
    const l = listener(S.AF_INET, '127.0.0.1');
    const s = track(native.socket(S.AF_INET, S.SOCK_STREAM));
    expect(native.bind(s, addr(S.AF_INET, '127.0.0.1', l.port))).to.equal(-E.EADDRINUSE!);
  });

  for (const [family, host] of [
    [S.AF_INET, '127.0.0.1'],
    [S.AF_INET6, '::1'],
  ] as const) {
    it(`UDP on ${host}: sendto and recvfrom with the sender's address`, () => {
      const a = track(native.socket(family, S.SOCK_DGRAM));
      const b = track(native.socket(family, S.SOCK_DGRAM));
      expect(native.bind(a, addr(family, host))).to.equal(0);
      expect(native.bind(b, addr(family, host))).to.equal(0);
      const bname = nameOf(b) as { port: number };
      const dg = Buffer.from('ping');
      expect(native.sendto(a, dg, 0, dg.length, addr(family, host, bname.port))).to.equal(4);
      waitFor(b, EV.READ);
      const buf = Buffer.alloc(16);
      const from = new Uint8Array(S.ADDR_BYTES);
      expect(native.recvfrom(b, buf, 0, buf.length, from)).to.equal(4);
      expect(buf.subarray(0, 4).toString()).to.equal('ping');
      expect(native.decodeAddress(from)).to.deep.equal(nameOf(a));
      expect(native.recvfrom(b, buf, 0, buf.length, from)).to.equal(-E.EAGAIN!);
    });
  }

  // Abstract names are Linux's.
  (process.platform === 'linux' ? it : it.skip)('Unix stream sockets on a path, and abstract datagram sockets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'asyncoro-'));
    try {
      const path = join(dir, 's.sock');
      const l = track(native.socket(S.AF_UNIX, S.SOCK_STREAM));
      expect(native.bind(l, addr(S.AF_UNIX, path))).to.equal(0);
      expect(native.listen(l, 8)).to.equal(0);
      expect(nameOf(l)).to.deep.equal({ family: 'unix', path });
      const c = track(native.socket(S.AF_UNIX, S.SOCK_STREAM));
      expect([0, -E.EINPROGRESS!, -E.EAGAIN!]).to.include(native.connect(c, addr(S.AF_UNIX, path)));
      waitFor(l, EV.READ);
      const a = track(native.accept(l));
      expect(native.write(c, Buffer.from('u'), 0, 1)).to.equal(1);
      waitFor(a, EV.READ);
      expect(native.read(a, Buffer.alloc(4), 0, 4)).to.equal(1);

      const name = `\0asyncoro-test-${process.pid}`;
      const d1 = track(native.socket(S.AF_UNIX, S.SOCK_DGRAM));
      const d2 = track(native.socket(S.AF_UNIX, S.SOCK_DGRAM));
      expect(native.bind(d1, addr(S.AF_UNIX, name))).to.equal(0);
      expect(native.bind(d2, addr(S.AF_UNIX, name + '-2'))).to.equal(0);
      expect(nameOf(d1)).to.deep.equal({ family: 'unix', path: name });
      expect(native.sendto(d2, Buffer.from('dg'), 0, 2, addr(S.AF_UNIX, name))).to.equal(2);
      waitFor(d1, EV.READ);
      const from = new Uint8Array(S.ADDR_BYTES);
      expect(native.recvfrom(d1, Buffer.alloc(8), 0, 8, from)).to.equal(2);
      expect(native.decodeAddress(from)).to.deep.equal({ family: 'unix', path: name + '-2' });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('sets and reads back socket options', () => {
    const s = track(native.socket(S.AF_INET, S.SOCK_STREAM));
    expect(native.setsockopt(s, S.IPPROTO_TCP, S.TCP_NODELAY, 1)).to.equal(0);
    expect(native.getsockopt(s, S.IPPROTO_TCP, S.TCP_NODELAY)).to.equal(1);
    expect(native.setsockopt(s, S.SOL_SOCKET, S.SO_KEEPALIVE, 1)).to.equal(0);
    expect(native.getsockopt(s, S.SOL_SOCKET, S.SO_KEEPALIVE)).to.equal(1);
    if (S.SO_REUSEPORT !== undefined) expect(native.setsockopt(s, S.SOL_SOCKET, S.SO_REUSEPORT, 1)).to.equal(0);
    expect(native.setsockopt(s, S.SOL_SOCKET, S.SO_RCVBUF, 65536)).to.equal(0);
    // Linux doubles the asked size to account for bookkeeping.
    expect(native.getsockopt(s, S.SOL_SOCKET, S.SO_RCVBUF)).to.be.at.least(65536);
    expect(native.getsockopt(s, S.SOL_SOCKET, S.SO_TYPE)).to.equal(S.SOCK_STREAM);
    expect(native.setsockopt(s, 99999, 1, 1)).to.be.below(0);
  });

  describe('multicast', () => {
    const linux = process.platform === 'linux';
    const v4 = (host: string, port = 0) => addr(S.AF_INET, host, port);
    const v6 = (host: string, port = 0) => addr(S.AF_INET6, host, port);
    /** `n` UDP sockets bound to one port of 0.0.0.0 (with SO_REUSEADDR), and the port. */
    function receivers(n: number): [number[], number] {
      const fds: number[] = [];
      let port = 0;
      for (let i = 0; i < n; i++) {
        const fd = track(native.socket(S.AF_INET, S.SOCK_DGRAM));
        expect(native.setsockopt(fd, S.SOL_SOCKET, S.SO_REUSEADDR, 1)).to.equal(0);
        expect(native.bind(fd, v4('0.0.0.0', port))).to.equal(0);
        port = (nameOf(fd) as { port: number }).port;
        fds.push(fd);
      }
      return [fds, port];
    }
    function recvText(fd: number): string | number {
      const buf = Buffer.alloc(64);
      const n = native.recvfrom(fd, buf, 0, buf.length, new Uint8Array(S.ADDR_BYTES));
      return n < 0 ? n : buf.subarray(0, n).toString();
    }

    it('two members on loopback receive what a third socket sends to the group; after leaving, they do not', () => {
      const [[a, b], port] = receivers(2) as [[number, number], number];
      const group = v4('239.77.1.1');
      const lo = v4('127.0.0.1');
      expect(native.membership(a, true, group, lo)).to.equal(0);
      expect(native.membership(b, true, group, lo)).to.equal(0);
      // Only members receive (Linux: IP_MULTICAST_ALL off, see sockets.cc), so a leaving member
      // gets nothing while the other stays in.
      if (S.IP_MULTICAST_ALL !== undefined) {
        for (const fd of [a, b]) expect(native.setsockopt(fd, S.IPPROTO_IP, S.IP_MULTICAST_ALL, 0)).to.equal(0);
      }
      const s = track(native.socket(S.AF_INET, S.SOCK_DGRAM));
      expect(native.setMulticastInterface(s, lo)).to.equal(0);
      const to = v4('239.77.1.1', port);
      expect(native.sendto(s, Buffer.from('first'), 0, 5, to)).to.equal(5);
      for (const fd of [a, b]) {
        waitFor(fd, EV.READ);
        expect(recvText(fd)).to.equal('first');
      }
      expect(native.membership(a, false, group, lo)).to.equal(0);
      expect(native.sendto(s, Buffer.from('second'), 0, 6, to)).to.equal(6);
      waitFor(b, EV.READ);
      expect(recvText(b)).to.equal('second');
      // b had it, so a would have had it by now (one delivery reaches every socket of the port).
      if (onlyMembersReceive) expect(recvText(a)).to.equal(-E.EAGAIN!);
      else expect(recvText(a)).to.equal('second');
      // Once no socket of the host is a member, the host takes nothing for the group: a member
      // of another group, on another port, sees its datagram sent after, and a and b see none.
      expect(native.membership(b, false, group, lo)).to.equal(0);
      const [[c], cport] = receivers(1) as [[number], number];
      expect(native.membership(c, true, v4('239.77.1.2'), lo)).to.equal(0);
      expect(native.sendto(s, Buffer.from('third'), 0, 5, to)).to.equal(5);
      expect(native.sendto(s, Buffer.from('other'), 0, 5, v4('239.77.1.2', cport))).to.equal(5);
      waitFor(c, EV.READ);
      expect(recvText(c)).to.equal('other');
      expect(recvText(a)).to.equal(-E.EAGAIN!);
      expect(recvText(b)).to.equal(-E.EAGAIN!);
    });

    (linux ? it : it.skip)('source-specific membership lets only the named sender through', () => {
      const [[r], port] = receivers(1) as [[number], number];
      const lo = v4('127.0.0.1');
      expect(native.membership(r, true, v4('232.77.1.1'), lo, v4('127.0.0.2'))).to.equal(0);
      expect(native.setsockopt(r, S.IPPROTO_IP, S.IP_MULTICAST_ALL!, 0)).to.equal(0);
      const other = track(native.socket(S.AF_INET, S.SOCK_DGRAM));
      const named = track(native.socket(S.AF_INET, S.SOCK_DGRAM));
      expect(native.bind(other, v4('127.0.0.3'))).to.equal(0);
      expect(native.bind(named, v4('127.0.0.2'))).to.equal(0);
      for (const fd of [other, named]) expect(native.setMulticastInterface(fd, lo)).to.equal(0);
      const to = v4('232.77.1.1', port);
      expect(native.sendto(other, Buffer.from('other'), 0, 5, to)).to.equal(5);
      expect(native.sendto(named, Buffer.from('named'), 0, 5, to)).to.equal(5);
      waitFor(r, EV.READ);
      expect(recvText(r)).to.equal('named');
      expect(recvText(r)).to.equal(-E.EAGAIN!);
      expect(native.membership(r, false, v4('232.77.1.1'), lo, v4('127.0.0.2'))).to.equal(0);
    });

    it('sets and reads back the TTL (hop limit), loopback and outgoing interface of IPv4 and IPv6 sockets', () => {
      const s4 = track(native.socket(S.AF_INET, S.SOCK_DGRAM));
      expect(native.getsockopt(s4, S.IPPROTO_IP, S.IP_MULTICAST_TTL)).to.equal(1);
      expect(native.setsockopt(s4, S.IPPROTO_IP, S.IP_MULTICAST_TTL, 33)).to.equal(0);
      expect(native.getsockopt(s4, S.IPPROTO_IP, S.IP_MULTICAST_TTL)).to.equal(33);
      expect(native.getsockopt(s4, S.IPPROTO_IP, S.IP_MULTICAST_LOOP)).to.equal(1);
      expect(native.setsockopt(s4, S.IPPROTO_IP, S.IP_MULTICAST_LOOP, 0)).to.equal(0);
      expect(native.getsockopt(s4, S.IPPROTO_IP, S.IP_MULTICAST_LOOP)).to.equal(0);
      const out = new Uint8Array(S.ADDR_BYTES);
      expect(native.getMulticastInterface(s4, S.AF_INET, out)).to.equal(0);
      expect(native.decodeAddress(out)).to.deep.equal({ family: 4, host: '0.0.0.0', port: 0 });
      expect(native.setMulticastInterface(s4, v4('127.0.0.1'))).to.equal(0);
      expect(native.getMulticastInterface(s4, S.AF_INET, out)).to.equal(0);
      expect(native.decodeAddress(out)).to.deep.equal({ family: 4, host: '127.0.0.1', port: 0 });

      const s6 = track(native.socket(S.AF_INET6, S.SOCK_DGRAM));
      expect(native.getsockopt(s6, S.IPPROTO_IPV6, S.IPV6_MULTICAST_HOPS)).to.equal(1);
      expect(native.setsockopt(s6, S.IPPROTO_IPV6, S.IPV6_MULTICAST_HOPS, 200)).to.equal(0);
      expect(native.getsockopt(s6, S.IPPROTO_IPV6, S.IPV6_MULTICAST_HOPS)).to.equal(200);
      expect(native.setsockopt(s6, S.IPPROTO_IPV6, S.IPV6_MULTICAST_LOOP, 0)).to.equal(0);
      expect(native.getsockopt(s6, S.IPPROTO_IPV6, S.IPV6_MULTICAST_LOOP)).to.equal(0);
      expect(native.getMulticastInterface(s6, S.AF_INET6, out)).to.equal(0);
      expect(native.decodeAddress(out)).to.deep.equal({ family: 6, host: '::', port: 0 });
      // Interface 1 is the loopback interface on Linux and Windows alike.
      expect(native.setMulticastInterface(s6, v6('::%1'))).to.equal(0);
      expect(native.getMulticastInterface(s6, S.AF_INET6, out)).to.equal(0);
      expect(native.decodeAddress(out)).to.deep.equal({ family: 6, host: '::%1', port: 0 });
      expect(native.setMulticastInterface(s6, v6('::'))).to.equal(0);
      expect(native.getMulticastInterface(s6, S.AF_INET6, out)).to.equal(0);
      expect(native.decodeAddress(out)).to.deep.equal({ family: 6, host: '::', port: 0 });
    });

    it('reports the errors a user meets as -errno, never throwing', () => {
      const s = track(native.socket(S.AF_INET, S.SOCK_DGRAM));
      const group = v4('239.77.2.1');
      expect(native.membership(s, true, group)).to.equal(0);
      expect(native.membership(s, true, group)).to.be.below(0);
      expect(native.membership(s, false, group)).to.equal(0);
      expect(native.membership(s, false, group)).to.be.below(0);
      expect(native.membership(s, true, v4('10.1.2.3'))).to.be.below(0);
      if (linux) {
        expect(native.membership(s, true, group)).to.equal(0);
        expect(native.membership(s, true, group), 'joined twice').to.equal(-E.EADDRINUSE!);
        expect(native.membership(s, false, group)).to.equal(0);
        expect(native.membership(s, false, group), 'not joined').to.equal(-E.EADDRNOTAVAIL!);
        expect(native.membership(s, true, v4('10.1.2.3')), 'not a group').to.equal(-E.EINVAL!);
        // 198.51.100.0/24 is TEST-NET-2: no interface of a test machine has 198.51.100.77.
        expect(native.membership(s, true, group, v4('198.51.100.77')), 'no such interface').to.equal(-E.ENODEV!);
        expect(native.setMulticastInterface(s, v4('198.51.100.77')), 'no such interface').to.equal(-E.EADDRNOTAVAIL!);
        expect(native.setsockopt(s, S.IPPROTO_IP, S.IP_MULTICAST_TTL, 256)).to.equal(-E.EINVAL!);
        const s6 = track(native.socket(S.AF_INET6, S.SOCK_DGRAM));
        expect(native.membership(s6, true, v6('ff15::77'), v6('::%999'))).to.equal(-E.ENODEV!);
        expect(native.setMulticastInterface(s6, v6('::%999'))).to.equal(-E.ENODEV!);
        expect(native.setsockopt(s6, S.IPPROTO_IPV6, S.IPV6_MULTICAST_HOPS, 256)).to.equal(-E.EINVAL!);
        // One socket joins at most net.ipv4.igmp_max_memberships groups.
        const max = Number(readFileSync('/proc/sys/net/ipv4/igmp_max_memberships', 'utf8'));
        const many = track(native.socket(S.AF_INET, S.SOCK_DGRAM));
        for (let i = 0; i < max; i++) expect(native.membership(many, true, v4(`239.78.${i >> 8}.${i & 255}`))).to.equal(0);
        expect(native.membership(many, true, v4('239.79.0.1'))).to.equal(-E.ENOBUFS!);
      }
      // Arguments: families that differ, addresses that are none, a Unix address, bad fds.
      expect(native.membership(s, true, group, v6('::'))).to.equal(-E.EINVAL!);
      expect(native.membership(s, true, group, null, v6('::1'))).to.equal(-E.EINVAL!);
      expect(native.membership(s, 1 as never, group)).to.equal(-E.EINVAL!);
      expect(native.membership(s, true, new Uint8Array(4))).to.equal(-E.EINVAL!);
      expect(native.membership(s, true, group, 5 as never)).to.equal(-E.EINVAL!);
      expect(native.membership(s, true, new Uint8Array(S.ADDR_BYTES))).to.equal(-E.EINVAL!);
      expect(native.getMulticastInterface(s, 12345, new Uint8Array(S.ADDR_BYTES))).to.equal(-E.EAFNOSUPPORT!);
      expect(native.getMulticastInterface(s, S.AF_INET, new Uint8Array(8))).to.equal(-E.EINVAL!);
      expect(native.setMulticastInterface(s, new Uint8Array(2))).to.equal(-E.EINVAL!);
      if (linux) {
        expect(native.membership(s, true, addr(S.AF_UNIX, '/tmp/x'))).to.equal(-E.EAFNOSUPPORT!);
        expect(native.setMulticastInterface(s, addr(S.AF_UNIX, '/tmp/x'))).to.equal(-E.EAFNOSUPPORT!);
      }
      expect(native.membership(-1, true, group)).to.equal(-E.EBADF!);
      expect(native.setMulticastInterface(-1, v4('0.0.0.0'))).to.equal(-E.EBADF!);
      expect(native.getMulticastInterface(-1, S.AF_INET, new Uint8Array(S.ADDR_BYTES))).to.equal(-E.EBADF!);
    });
  });

  it('rejects bad arguments with -EINVAL and bad fds with -EBADF, never throwing', () => {
    const out = new Uint8Array(S.ADDR_BYTES);
    expect(native.sockaddr(out, S.AF_INET, 'localhost', 80)).to.equal(-E.EINVAL!);
    expect(native.sockaddr(out, S.AF_INET, '::1', 80)).to.equal(-E.EINVAL!);
    expect(native.sockaddr(out, S.AF_INET6, '127.0.0.1', 80)).to.equal(-E.EINVAL!);
    expect(native.sockaddr(out, S.AF_INET, '1.2.3.4', 70000)).to.equal(-E.EINVAL!);
    expect(native.sockaddr(out, S.AF_UNIX, 'x'.repeat(200))).to.equal(-E.EINVAL!);
    expect(native.sockaddr(new Uint8Array(8), S.AF_INET, '1.2.3.4', 1)).to.equal(-E.EINVAL!);
    expect(native.sockaddr(out, 12345, '1.2.3.4', 1)).to.equal(-E.EAFNOSUPPORT!);
    expect(native.sockaddr(out, S.AF_INET6, 'fe80::1%2', 1)).to.equal(0);
    expect(native.decodeAddress(out)).to.deep.equal({ family: 6, host: 'fe80::1%2', port: 1 });
    expect(native.bind(-1, addr(S.AF_INET, '127.0.0.1'))).to.equal(-E.EBADF!);
    expect(native.bind(0, new Uint8Array(S.ADDR_BYTES))).to.equal(-E.EINVAL!);
    expect(native.connect(-1, addr(S.AF_INET, '127.0.0.1', 1))).to.equal(-E.EBADF!);
    expect(native.accept(-1)).to.equal(-E.EBADF!);
    expect(native.read(0, Buffer.alloc(4), 2, 4)).to.equal(-E.EINVAL!);
    expect(native.socket(12345, S.SOCK_STREAM)).to.equal(-E.EAFNOSUPPORT!);
    expect(native.getsockopt(-1, S.SOL_SOCKET, S.SO_ERROR)).to.equal(-E.EBADF!);
  });
});
