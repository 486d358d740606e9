/**
 * The codec of the peer transport: frames and what is inside them.
 *
 * A frame is a 4-byte big-endian length and that many bytes of MessagePack (msgpackr). Its value
 * is an array whose first element is the frame type (`F.*` below). msgpackr runs with records
 * (so a `Map` stays a Map and a plain object stays an object) and `moreTypes` (Set, typed arrays,
 * Error), which together keep Date, Map, Set, Buffer, typed arrays and bigint as they were.
 *
 * Two extensions make references travel: a {@link Coro} (local, or a proxy of a remote one)
 * becomes (host, port, incarnation, id, name), a {@link Channel} (or a proxy) (host, port,
 * incarnation, name). The network that decodes a frame turns them back into the local object
 * when the reference points home, else into the canonical proxy of the peer it names. Which
 * network encodes or decodes is module state set around each (synchronous) pack and unpack.
 * A third carries a {@link MonitorStatus} sent to a remote monitor (a proxy given to
 * `coro.notify`, a remote subscriber of a channel that monitors): (coro, kind, value or wire
 * error), so it arrives as a MonitorStatus whose error is a {@link RemoteError}.
 *
 * Nothing here runs before a connection has authenticated (lib/remote/auth.ts): the handshake
 * has its own fixed binary format, so no byte from an unauthenticated peer reaches msgpackr.
 *
 * @module
 * @internal
 */
import { Packr, Unpackr, addExtension } from 'msgpackr';
import { Coro } from '../core/coro.js';
import { AsyncoroError, TimeoutError } from '../core/errors.js';
import { Channel } from '../msg/channel.js';
import { MonitorStatus } from '../supervise/monitor.js';
import { FileRefusedError, PeerLostError, RemoteError } from './errors.js';
import { RemoteChannel, RemoteCoro } from './refs.js';

export { F } from './wire.js';

/** What the network decoding a frame provides, to turn references back into objects. */
export interface RefResolver {
  coro(host: string, port: number, incarnation: string, id: number, name: string): Coro | RemoteCoro;
  channel(host: string, port: number, incarnation: string, name: string): Channel | RemoteChannel;
  /** A local coroutine or channel is being sent: keep it reachable and say where it lives. */
  exportCoro(c: Coro): void;
  exportChannel(ch: Channel): void;
  readonly host: string;
  readonly port: number;
  readonly incarnation: string;
}

let encoding: RefResolver | null = null;
let decoding: RefResolver | null = null;

/** Extension type codes (1-100 are the application's in msgpackr). */
const EXT_CORO = 60;
const EXT_REMOTE_CORO = 61;
const EXT_CHANNEL = 62;
const EXT_REMOTE_CHANNEL = 63;
const EXT_MONITOR_STATUS = 64;

function noContext(): never {
  throw new AsyncoroError('a Coro or Channel can be sent only in a message to a peer', 'ERR_NOT_SENDABLE');
}

addExtension({
  Class: Coro,
  type: EXT_CORO,
  write(c: Coro): unknown[] {
    const r = encoding ?? noContext();
    r.exportCoro(c);
    return [r.host, r.port, r.incarnation, c.id, c.name];
  },
  read: readCoro,
});
addExtension({
  Class: RemoteCoro,
  type: EXT_REMOTE_CORO,
  write(p: RemoteCoro): unknown[] {
    if (encoding === null) noContext();
    return [p.host, p.port, p.incarnation, p.id, p.name];
  },
  read: readCoro,
});
addExtension({
  Class: Channel,
  type: EXT_CHANNEL,
  write(ch: Channel): unknown[] {
    const r = encoding ?? noContext();
    r.exportChannel(ch);
    return [r.host, r.port, r.incarnation, ch.name];
  },
  read: readChannel,
});
addExtension({
  Class: RemoteChannel,
  type: EXT_REMOTE_CHANNEL,
  write(p: RemoteChannel): unknown[] {
    if (encoding === null) noContext();
    return [p.host, p.port, p.incarnation, p.name];
  },
  read: readChannel,
});

addExtension({
  Class: MonitorStatus,
  type: EXT_MONITOR_STATUS,
  write(st: MonitorStatus): unknown[] {
    if (encoding === null) noContext();
    return [st.coro, st.kind, st.kind === 'normal' ? st.value : errorToWire(st.error)];
  },
  read(d: unknown): MonitorStatus {
    if (!Array.isArray(d) || d.length !== 3) throw new BadFrame('bad monitor status');
    const [coro, kind, v] = d as unknown[];
    if (!(coro instanceof Coro || coro instanceof RemoteCoro) || (kind !== 'normal' && kind !== 'error' && kind !== 'terminated')) {
      throw new BadFrame('bad monitor status');
    }
    const where = coro instanceof RemoteCoro ? coro.location : `${decoding!.host}:${decoding!.port}`;
    return new MonitorStatus(coro, kind, kind === 'normal' ? v : wireToError(where, v));
  },
});

/** A malformed reference inside a frame: the frame (and its connection) is refused. */
export class BadFrame extends Error {}

function readCoro(d: unknown): Coro | RemoteCoro {
  if (!Array.isArray(d) || d.length !== 5) throw new BadFrame('bad coroutine reference');
  const [host, port, inc, id, name] = d as unknown[];
  if (typeof host !== 'string' || typeof inc !== 'string' || typeof name !== 'string' || !isPort(port) || !isId(id)) {
    throw new BadFrame('bad coroutine reference');
  }
  if (decoding === null) throw new BadFrame('a reference outside a frame');
  return decoding.coro(host, port, inc, id, name);
}

function readChannel(d: unknown): Channel | RemoteChannel {
  if (!Array.isArray(d) || d.length !== 4) throw new BadFrame('bad channel reference');
  const [host, port, inc, name] = d as unknown[];
  if (typeof host !== 'string' || typeof inc !== 'string' || typeof name !== 'string' || name === '' || !isPort(port)) {
    throw new BadFrame('bad channel reference');
  }
  if (decoding === null) throw new BadFrame('a reference outside a frame');
  return decoding.channel(host, port, inc, name);
}

function isPort(p: unknown): p is number {
  return typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 65535;
}

/** @internal */
export function isId(id: unknown): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id > 0;
}

const OPTIONS = { useRecords: true, moreTypes: true, copyBuffers: true, mapsAsObjects: false } as const;
const packr = new Packr(OPTIONS);
const unpackr = new Unpackr(OPTIONS);

/**
 * Encodes one frame's value for the network `r`. Returns a Buffer that stays valid (msgpackr
 * hands out slices of its own buffer and never writes over one it returned).
 */
export function encodeFrame(r: RefResolver, value: unknown[]): Buffer {
  encoding = r;
  try {
    return packr.pack(value);
  } finally {
    encoding = null;
  }
}

/**
 * Decodes the frame in `buf[start, end)` for the network `r`. Throws on anything malformed: the
 * caller closes the connection.
 */
const range = { start: 0, end: 0 };

export function decodeFrame(r: RefResolver, buf: Buffer, start: number, end: number): unknown[] {
  decoding = r;
  let v: unknown;
  // One options object for every frame: msgpackr reads it and keeps nothing of it.
  range.start = start;
  range.end = end;
  try {
    v = unpackr.unpack(buf, range);
  } finally {
    decoding = null;
  }
  if (!Array.isArray(v) || v.length === 0 || typeof v[0] !== 'number') throw new BadFrame('a frame is an array starting with its type');
  return v;
}

/** The wire form of an error: [name, message, stack, code]. */
export type WireError = [string, string, string, string | undefined];

/** @internal */
export function errorToWire(err: unknown): WireError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return [err.name, err.message, err.stack ?? `${err.name}: ${err.message}`, typeof code === 'string' ? code : undefined];
  }
  return ['Error', String(err), String(err), undefined];
}

/**
 * @internal Turns a wire error from `location` back into an error: the peers layer's own refusals
 * keep their class (so `instanceof` works across the network); anything else is a
 * {@link RemoteError} holding the original's name, message, code and stack.
 */
export function wireToError(location: string, w: unknown): Error {
  if (!Array.isArray(w)) return new RemoteError(location, 'Error', 'malformed remote error', '', undefined);
  const [name, message, stack, code] = w as unknown[];
  const msg = typeof message === 'string' ? message : String(message);
  const c = typeof code === 'string' ? code : undefined;
  if (name === 'FileRefusedError' && c !== undefined && c.startsWith('ERR_')) {
    return new FileRefusedError(`${location}: ${msg}`, c as 'ERR_FILE');
  }
  if (name === 'TimeoutError' && c === 'ERR_TIMEOUT') {
    const ms = /after (\d+(?:\.\d+)?) ms/.exec(msg);
    const e = new TimeoutError(`${location}: ${msg.replace(/ timed out after .*$/, '')}`, ms !== null ? Number(ms[1]) : 0);
    return e;
  }
  if (name === 'PeerLostError' && c === 'ERR_PEER_LOST') return new PeerLostError(msg, location);
  return new RemoteError(location, typeof name === 'string' ? name : 'Error', msg, typeof stack === 'string' ? stack : '', c);
}

/** @internal Is this the error a malformed frame produced? */
export function isBadFrame(e: unknown): boolean {
  return e instanceof BadFrame;
}
