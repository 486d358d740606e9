/**
 * What multicast this host can carry, found out with Node's own dgram (so a fault of ours cannot
 * make a test look inapplicable): the multicast tests run what it can and report the rest as
 * pending, with the reason.
 */
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';

let serial = 0;
/** A group no other test run uses at the same time: 239.<pid-derived>.<random>.<n>. */
const base = `239.${(process.pid % 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
export function group4(): string {
  return `${base}.${++serial % 250}`;
}
/** A source-specific (232/8) group no other test run uses at the same time. */
export function ssmGroup4(): string {
  return `232.${base.slice(4)}.${++serial % 250}`;
}
/** A site-local IPv6 group no other test run uses at the same time. */
export function group6(): string {
  return `ff15::a5:${process.pid.toString(16)}:${++serial}`;
}

/** The loopback interface's name and IPv4 address ('lo' and 127.0.0.1 on Linux). */
export const loopback: { name: string; address: string } = (() => {
  for (const [name, list] of Object.entries(networkInterfaces())) {
    const a = list?.find((x) => x.internal && x.family === 'IPv4');
    if (a !== undefined) return { name, address: a.address };
  }
  return { name: 'lo', address: '127.0.0.1' };
})();

/**
 * Whether a datagram sent to `group` on `iface` (an IPv4 address, or `::%name`) reaches a member
 * on this host. TTL 0: nothing leaves the host. null if it does, else why not.
 */
export async function probe(family: 4 | 6, group: string, iface: string): Promise<string | null> {
  const r = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', reuseAddr: true });
  const s = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6' });
  try {
    await new Promise<void>((ok) => r.bind(0, ok));
    await new Promise<void>((ok) => s.bind(0, ok));
    r.addMembership(group, iface);
    s.setMulticastInterface(iface);
    s.setMulticastTTL(0);
    const got = new Promise<boolean>((ok) => {
      r.once('message', () => ok(true));
      setTimeout(() => ok(false), 1000);
    });
    s.send('probe', r.address().port, group);
    return (await got) ? null : `a datagram to ${group} on ${iface} does not arrive here`;
  } catch (e) {
    return `${group} on ${iface}: ${(e as Error).message}`;
  } finally {
    r.close();
    s.close();
  }
}

/** An interface that is not loopback, its IPv4 address (if any) and the address probed. */
export interface RealInterface {
  name: string;
  address: string;
  ipv4: string | undefined;
}

/**
 * A non-loopback interface on which multicast of `family` reaches this host's own members, or
 * why there is none.
 */
export async function realInterface(family: 4 | 6): Promise<RealInterface | string> {
  const why: string[] = [];
  for (const [name, list] of Object.entries(networkInterfaces())) {
    const a = list?.find((x) => !x.internal && x.family === (family === 4 ? 'IPv4' : 'IPv6'));
    if (a === undefined) continue;
    const no = await probe(family, family === 4 ? group4() : group6(), family === 4 ? a.address : `::%${name}`);
    if (no === null) return { name, address: a.address, ipv4: list!.find((x) => x.family === 'IPv4')?.address };
    why.push(no);
  }
  return why.length > 0 ? why.join('; ') : `no interface but loopback has ${family === 4 ? 'an IPv4' : 'an IPv6'} address`;
}

/**
 * Whether only members of a group receive it, so a socket that leaves gets nothing more while
 * another socket of the host stays in: true on Linux (AsyncSocket turns IP_MULTICAST_ALL off for
 * a socket that joins), BSD and Windows. Not under wine (scripts/platform-win32.sh), whose
 * Windows sockets are Linux sockets with IP_MULTICAST_ALL on, which no Windows call can reach.
 */
export const onlyMembersReceive: boolean = !(process.platform === 'win32' && process.env['WINEPREFIX'] !== undefined);
