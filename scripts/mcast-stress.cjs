// Drives every path of the multicast calls in native/sockets.cc many times with the raw binding,
// for scripts/memcheck.sh (valgrind: scripts/memcheck.sh scripts/mcast-stress.cjs) and as the
// script scripts/asan-test.sh's build can run: memberships joined and left (any-source and
// source-specific, IPv4 and IPv6, with and without an interface), the outgoing interface set and
// read back, the TTL/hops and loopback options, datagrams through a group on loopback, and every
// refusal (arguments that are no addresses, families that differ, bad fds, a group joined twice).
// Plain JavaScript so valgrind runs it without a TypeScript loader.
// Usage: node scripts/mcast-stress.cjs [rounds]
'use strict';
const path = require('node:path');
const root = path.join(__dirname, '..');
const native = require('node-gyp-build')(root);
const S = native.sockets;
const E = native.errno;

const rounds = Number(process.argv[2] ?? 200);
function addr(family, host, port = 0) {
  const out = new Uint8Array(S.ADDR_BYTES);
  const rc = native.sockaddr(out, family, host, port);
  if (rc !== 0) throw new Error(`sockaddr ${host}: ${native.strerror(rc)}`);
  return out;
}
function must(what, rc, ...ok) {
  if (!ok.includes(rc)) throw new Error(`${what}: got ${rc} (${native.errnoName(rc)}), expected ${ok.join(' or ')}`);
}
const v4 = (h, p) => addr(S.AF_INET, h, p);
const v6 = (h, p) => addr(S.AF_INET6, h, p);
const lo4 = v4('127.0.0.1');
const lo6 = v6('::%1');
const out = new Uint8Array(S.ADDR_BYTES);
const buf = Buffer.alloc(64);
let received = 0;

for (let r = 0; r < rounds; r++) {
  const g4 = v4(`239.200.${r >> 8}.${r & 255}`);
  const g6 = v6(`ff15::c8:${r.toString(16)}`);
  const recv = native.socket(S.AF_INET, S.SOCK_DGRAM);
  const send = native.socket(S.AF_INET, S.SOCK_DGRAM);
  const six = native.socket(S.AF_INET6, S.SOCK_DGRAM);
  must('bind', native.bind(recv, v4('0.0.0.0')), 0);
  must('getsockname', native.getsockname(recv, out), 0);
  const port = native.decodeAddress(out).port;

  // Any-source: join, the same again (refused), a datagram through it, leave, leave again.
  must('join', native.membership(recv, true, g4, lo4), 0);
  must('join twice', native.membership(recv, true, g4, lo4) < 0 ? -1 : 0, -1);
  must('interface', native.setMulticastInterface(send, lo4), 0);
  must('ttl', native.setsockopt(send, S.IPPROTO_IP, S.IP_MULTICAST_TTL, r & 255), 0);
  must('ttl back', native.getsockopt(send, S.IPPROTO_IP, S.IP_MULTICAST_TTL), r & 255);
  must('loop', native.setsockopt(send, S.IPPROTO_IP, S.IP_MULTICAST_LOOP, 1), 0);
  must('loop back', native.getsockopt(send, S.IPPROTO_IP, S.IP_MULTICAST_LOOP), 1);
  must('interface back', native.getMulticastInterface(send, S.AF_INET, out), 0);
  must('sendto', native.sendto(send, buf, 0, 8, v4(`239.200.${r >> 8}.${r & 255}`, port)), 8);
  const from = new Uint8Array(S.ADDR_BYTES);
  for (let i = 0; i < 1000; i++) {
    const n = native.recvfrom(recv, buf, 0, buf.length, from);
    if (n === 8) {
      received++;
      break;
    }
    if (n !== -E.EAGAIN) throw new Error(`recvfrom: ${native.strerror(n)}`);
  }
  must('leave', native.membership(recv, false, g4, lo4), 0);
  must('leave again', native.membership(recv, false, g4, lo4) < 0 ? -1 : 0, -1);

  // Source-specific (where the system has it), and the default interface.
  const ssm = native.membership(recv, true, v4(`232.200.${r >> 8}.${r & 255}`), null, v4('127.0.0.2'));
  if (ssm === 0) must('leave ssm', native.membership(recv, false, v4(`232.200.${r >> 8}.${r & 255}`), undefined, v4('127.0.0.2')), 0);

  // IPv6: joined on the loopback index (joining needs no multicast flag on the interface).
  must('join6', native.membership(six, true, g6, lo6), 0);
  must('hops', native.setsockopt(six, S.IPPROTO_IPV6, S.IPV6_MULTICAST_HOPS, 3), 0);
  must('loop6', native.setsockopt(six, S.IPPROTO_IPV6, S.IPV6_MULTICAST_LOOP, 0), 0);
  must('interface6', native.setMulticastInterface(six, lo6), 0);
  must('interface6 back', native.getMulticastInterface(six, S.AF_INET6, out), 0);
  const ssm6 = native.membership(six, true, v6(`ff35::c8:${r.toString(16)}`), lo6, v6('::1'));
  if (ssm6 === 0) must('leave ssm6', native.membership(six, false, v6(`ff35::c8:${r.toString(16)}`), lo6, v6('::1')), 0);
  must('leave6', native.membership(six, false, g6, lo6), 0);

  // Refusals: none throws, each is -errno.
  must('mixed', native.membership(recv, true, g4, lo6), -E.EINVAL);
  must('mixed source', native.membership(recv, true, g4, null, v6('::1')), -E.EINVAL);
  must('not boolean', native.membership(recv, 1, g4), -E.EINVAL);
  must('short', native.membership(recv, true, new Uint8Array(4)), -E.EINVAL);
  must('not an address', native.membership(recv, true, g4, 'x'), -E.EINVAL);
  must('no family', native.membership(recv, true, new Uint8Array(S.ADDR_BYTES)), -E.EINVAL);
  must('bad fd', native.membership(-1, true, g4), -E.EBADF);
  must('bad fd if', native.setMulticastInterface(-1, lo4), -E.EBADF);
  must('bad fd if back', native.getMulticastInterface(-1, S.AF_INET, out), -E.EBADF);
  must('bad family', native.getMulticastInterface(send, 12345, out), -E.EAFNOSUPPORT);
  must('short out', native.getMulticastInterface(send, S.AF_INET, new Uint8Array(8)), -E.EINVAL);
  must('no args', native.membership(), -E.EINVAL);
  must('no args if', native.setMulticastInterface(), -E.EINVAL);
  for (const fd of [recv, send, six]) native.close(fd);
  if (r % 50 === 0 && global.gc) global.gc();
}
if (received !== rounds) throw new Error(`received ${received} of ${rounds} datagrams`);
console.log(`mcast-stress: ok, ${rounds} rounds, ${received} datagrams through a group`);
