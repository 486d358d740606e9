/**
 * Discovery datagrams: a node announces itself by UDP broadcast (a ping) and answers a ping with
 * a unicast pong; either way the receiver learns the sender's name, TCP address and incarnation,
 * and the node with the lower address dials the other.
 *
 * ```
 * "ACRP" 1 kind(1 ping, 2 pong) tcpPort:u16 incarnation:8 nameLen:u8 name hostLen:u8 host HMAC:32
 * ```
 *
 * The datagram carries an HMAC-SHA256 over the rest with the shared secret, so a node without the
 * secret cannot make peers dial it, and garbage is dropped without being parsed further. (A
 * replayed ping only makes a peer dial a real node, whose TCP handshake then decides.)
 *
 * @module
 * @internal
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const PING = 1;
export const PONG = 2;
const MAGIC = Buffer.from('ACRP');
const MAC = 32;

export interface Announcement {
  kind: number;
  name: string;
  host: string;
  port: number;
  incarnation: string;
}

function mac(key: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', key).update('D').update(body).digest();
}

export function encodeAnnouncement(key: Buffer, a: Announcement): Buffer {
  const name = Buffer.from(a.name.slice(0, 255));
  const host = Buffer.from(a.host);
  const inc = Buffer.from(a.incarnation, 'hex');
  if (inc.length !== 8) throw new RangeError('an incarnation is 8 bytes');
  const body = Buffer.concat([MAGIC, Buffer.of(1, a.kind, a.port >> 8, a.port & 255), inc, Buffer.of(Math.min(name.length, 255)), name.subarray(0, 255), Buffer.of(host.length), host]);
  return Buffer.concat([body, mac(key, body)]);
}

/** The announcement in `d`, or null for anything that is not a genuine one. */
export function decodeAnnouncement(key: Buffer, d: Buffer): Announcement | null {
  if (d.length < 4 + 4 + 8 + 2 + MAC || !d.subarray(0, 4).equals(MAGIC) || d[4] !== 1) return null;
  const body = d.subarray(0, d.length - MAC);
  if (!timingSafeEqual(d.subarray(d.length - MAC), mac(key, body))) return null;
  const kind = d[5]!;
  if (kind !== PING && kind !== PONG) return null;
  const port = (d[6]! << 8) | d[7]!;
  const incarnation = d.subarray(8, 16).toString('hex');
  let at = 16;
  const nl = d[at++]!;
  if (at + nl >= body.length) return null;
  const name = d.subarray(at, at + nl).toString();
  at += nl;
  const hl = d[at++]!;
  if (at + hl !== body.length || hl === 0) return null;
  const host = d.subarray(at, at + hl).toString();
  if (port === 0) return null;
  return { kind, name, host, port, incarnation };
}
