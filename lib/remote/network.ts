/**
 * `Network`: a scheduler's presence among its peers. `yield* joinNetwork(options)` binds the TCP
 * listener (and the UDP discovery sockets), and from then on the scheduler's coroutines and
 * channels can be reached from peers, and peers' from here.
 *
 * Identity: a node is its name, its TCP address (`host:port`, its *location*) and an incarnation
 * drawn at random when it joins, so a process restarted on the same address is a new peer (and
 * references to the old one's coroutines are dead).
 *
 * Connections: one per pair of peers, authenticated (lib/remote/auth.ts), carrying frames both
 * ways (lib/remote/peer.ts). Peers are found by UDP broadcast or multicast (`discover`), a static list
 * (`peers`), references that name them, and relaying: a node tells each new peer about the
 * others it knows. When both ends of a pair dial each other at once, the connection dialled by the
 * node with the lower location wins; the server side decides before any frame flows, so nothing
 * sent is lost to that race.
 *
 * Liveness: a peer that sent nothing for `3 × heartbeat` ms is lost (each side sends a ping after
 * `heartbeat` ms of silence). A lost peer is offline at once: `peerStatus` watchers are told,
 * waiting requests fail with {@link PeerLostError}, monitors of its coroutines are told; then
 * the side that can dials it again with backoff for `reconnectFor` ms (a partition that heals in
 * time brings it back online, with the same incarnation and so the same proxies).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { hostname, networkInterfaces } from 'node:os';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { Coro, F_RESTARTABLE, checkTimeout, sleep, suspend, type CoroFn } from '../core/coro.js';
import { AsyncoroError, CoroStateError } from '../core/errors.js';
import { running, type Op } from '../core/op.js';
import { defaultScheduler, type Scheduler } from '../core/scheduler.js';
import { Channel, type Subscriber } from '../msg/channel.js';
import { AsyncSocket, isMulticastAddress } from '../io/socket.js';
import { clientHandshake, HandshakeError, MAX_HELLO, sendAnswer, serverHandshake, type Stream } from './auth.js';
import { BadFrame, decodeFrame, encodeFrame, errorToWire, F, isId, wireToError, type RefResolver } from './codec.js';
import { decodeAnnouncement, encodeAnnouncement, PING, PONG, type Announcement } from './discovery.js';
import { NoNetworkError, PeerLostError, TlsUnavailableError } from './errors.js';
import { CertificateError, HostnameMismatchError, TlsError } from '../io/errors.js';
import { createSecureContext, SecureContext, startTls, TlsSocket, type SecureContextOptions } from '../io/tls.js';
import { fileBegin, fileData, fileDelete, fileEnd, peerGoneFiles } from './files.js';
import { remoteMonitorHooks, type MonitorTarget } from './monitor-seam.js';
import { CONNECTING, OFFLINE, ONLINE, Peer, type PeerStatistics } from './peer.js';
import { RemoteChannel, RemoteCoro, type PeerLink } from './refs.js';
import { rciRegistry } from './registry.js';
import { setRemoteLocate, type LocateOptions, type LocationLike } from './locate-hook.js';

export type { LocateOptions, LocationLike };

/**
 * TLS for peer connections: the options of a TLS context (`key`, `cert`, `ca`, `passphrase`,
 * `minVersion`, `ciphers`, `engine`, ...), or a `secureContext` made once by
 * `createSecureContext`, plus `servername` (the name every peer's certificate is checked
 * against, when they are not issued for the peers' IP addresses) and `handshakeTimeout`. TLS is
 * mutual: each side presents its certificate, and each verifies the other's against `ca`.
 */
export interface PeerTlsOptions extends SecureContextOptions {
  /** A context made by `createSecureContext` (its options then apply; the others are ignored). */
  readonly secureContext?: SecureContext;
  /** The name checked against a peer's certificate; default: the peer's IP address. */
  readonly servername?: string;
  /** Milliseconds a TLS handshake may take; default: the authentication timeout (at least 2 s). */
  readonly handshakeTimeout?: number;
}

/**
 * Options of {@link joinNetwork}.
 *
 * @example
 * ```ts
 * const net = yield* joinNetwork({ name: 'worker-1', host: '10.0.0.5', tcpPort: 9705, secret: process.env.SECRET! });
 * ```
 */
export interface NetworkOptions {
  /** The node's name; default `<hostname>-<pid>`. */
  name?: string;
  /**
   * The address to listen on and announce; default `'127.0.0.1'`. Give the machine's address for
   * peers on other hosts (a name is resolved; `'0.0.0.0'` listens everywhere and announces the
   * first non-internal IPv4 address).
   */
  host?: string;
  /** The TCP port; default 0 (any free port: see {@link Network.port}). */
  tcpPort?: number;
  /** The UDP port of discovery, shared by the nodes of a network; default 51350. */
  udpPort?: number;
  /**
   * Discovery: `true` (default) pings the broadcast address of `host` (for loopback,
   * 127.255.255.255; else 255.255.255.255) at start and every `interval` ms; `false` turns it
   * off; an object sets the broadcast address and the interval, or, with `multicast`, pings that
   * group (an IPv4 group such as `'239.1.2.3'` or an IPv6 one such as `'ff15::a5'`) instead of
   * broadcasting: every node joins the group on the interface of `host` (the routing table's
   * choice for `'0.0.0.0'`), and `ttl` (default 1: this network only) says how many routers its
   * pings may cross.
   *
   * @example
   * ```ts
   * yield* joinNetwork({ name: 'w1', host: '10.0.0.5', secret, discover: { multicast: '239.1.2.3', ttl: 4 } });
   * ```
   */
  discover?: boolean | { broadcast?: string; multicast?: string; ttl?: number; interval?: number };
  /** Peers to dial at start (and again, with backoff, until they answer): `'host:port'` or `{ host, port }`. */
  peers?: (string | { host: string; port: number })[];
  /** The shared secret every peer must prove it knows (HMAC challenge-response). Required unless `tls` is given. */
  secret?: string;
  /** TLS for every peer connection (mutual: both sides present certificates). */
  tls?: PeerTlsOptions;
  /** Where files sent to this node land (`sendFile`); default `<tmpdir>/asyncoro/<name>`. */
  destPath?: string;
  /** The largest file a peer may send here, in bytes; default 1 GiB. */
  maxFileSize?: number;
  /** Milliseconds of silence before a ping; a peer silent for 3× this is lost. Default 5000. */
  heartbeat?: number;
  /** How long to keep dialing a lost peer, in ms; default 30000. */
  reconnectFor?: number;
  /** The largest frame sent or accepted, in bytes; default 16 MiB. A larger one closes the connection. */
  maxFrameSize?: number;
  /** The most bytes queued for one peer before `send` throws SendQueueFullError; default 16 MiB. */
  maxQueueBytes?: number;
  /** Where the network writes what it refuses and why (one line each); default stderr. */
  log?: (line: string) => void;
}

/**
 * Checks `tls` and makes its one context: a bad certificate, key or CA throws here, at
 * `joinNetwork`, not at the first connection. A node must be able to serve (key and cert).
 */
function peerTls(o: PeerTlsOptions): NonNullable<ResolvedOptions['tls']> {
  if (o === null || typeof o !== 'object') throw new TypeError('tls must be an object of TLS options');
  for (const k of ['isServer', 'requestCert', 'rejectUnauthorized', 'SNICallback', 'session', 'ALPNProtocols']) {
    if (k in o) throw new TypeError(`tls.${k} cannot be set for peers: peer links are always mutual, verified TLS`);
  }
  if (o.servername !== undefined && (typeof o.servername !== 'string' || o.servername === '')) throw new TypeError('tls.servername must be a non-empty string');
  if (o.handshakeTimeout !== undefined && (typeof o.handshakeTimeout !== 'number' || !(o.handshakeTimeout > 0) || !Number.isFinite(o.handshakeTimeout))) {
    throw new RangeError(`tls.handshakeTimeout must be a number > 0, got ${String(o.handshakeTimeout)}`);
  }
  let ctx: SecureContext;
  if (o.secureContext !== undefined) {
    if (!(o.secureContext instanceof SecureContext)) throw new TypeError('tls.secureContext must come from createSecureContext');
    ctx = o.secureContext;
  } else {
    const { servername: _n, handshakeTimeout: _h, secureContext: _c, ...rest } = o;
    ctx = createSecureContext(rest);
  }
  if (!ctx._canServe) throw new TypeError('tls needs key and cert: every peer both accepts and dials, and presents its certificate either way');
  return { ctx, servername: o.servername, handshakeTimeout: o.handshakeTimeout };
}

/** @internal */
export interface ResolvedOptions {
  name: string;
  host: string;
  tcpPort: number;
  udpPort: number;
  /** `multicast` is the group ('' for broadcast), `ttl` its pings' TTL. */
  discover: { broadcast: string; multicast: string; ttl: number; interval: number } | null;
  peers: { host: string; port: number }[];
  key: Buffer;
  /** TLS for peer connections: one context for all of them, and the per-connection options. */
  tls: { ctx: SecureContext; servername: string | undefined; handshakeTimeout: number | undefined } | undefined;
  destPath: string;
  maxFileSize: number;
  heartbeat: number;
  reconnectFor: number;
  maxFrameSize: number;
  maxQueueBytes: number;
  log: (line: string) => void;
}

/**
 * A notice sent to the coroutines registered with {@link peerStatus} when a peer comes online or
 * goes offline.
 */
export class PeerStatus {
  constructor(
    /** The peer's name. */
    readonly name: string,
    /** Its address, `host:port`. */
    readonly location: string,
    /** `'online'` or `'offline'`. */
    readonly status: 'online' | 'offline',
    /** Its incarnation: a new one means the peer process was restarted. */
    readonly incarnation: string,
  ) {}
  toString(): string {
    return `PeerStatus(${this.name}@${this.location} ${this.status})`;
  }
}

/** What a peer is known as, from {@link Network.peers}. */
export interface PeerInfo {
  name: string;
  location: string;
  incarnation: string;
  status: 'online' | 'offline' | 'connecting';
  /** The TLS of the current (or last) connection: its protocol and the peer certificate's subject; null without TLS. */
  tls: { protocol: string; subject: string | null } | null;
  statistics: PeerStatistics;
}

/** Counters of a network. */
export interface NetworkStatistics {
  peersOnline: number;
  /** Connections refused at the handshake: wrong secret, not a peer, too slow. */
  authFailures: number;
  /** Connections closed for a frame over `maxFrameSize`. */
  oversizedFrames: number;
  /** Connections closed for a frame that did not decode or made no sense. */
  malformedFrames: number;
  /** Discovery datagrams dropped (not signed with the secret, or malformed). */
  badDatagrams: number;
  framesIn: number;
  framesOut: number;
  /** Local coroutines reachable by peers (they were sent in a message or located). */
  exported: number;
}

const networks = new WeakMap<Scheduler, Network>();

/** The network the running coroutine's scheduler (or `sched`) has joined, or undefined. */
export function networkOf(sched?: Scheduler): Network | undefined {
  const s = sched ?? running?._s ?? defaultScheduler();
  const n = networks.get(s);
  return n !== undefined && !n.isClosed ? n : undefined;
}

/** @internal The network of the running coroutine's scheduler, or NoNetworkError. */
export function currentNetwork(what: string): Network {
  const n = networkOf();
  if (n === undefined) throw new NoNetworkError(what);
  return n;
}

function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new BadFrame(what);
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isReq = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

function defaultBroadcast(host: string): string {
  if (host.startsWith('127.')) return '127.255.255.255';
  return '255.255.255.255';
}

function firstAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function resolveOptions(o: NetworkOptions): Omit<ResolvedOptions, 'host'> & { host: string } {
  if (o === null || typeof o !== 'object') throw new TypeError('joinNetwork: options must be an object');
  const name = o.name ?? `${hostname()}-${process.pid}`;
  if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > 255) throw new TypeError('name must be a non-empty string of at most 255 bytes');
  const port = (v: unknown, what: string, dflt: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) throw new RangeError(`${what} must be an integer from 0 to 65535, got ${String(v)}`);
    return v;
  };
  const positive = (v: unknown, what: string, dflt: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new RangeError(`${what} must be a number > 0, got ${String(v)}`);
    return v;
  };
  if (o.secret !== undefined && (typeof o.secret !== 'string' || o.secret === '')) throw new TypeError('secret must be a non-empty string');
  if (o.secret === undefined && o.tls === undefined) throw new TypeError('joinNetwork needs a secret (or tls): peers must authenticate');
  const host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new TypeError('host must be a non-empty string');
  const udpPort = port(o.udpPort, 'udpPort', 51350);
  let discover: ResolvedOptions['discover'] = null;
  const d = o.discover ?? true;
  if (d === true) discover = { broadcast: '', multicast: '', ttl: 1, interval: 5000 };
  else if (d !== false) {
    if (typeof d !== 'object' || d === null) throw new TypeError('discover must be true, false or { broadcast, multicast, ttl, interval }');
    if (d.broadcast !== undefined && (typeof d.broadcast !== 'string' || isIP(d.broadcast) !== 4)) throw new TypeError('discover.broadcast must be an IPv4 address');
    const m = d.multicast;
    if (m !== undefined) {
      if (typeof m !== 'string' || isIP(m) === 0) throw new TypeError(`discover.multicast must be the IP address of a multicast group, got ${JSON.stringify(m)}`);
      if (!isMulticastAddress(m)) throw new RangeError(`discover.multicast must be a multicast group (224.0.0.0/4 or ff00::/8), got ${m}`);
      if (d.broadcast !== undefined) throw new TypeError('discover: give broadcast or multicast, not both');
    }
    const ttl = d.ttl;
    if (ttl !== undefined) {
      if (m === undefined) throw new TypeError('discover.ttl is the TTL of multicast pings: it needs discover.multicast');
      if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > 255) throw new RangeError(`discover.ttl must be an integer from 0 to 255, got ${String(ttl)}`);
    }
    discover = { broadcast: d.broadcast ?? '', multicast: m ?? '', ttl: ttl ?? 1, interval: positive(d.interval, 'discover.interval', 5000) };
  }
  const peers = (o.peers ?? []).map((p) => parseLocation(p, 'peers'));
  const maxFrameSize = positive(o.maxFrameSize, 'maxFrameSize', 16 * 1024 * 1024);
  if (maxFrameSize < MAX_HELLO || maxFrameSize > 0x7fffffff) throw new RangeError(`maxFrameSize must be from ${MAX_HELLO} to 2^31-1`);
  return {
    name,
    host,
    tcpPort: port(o.tcpPort, 'tcpPort', 0),
    udpPort,
    discover,
    peers,
    key: Buffer.from(o.secret ?? '', 'utf8'),
    tls: o.tls !== undefined ? peerTls(o.tls) : undefined,
    destPath: resolve(o.destPath ?? join(tmpdir(), 'asyncoro', name)),
    maxFileSize: positive(o.maxFileSize, 'maxFileSize', 1024 ** 3),
    heartbeat: positive(o.heartbeat, 'heartbeat', 5000),
    reconnectFor: positive(o.reconnectFor, 'reconnectFor', 30000),
    maxFrameSize,
    maxQueueBytes: positive(o.maxQueueBytes, 'maxQueueBytes', 16 * 1024 * 1024),
    log: o.log ?? ((line: string) => process.stderr.write(`asyncoro[${name}]: ${line}\n`)),
  };
}

/** @internal */
export function parseLocation(l: unknown, what: string): { host: string; port: number } {
  if (typeof l === 'string') {
    const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(l);
    if (m === null) throw new TypeError(`${what}: a location is 'host:port' or { host, port }, got ${JSON.stringify(l)}`);
    return { host: m[1]!, port: Number(m[2]) };
  }
  if (l === null || typeof l !== 'object' || typeof (l as { host?: unknown }).host !== 'string') {
    throw new TypeError(`${what}: a location is 'host:port' or { host, port }`);
  }
  const { host, port } = l as { host: string; port: number };
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError(`${what}: port must be an integer from 1 to 65535`);
  return { host, port };
}

function* resolveHost(host: string): Generator<unknown, string, unknown> {
  if (isIP(host) !== 0) return host;
  if (host === 'localhost') return '127.0.0.1';
  const found = (yield lookup(host, { family: 4 })) as { address: string };
  return found.address;
}

/**
 * Joins the network: listens for peers, starts discovery, dials the static peers. Returns at
 * once (peers come online meanwhile: use {@link peerStatus} to hear of them). One network per
 * scheduler.
 *
 * @example
 * ```ts
 * spawn(function* () {
 *   const net = yield* joinNetwork({ name: 'a', secret: 's3cret', tcpPort: 0 });
 *   console.log(`listening at ${net.location}`);
 * });
 * ```
 */
export function* joinNetwork(options: NetworkOptions): Generator<unknown, Network, unknown> {
  const c = running;
  if (c === null) throw new CoroStateError('joinNetwork must run in a coroutine', 'ERR_NOT_IN_CORO');
  const o = resolveOptions(options);
  const sched = c._s;
  if (o.tls !== undefined && o.tls.ctx.engine === 'node' && sched.mode === 'exclusive') {
    throw new TlsUnavailableError("tls: Node's tls engine needs Node's event loop, which does not run under a scheduler in exclusive mode");
  }
  if (networkOf(sched) !== undefined) throw new CoroStateError('this scheduler has joined a network already', 'ERR_JOINED');
  const bindHost = o.host === '0.0.0.0' ? '0.0.0.0' : yield* resolveHost(o.host);
  const announce = bindHost === '0.0.0.0' ? firstAddress() : bindHost;
  mkdirSync(o.destPath, { recursive: true });
  const l = AsyncSocket.tcp();
  try {
    l.setReuseAddress();
    yield* l.bind({ host: bindHost, port: o.tcpPort });
    l.listen();
  } catch (e) {
    l.close();
    throw e;
  }
  const port = (l.localAddress as { port: number }).port;
  const net = new Network(sched, { ...o, host: announce }, l, port);
  networks.set(sched, net);
  try {
    yield* net._start(bindHost);
  } catch (e) {
    // Discovery could not start (its port taken, a group that cannot be joined): no half-joined
    // network stays behind, listening and registered.
    net.closeNow();
    throw e;
  }
  return net;
}

/**
 * A scheduler's membership of the network: made by {@link joinNetwork}.
 */
export class Network implements RefResolver {
  /** The node's name. */
  readonly name: string;
  /** The address peers reach it at. */
  readonly host: string;
  /** Its TCP port. */
  readonly port: number;
  /** Drawn when it joined: a restarted node is a new peer. */
  readonly incarnation: string;
  /** @internal */
  readonly sched: Scheduler;
  /** @internal */
  readonly options: ResolvedOptions;
  private readonly listener: AsyncSocket;
  private bcast: AsyncSocket | null = null;
  private uni: AsyncSocket | null = null;
  /** The group `bcast` joined for multicast discovery, and on which interface. */
  private joined: { group: string; iface: string | undefined } | null = null;
  private readonly peerMap = new Map<string, Peer>();
  private readonly coros = new Map<number, Coro>();
  private readonly endedSeen = new Set<number>();
  private readonly channels = new Map<string, Channel>();
  private readonly watchers: Subscriber[] = [];
  private readonly daemons: Coro<unknown>[] = [];
  private readonly ghost: Peer;
  private readonly finalizer = new FinalizationRegistry<[Peer, number]>(([p, id]) => p._proxyGone(id));
  private closed = false;
  /**
   * close() began: the node said goodbye, so it takes no new connection and dials no one. A peer
   * told goodbye redials at once (a static one, to find a restart); if this node still accepted
   * while it flushes, that peer would see the leaving incarnation come back online.
   */
  private leaving = false;
  private counters = { authFailures: 0, oversizedFrames: 0, malformedFrames: 0, badDatagrams: 0 };

  /** @internal Made by joinNetwork. */
  constructor(sched: Scheduler, options: ResolvedOptions, listener: AsyncSocket, port: number) {
    this.sched = sched;
    this.options = options;
    this.name = options.name;
    this.host = options.host;
    this.port = port;
    this.listener = listener;
    this.incarnation = randomBytes(8).toString('hex');
    this.ghost = new Peer(this, '0.0.0.0', 0, '');
    this.ghost.state = OFFLINE;
  }

  /** `host:port`. */
  get location(): string {
    return `${this.host}:${this.port}`;
  }

  /** True after {@link close}. */
  get isClosed(): boolean {
    return this.closed;
  }

  private daemon<A extends unknown[]>(fn: CoroFn<void, A>, ...args: A): Coro<void> {
    const c = this.sched.spawn(fn, ...args);
    c.daemon = true;
    this.daemons.push(c as Coro<unknown>);
    return c;
  }

  /** @internal */
  *_start(bindHost: string): Generator<unknown, void, unknown> {
    const net = this;
    this.daemon(function* acceptor() {
      for (;;) {
        let s: AsyncSocket;
        try {
          s = yield* net.listener.accept();
        } catch (e) {
          if (net.closed || net.leaving) return;
          net.options.log(`accept failed: ${(e as Error).message}`);
          yield* sleep(100);
          continue;
        }
        net.daemon(function* incoming() {
          yield* net.incoming(s);
        });
      }
    });
    const d = this.options.discover;
    if (d !== null) {
      // Pings arrive at `b`, bound to the shared UDP port; pongs (and this node's pings) go out of
      // `u`, whose own port the pongs come back to.
      const group = d.multicast;
      const family = group !== '' && isIP(group) === 6 ? 6 : 4;
      const b = AsyncSocket.udp({ family });
      const u = AsyncSocket.udp({ family });
      try {
        b.setReuseAddress();
        if (group === '') {
          b.setBroadcast();
          yield* b.bind({ host: '0.0.0.0', port: this.options.udpPort });
          u.setBroadcast();
          yield* u.bind({ host: bindHost, port: 0 });
        } else {
          // The group travels on the interface of `host` (an IPv6 group too: the interface that
          // has that address); for 0.0.0.0 the routing table chooses.
          const iface = bindHost === '0.0.0.0' ? undefined : bindHost;
          // Bound to the group, an IPv4 socket receives only what is sent to the group, not the
          // broadcasts of nodes that discover by broadcast (Windows cannot bind a multicast
          // address: there it binds the wildcard). IPv6 has no broadcast; binding a link-local
          // group would need a scope, so it binds the wildcard.
          const bindTo = family === 6 ? '::' : process.platform === 'win32' ? '0.0.0.0' : group;
          if (family === 6) {
            // Nor IPv4 broadcasts as mapped addresses, which a dual-stack socket would take.
            b.setIPv6Only();
            u.setIPv6Only();
          }
          yield* b.bind({ host: bindTo, port: this.options.udpPort });
          b.addMembership(group, iface);
          this.joined = { group, iface };
          u.setMulticastTTL(d.ttl);
          if (iface !== undefined) u.setMulticastInterface(iface);
          yield* u.bind({ host: family === 6 ? '::' : bindHost, port: 0 });
        }
      } catch (e) {
        // Closing the socket leaves the group too.
        this.joined = null;
        b.close();
        u.close();
        throw e;
      }
      this.bcast = b;
      this.uni = u;
      this.daemon(function* pings() {
        yield* net.listenDatagrams(b);
      });
      this.daemon(function* pongs() {
        yield* net.listenDatagrams(u);
      });
      this.daemon(function* pinger() {
        for (;;) {
          net.ping();
          yield* sleep(net.options.discover!.interval);
        }
      });
    }
    for (const p of this.options.peers) {
      const host = yield* resolveHost(p.host);
      this.dial(this.peerAt(host, p.port, ''), true);
    }
    this.daemon(function* heartbeat() {
      for (;;) {
        yield* sleep(net.options.heartbeat / 2);
        net.tick();
      }
    });
  }

  // ---- discovery ----

  /** Where pings go: the multicast group, or the broadcast address. */
  private pingAddress(): string {
    const d = this.options.discover!;
    if (d.multicast !== '') return d.multicast;
    return d.broadcast !== '' ? d.broadcast : defaultBroadcast(this.host);
  }

  private announcement(kind: number): Buffer {
    return encodeAnnouncement(this.options.key, { kind, name: this.name, host: this.host, port: this.port, incarnation: this.incarnation });
  }

  /** Sends a discovery ping (broadcast or multicast). */
  private ping(): void {
    const u = this.uni;
    if (u === null || this.closed) return;
    const net = this;
    const addr = this.pingAddress();
    const data = this.announcement(PING);
    this.sched.spawn(function* () {
      try {
        yield* u.sendto(data, { host: addr, port: net.options.udpPort }, { timeout: 1000 });
      } catch (e) {
        if (!net.closed) net.options.log(`discovery ping to ${addr} failed: ${(e as Error).message}`);
      }
    }).daemon = true;
  }

  private *listenDatagrams(sock: AsyncSocket): Generator<unknown, void, unknown> {
    for (;;) {
      let d: { data: Buffer; address: { family: string; host?: string; port?: number } };
      try {
        d = (yield* sock.recvfrom(2048)) as typeof d;
      } catch (e) {
        if (this.closed) return;
        throw e;
      }
      const a = decodeAnnouncement(this.options.key, d.data);
      if (a === null) {
        this.counters.badDatagrams++;
        continue;
      }
      if (a.host === this.host && a.port === this.port) continue;
      if (a.kind === PING && this.uni !== null && d.address.host !== undefined) {
        const to = { host: d.address.host, port: d.address.port! };
        const data = this.announcement(PONG);
        const u = this.uni;
        try {
          yield* u.sendto(data, to, { timeout: 1000 });
        } catch {
          // A pong that cannot go out: the peer's next ping will try again.
        }
      }
      this.discovered(a);
    }
  }

  /** A peer announced itself (discovery or relaying): the lower location dials. */
  private discovered(a: Announcement): void {
    if (this.closed || this.leaving) return;
    const loc = `${a.host}:${a.port}`;
    if (loc === this.location) return;
    const p = this.peerMap.get(loc);
    if (p !== undefined && p.state !== OFFLINE && (p.incarnation === a.incarnation || p.incarnation === '')) return;
    if (this.location < loc) this.dial(this.peerAt(a.host, a.port, a.incarnation), false);
  }

  // ---- peers ----

  /**
   * @internal The peer at `host:port`, made (connecting) if unknown. A different incarnation than
   * the one known means the known one was restarted: the old one is lost.
   */
  peerAt(host: string, port: number, incarnation: string): Peer {
    const loc = `${host}:${port}`;
    let p = this.peerMap.get(loc);
    if (p !== undefined && incarnation !== '' && p.incarnation !== '' && p.incarnation !== incarnation) {
      if (p.state !== OFFLINE) return p;
      p = undefined;
    }
    if (p === undefined) {
      p = new Peer(this, host, port, incarnation);
      this.peerMap.set(loc, p);
    } else if (p.state === OFFLINE && !p.dialing && !p.everOnline) {
      p.state = CONNECTING;
    }
    return p;
  }

  /** Dials `p` (unless a dial runs), with backoff; `forever` for the static peers. */
  private dial(p: Peer, forever: boolean): void {
    if (p.dialing || this.closed || this.leaving) return;
    p.dialing = true;
    // A peer never reached queues what is sent to it until the dial ends; one that was lost stays
    // offline (sends dropped, requests refused) until a redial brings it back.
    if (p.state === OFFLINE && !p.everOnline) p.state = CONNECTING;
    const net = this;
    this.daemon(function* dialer() {
      let delay = 100;
      const end = net.sched.clock.now() + net.options.reconnectFor;
      try {
        while (!net.closed && !net.leaving && p.state !== ONLINE && net.peerMap.get(p.location) === p) {
          try {
            yield* net.connect(p);
            return;
          } catch (e) {
            if (e instanceof HandshakeError && e.code === 'ERR_AUTH') {
              net.counters.authFailures++;
              net.options.log(`refused peer ${p.location}: ${e.message}`);
              break;
            }
            if (e instanceof HandshakeError && e.code === 'ERR_DUPLICATE') return;
            if (e instanceof CertificateError || e instanceof HostnameMismatchError) {
              // Its certificate does not verify here: not a peer of this network.
              net.counters.authFailures++;
              net.options.log(`refused peer ${p.location}: ${e.message}`);
              break;
            }
            if (e instanceof TlsError) net.options.log(`TLS with peer ${p.location} failed: ${e.message}`);
          }
          if (!forever && net.sched.clock.now() >= end) break;
          yield* sleep(delay);
          delay = Math.min(delay * 2, 5000);
        }
      } finally {
        p.dialing = false;
      }
      if (p.state === CONNECTING && !net.closed) {
        // Never reached: what was queued for it is dropped, and a peer never seen is forgotten.
        p.lose('cannot connect');
      }
    });
  }

  /** The client side: connect, authenticate, and use the connection if the server accepts it. */
  private *connect(p: Peer): Generator<unknown, void, unknown> {
    const sock = AsyncSocket.tcp();
    const t = Math.max(2000, this.options.heartbeat);
    let stream: Stream = sock;
    try {
      yield* sock.connect({ host: p.host, port: p.port }, { timeout: t });
      sock.setNoDelay();
      if (this.options.tls !== undefined) stream = yield* this.tlsUpgrade(sock, false, t);
      const answer = yield* clientHandshake(stream, this.options.key, encodeFrame(this, [1, this.name, this.host, this.port, this.incarnation]), t);
      const a = this.parseIdentity(answer);
      if (a.type !== 1) throw new HandshakeError(`refused by ${p.location}: ${a.reason}`, a.reason === 'duplicate' ? 'ERR_DUPLICATE' : 'ERR_REFUSED');
      this.adopt(stream, a, p);
    } catch (e) {
      stream.close();
      sock.close();
      throw e;
    }
  }

  /**
   * Mutual TLS on a new peer connection, before the peers' own handshake: the accepting side asks
   * for the dialler's certificate and refuses one that does not verify; the dialler checks the
   * acceptor's against the peer's address (or `servername`).
   */
  private *tlsUpgrade(sock: AsyncSocket, isServer: boolean, timeout: number): Generator<unknown, Stream, unknown> {
    const t = this.options.tls!;
    const handshakeTimeout = t.handshakeTimeout ?? timeout;
    if (isServer) return yield* startTls(sock, { secureContext: t.ctx, isServer: true, requestCert: true, rejectUnauthorized: true, handshakeTimeout });
    return yield* startTls(sock, { secureContext: t.ctx, rejectUnauthorized: true, handshakeTimeout, ...(t.servername !== undefined ? { servername: t.servername } : {}) });
  }

  /** Decodes a hello or answer frame: [type (1 accept/hello, 0 refuse), name, host, port, incarnation, reason?]. */
  private parseIdentity(buf: Buffer): { type: number; name: string; host: string; port: number; incarnation: string; reason: string } {
    let v: unknown[];
    try {
      v = decodeFrame(this, buf, 0, buf.length);
    } catch (e) {
      throw new HandshakeError(`bad hello: ${(e as Error).message}`, 'ERR_PROTOCOL');
    }
    const [type, name, host, port, inc, reason] = v;
    if (
      (type !== 0 && type !== 1) ||
      !isStr(name) ||
      !isStr(host) ||
      typeof port !== 'number' ||
      !Number.isInteger(port) ||
      port <= 0 ||
      port > 65535 ||
      !isStr(inc) ||
      !/^[0-9a-f]{16}$/.test(inc)
    ) {
      throw new HandshakeError('bad hello', 'ERR_PROTOCOL');
    }
    return { type, name, host, port, incarnation: inc, reason: isStr(reason) ? reason : '' };
  }

  /** The server side of one incoming connection. */
  private *incoming(sock: AsyncSocket): Generator<unknown, void, unknown> {
    let who = '?';
    try {
      const a = sock.remoteAddress as { host?: string; port?: number };
      who = `${a.host}:${a.port}`;
    } catch {
      // Already gone.
    }
    const t = Math.max(2000, this.options.heartbeat);
    let stream: Stream = sock;
    try {
      sock.setNoDelay();
      if (this.options.tls !== undefined) stream = yield* this.tlsUpgrade(sock, true, t);
      const hello = this.parseIdentity(yield* serverHandshake(stream, this.options.key, t));
      const loc = `${hello.host}:${hello.port}`;
      if (loc === this.location) throw new HandshakeError('a connection from this node itself', 'ERR_PROTOCOL');
      const p = this.peerMap.get(loc);
      if (p !== undefined && p.dialing && p.state === CONNECTING && this.location < loc && (p.incarnation === '' || p.incarnation === hello.incarnation)) {
        // Both ends dialled: the lower location's dial wins, and that is ours.
        yield* sendAnswer(stream, encodeFrame(this, [0, this.name, this.host, this.port, this.incarnation, 'duplicate']), t);
        stream.close();
        sock.close();
        return;
      }
      if (this.leaving || this.closed) {
        // Said goodbye meanwhile: accepting now would bring this incarnation back online there.
        stream.close();
        sock.close();
        return;
      }
      yield* sendAnswer(stream, encodeFrame(this, [1, this.name, this.host, this.port, this.incarnation]), t);
      this.adopt(stream, hello, undefined);
    } catch (e) {
      stream.close();
      sock.close();
      if (this.closed || this.leaving) return;
      if (e instanceof HandshakeError) {
        this.counters.authFailures++;
        this.options.log(`refused connection from ${who}: ${e.message}`);
      } else {
        this.counters.authFailures++;
        this.options.log(`refused connection from ${who}: handshake failed (${(e as Error).message})`);
      }
    }
  }

  /** A connection passed its handshake: make it the peer's one connection. */
  private adopt(stream: Stream, id: { name: string; host: string; port: number; incarnation: string }, dialed: Peer | undefined): void {
    if (this.closed || this.leaving) {
      stream.close();
      return;
    }
    const loc = `${id.host}:${id.port}`;
    if (dialed !== undefined && dialed.location !== loc) {
      // Dialled under another address than the one it announces: what waited for the dialled
      // address is told it is lost, and the peer is known by its own address from now on.
      this.peerMap.delete(dialed.location);
      dialed.lose(`it announces itself as ${loc}`);
    }
    let p = this.peerMap.get(loc);
    let old: Peer | undefined;
    if (p !== undefined && p.incarnation !== '' && p.incarnation !== id.incarnation) {
      // A new incarnation at a known address: the old process is gone.
      this.peerMap.delete(loc);
      old = p;
      p = undefined;
    }
    if (p === undefined) {
      p = new Peer(this, id.host, id.port, id.incarnation);
      this.peerMap.set(loc, p);
    }
    if (old !== undefined) {
      // What was asked of the address (a locate by location, made while the old one was away)
      // is for this incarnation; what was asked of the old one's coroutines fails.
      old.handOver(p);
      old.lose('restarted');
    }
    p.incarnation = id.incarnation;
    p.name = id.name;
    p.bye = false;
    const wasOnline = p.state === ONLINE;
    if (wasOnline) p.detach();
    if (stream instanceof TlsSocket) p.tls = { protocol: stream.protocol, subject: stream.getPeerX509Certificate()?.subject ?? null };
    p.attach(stream);
    if (!wasOnline) {
      this.options.log(`peer ${p.name} at ${p.location} is online`);
      this.tellWatchers(new PeerStatus(p.name, p.location, 'online', p.incarnation));
      this.relay(p);
    }
  }

  /** Tells a new peer about the others, and the others about it. */
  private relay(p: Peer): void {
    const others: unknown[] = [];
    for (const q of this.peerMap.values()) {
      if (q === p || q.state !== ONLINE) continue;
      others.push([q.name, q.host, q.port, q.incarnation]);
      q.post([F.PEERS, [[p.name, p.host, p.port, p.incarnation]]]);
    }
    if (others.length > 0) p.post([F.PEERS, others]);
  }

  /** @internal A peer went offline. */
  _peerLost(p: Peer, why: string, wasOnline: boolean): void {
    peerGoneFiles(this, p);
    if (wasOnline) {
      this.options.log(`peer ${p.name} at ${p.location} is offline (${why})`);
      this.tellWatchers(new PeerStatus(p.name, p.location, 'offline', p.incarnation));
    }
    if (this.closed || this.leaving) return;
    const isStatic = this.options.peers.some((s) => `${s.host}:${s.port}` === p.location);
    if (wasOnline && (isStatic || !p.bye) && this.peerMap.get(p.location) === p) {
      // The side with the lower location dials again (the other would be refused as a duplicate
      // anyway if both did); a static peer is dialled again by whoever lists it, even after it
      // said goodbye (it may be restarted: a new incarnation at the same address).
      if (isStatic || this.location < p.location) this.dial(p, isStatic);
    } else if (!p.everOnline && !p.dialing && this.peerMap.get(p.location) === p && !this.options.peers.some((s) => `${s.host}:${s.port}` === p.location)) {
      this.peerMap.delete(p.location);
    }
  }

  /** @internal A connection broke a rule: close it, count it, say so. */
  _refused(p: Peer, kind: 'oversized' | 'malformed', what: string): void {
    if (kind === 'oversized') this.counters.oversizedFrames++;
    else this.counters.malformedFrames++;
    this.options.log(`closed the connection to ${p.name || '?'} at ${p.location}: it sent ${what}`);
    p.lose(`it sent ${what}`);
  }

  private tellWatchers(st: PeerStatus): void {
    let live = 0;
    const w = this.watchers;
    for (let i = 0; i < w.length; i++) {
      const s = w[i]!;
      if (!s.isAlive) continue;
      w[live++] = s;
      try {
        s.send(st);
      } catch (e) {
        this.options.log(`peerStatus watcher ${String(s)} failed: ${(e as Error).message}`);
      }
    }
    w.length = live;
  }

  /** @internal `peerStatus(coro)`. */
  _watch(s: Subscriber): void {
    if (!this.watchers.includes(s)) this.watchers.push(s);
    for (const p of this.peerMap.values()) if (p.state === ONLINE) s.send(new PeerStatus(p.name, p.location, 'online', p.incarnation));
  }

  /** Heartbeats, and forgetting local coroutines that ended. */
  private tick(): void {
    const now = this.sched.clock.now();
    const hb = this.options.heartbeat;
    for (const p of [...this.peerMap.values()]) {
      if (p.state !== ONLINE) continue;
      if (now - p.lastRecv > 3 * hb) {
        p.lose(`nothing heard for ${Math.round(now - p.lastRecv)} ms`);
        continue;
      }
      if (now - p.lastSend >= hb && p.outLen === 0) p.post([F.PING]);
    }
    for (const [name, ch] of this.channels) if (!ch.isAlive) this.channels.delete(name);
    for (const [id, c] of this.coros) {
      // One that may still be restarted in place keeps its id: its proxies stay valid.
      if (c.isAlive || (c._f & F_RESTARTABLE) !== 0) continue;
      // Kept one more round after its end, for a finish() or deliver already on its way.
      if (this.endedSeen.has(id)) {
        this.coros.delete(id);
        this.endedSeen.delete(id);
      } else this.endedSeen.add(id);
    }
  }

  // ---- references (RefResolver) ----

  /** @internal */
  exportCoro(c: Coro): void {
    if (!this.coros.has(c.id)) this.coros.set(c.id, c);
  }

  /** @internal */
  exportChannel(ch: Channel): void {
    if (Channel.locate(ch.name) !== ch) this.channels.set(ch.name, ch);
  }

  /** @internal */
  coro(host: string, port: number, inc: string, id: number, name: string): Coro | RemoteCoro {
    if (host === this.host && port === this.port) {
      const c = inc === this.incarnation ? this.coros.get(id) : undefined;
      return c ?? this.ghost.proxy(id, name);
    }
    const p = this.peerAt(host, port, inc);
    if (p.incarnation !== '' && p.incarnation !== inc) return this.ghost.proxy(id, name);
    if (p.state === CONNECTING && !p.dialing) this.dial(p, false);
    return p.proxy(id, name);
  }

  /** @internal */
  channel(host: string, port: number, inc: string, name: string): Channel | RemoteChannel {
    if (host === this.host && port === this.port) {
      return (inc === this.incarnation ? this.localChannel(name) : undefined) ?? this.ghost.channel(name);
    }
    const p = this.peerAt(host, port, inc);
    if (p.incarnation !== '' && p.incarnation !== inc) return this.ghost.channel(name);
    if (p.state === CONNECTING && !p.dialing) this.dial(p, false);
    return p.channel(name);
  }

  /** @internal A proxy was made: forget it when it is collected. */
  _proxyMade(p: Peer, id: number, proxy: RemoteCoro): void {
    this.finalizer.register(proxy, [p, id]);
  }

  private localChannel(name: string): Channel | undefined {
    const ch = Channel.locate(name) ?? this.channels.get(name);
    return ch !== undefined && ch.isAlive ? ch : undefined;
  }

  private localCoro(p: Peer, id: unknown): Coro | undefined {
    check(isId(id), 'a coroutine id');
    const c = this.coros.get(id);
    // A coroutine that ended and may be restarted takes messages for its next run, as locally.
    if (c !== undefined && (c.isAlive || (c._f & F_RESTARTABLE) !== 0)) return c;
    p.post([F.DEAD, id]);
    return undefined;
  }

  // ---- frames ----

  /** @internal One frame from `p`. Throws BadFrame for a frame that is not what its type says. */
  _dispatch(p: Peer, f: unknown[]): void {
    switch (f[0]) {
      case F.PING:
        check(f.length === 1, 'PING');
        return;
      case F.SEND: {
        check(f.length === 3, 'SEND');
        this.localCoro(p, f[1])?.send(f[2]);
        return;
      }
      case F.DELIVER: {
        check(f.length === 4 && isReq(f[1]), 'DELIVER');
        const c = this.localCoro(p, f[2]);
        if (c !== undefined) c.send(f[3]);
        p.reply(f[1], c !== undefined ? 1 : 0);
        return;
      }
      case F.REPLY:
      case F.FAIL:
        check(f.length === 3 && isReq(f[1]), 'REPLY');
        p.answered(f[1], f[2], f[0] === F.FAIL);
        return;
      case F.CSEND: {
        check(f.length === 3 && isStr(f[1]), 'CSEND');
        const ch = this.localChannel(f[1]);
        if (ch === undefined) return;
        try {
          ch.send(f[2]);
        } catch (e) {
          this.options.log(`broadcast from ${p.location} on channel '${ch.name}' failed: ${(e as Error).message}`);
        }
        return;
      }
      case F.CDELIVER: {
        check(f.length === 6 && isReq(f[1]) && isStr(f[2]) && typeof f[4] === 'number' && (f[5] === null || typeof f[5] === 'number'), 'CDELIVER');
        const [, req, name, msg, n, timeout] = f as [number, number, string, unknown, number, number | null];
        const ch = this.localChannel(name);
        if (ch === undefined) {
          p.fail(req, new AsyncoroError(`no channel '${name}' at ${this.location}`, 'ERR_NOT_FOUND'));
          return;
        }
        this.answerLater(p, req, function* () {
          return yield* ch.deliver(msg, { n, ...(timeout !== null ? { timeout } : {}) });
        });
        return;
      }
      case F.CSUB:
      case F.CUNSUB: {
        check(f.length === 4 && isReq(f[1]) && isStr(f[2]), 'CSUB');
        const sub = f[3];
        check(sub instanceof Coro || sub instanceof RemoteCoro || sub instanceof RemoteChannel || sub instanceof Channel, 'a subscriber');
        const ch = this.localChannel(f[2]);
        if (ch === undefined) {
          p.fail(f[1], new AsyncoroError(`no channel '${f[2]}' at ${this.location}`, 'ERR_NOT_FOUND'));
          return;
        }
        try {
          p.reply(f[1], f[0] === F.CSUB ? ch.subscribe(sub) : ch.unsubscribe(sub));
        } catch (e) {
          p.fail(f[1], e);
        }
        return;
      }
      case F.TERM: {
        check(f.length === 2, 'TERM');
        this.localCoro(p, f[1])?.terminate();
        return;
      }
      case F.LOCATE: {
        check(f.length === 4 && isReq(f[1]) && (f[2] === 0 || f[2] === 1 || f[2] === 2) && isStr(f[3]), 'LOCATE');
        const name = f[3];
        if (f[2] === 0) {
          const c = this.sched.locate(name);
          p.reply(f[1], c !== undefined && c.isAlive ? c : null);
        } else if (f[2] === 1) {
          const ch = Channel.locate(name);
          p.reply(f[1], ch !== undefined && ch.isAlive ? ch : null);
        } else p.reply(f[1], rciRegistry.has(name));
        return;
      }
      case F.CALL: {
        check(f.length === 4 && isReq(f[1]) && isStr(f[2]) && Array.isArray(f[3]), 'CALL');
        const fn = rciRegistry.get(f[2]);
        if (fn === undefined) {
          p.fail(f[1], new AsyncoroError(`no function '${f[2]}' is registered at ${this.location}`, 'ERR_NOT_FOUND'));
          return;
        }
        try {
          p.reply(f[1], this.sched.spawn(fn, ...(f[3] as unknown[])));
        } catch (e) {
          p.fail(f[1], e);
        }
        return;
      }
      case F.FINISH: {
        check(f.length === 4 && isReq(f[1]) && isId(f[2]) && (f[3] === null || typeof f[3] === 'number'), 'FINISH');
        const c = this.coros.get(f[2]);
        if (c === undefined) {
          p.fail(f[1], new CoroStateError(`no coroutine ${f[2]} at ${this.location} (it ended long ago, or was never sent)`, 'ERR_UNKNOWN_CORO'));
          return;
        }
        const timeout = f[3] === null ? undefined : f[3];
        this.answerLater(p, f[1], function* () {
          return yield* c.finish(timeout);
        });
        return;
      }
      case F.MONITOR: {
        check(f.length === 4 && isReq(f[1]) && isId(f[2]), 'MONITOR');
        const [, req, id, m] = f as [number, number, number, unknown];
        check(m instanceof RemoteCoro || m instanceof RemoteChannel, 'a monitor');
        const hooks = remoteMonitorHooks();
        const c = this.coros.get(id);
        if (c === undefined) {
          p.post([F.STATUS, id, 'error', errorToWire(new CoroStateError(`no coroutine ${id} at ${this.location}`, 'ERR_UNKNOWN_CORO')), m]);
          p.reply(req, true);
          return;
        }
        const log = this.options.log;
        const relay: MonitorTarget = {
          send(st: unknown): void {
            const [kind, v] = hooks.unpack(st);
            p.post([F.STATUS, id, kind, kind === 'normal' ? v : errorToWire(v), m]);
          },
          get isAlive(): boolean {
            return m.isAlive;
          },
          restarted(): void {
            try {
              p.post([F.RESTARTED, id, m]);
            } catch (e) {
              log(`telling ${String(m)} of the restart of coroutine ${id} failed: ${(e as Error).message}`);
            }
          },
        };
        try {
          p.reply(req, hooks.notify(c, relay));
        } catch (e) {
          p.fail(req, e);
        }
        return;
      }
      case F.STATUS: {
        check(f.length === 5 && isId(f[1]) && (f[2] === 'normal' || f[2] === 'error' || f[2] === 'terminated'), 'STATUS');
        const [, id, kind, v, m] = f as [number, number, 'normal' | 'error' | 'terminated', unknown, unknown];
        check(m instanceof Coro || m instanceof Channel || m instanceof RemoteCoro || m instanceof RemoteChannel, 'a monitor');
        const list = p.monitored.get(id);
        if (list !== undefined) {
          const i = list.indexOf(m);
          if (i >= 0) list.splice(i, 1);
          if (list.length === 0) p.monitored.delete(id);
        }
        const proxy = p.proxy(id, 'coro');
        proxy._dead = true;
        if (!m.isAlive) return;
        try {
          m.send(remoteMonitorHooks().status(proxy, kind, kind === 'normal' ? v : wireToError(p.location, v)));
        } catch (e) {
          this.options.log(`monitor ${String(m)} failed: ${(e as Error).message}`);
        }
        return;
      }
      case F.RESTARTED: {
        check(f.length === 3 && isId(f[1]), 'RESTARTED');
        const [, id, m] = f as [number, number, unknown];
        check(m instanceof Coro || m instanceof Channel || m instanceof RemoteCoro || m instanceof RemoteChannel, 'a monitor');
        p.proxy(id, 'coro')._dead = false;
        if (m.isAlive) p.watch(id, m);
        return;
      }
      case F.DEAD:
        check(f.length === 2 && isId(f[1]), 'DEAD');
        p.forgetCoro(f[1]);
        return;
      case F.FBEGIN:
        check(f.length === 6 && isReq(f[1]), 'FBEGIN');
        fileBegin(this, p, f[1], f[2], f[3], f[4], f[5]);
        return;
      case F.FDATA:
        check(f.length === 3 && isId(f[1]) && f[2] instanceof Uint8Array, 'FDATA');
        fileData(this, p, f[1], f[2]);
        return;
      case F.FEND:
        check(f.length === 3 && isReq(f[1]) && isId(f[2]), 'FEND');
        fileEnd(this, p, f[1], f[2]);
        return;
      case F.FDEL:
        check(f.length === 4 && isReq(f[1]), 'FDEL');
        fileDelete(this, p, f[1], f[2], f[3]);
        return;
      case F.PEERS: {
        check(f.length === 2 && Array.isArray(f[1]), 'PEERS');
        for (const e of f[1] as unknown[]) {
          check(Array.isArray(e) && e.length === 4, 'PEERS entry');
          const [name, host, port, inc] = e as unknown[];
          check(isStr(name) && isStr(host) && isIP(host) !== 0 && typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536 && isStr(inc) && /^[0-9a-f]{16}$/.test(inc), 'PEERS entry');
          this.discovered({ kind: PING, name, host, port, incarnation: inc });
        }
        return;
      }
      case F.BYE:
        check(f.length === 1, 'BYE');
        p.bye = true;
        p.lose('it shut down');
        return;
      default:
        throw new BadFrame(`unknown frame type ${String(f[0])}`);
    }
  }

  /** Runs `fn` in a coroutine and sends its result (or error) as the answer to `req`. */
  private answerLater(p: Peer, req: number, fn: () => Generator<unknown, unknown, unknown>): void {
    const c = this.sched.spawn(function* () {
      let v: unknown;
      try {
        v = yield* fn();
      } catch (e) {
        if (p.state === ONLINE) p.fail(req, e);
        return;
      }
      if (p.state === ONLINE) p.reply(req, v);
    });
    c.daemon = true;
  }

  // ---- operations for users ----

  /** @internal The peer named by `l` (`'host:port'`, a peer's name, or `{ host, port }`), dialled if unknown. */
  *peerFor(l: LocationLike, what: string): Generator<unknown, Peer, unknown> {
    if (typeof l === 'string' && !/:\d+$/.test(l)) {
      for (const p of this.peerMap.values()) if (p.name === l && p.state !== OFFLINE) return p;
      throw new AsyncoroError(`${what}: no peer named '${l}' is online`, 'ERR_NOT_FOUND');
    }
    const loc = parseLocation(l, what);
    const host = yield* resolveHost(loc.host);
    if (host === this.host && loc.port === this.port) throw new AsyncoroError(`${what}: ${host}:${loc.port} is this node`, 'ERR_SELF');
    const p = this.peerAt(host, loc.port, '');
    if (p.state !== ONLINE) {
      // Asked for by name: what is sent meanwhile waits for the connection.
      if (p.state === OFFLINE) p.state = CONNECTING;
      this.dial(p, false);
    }
    return p;
  }

  /**
   * @internal Asks `kind` (0 coroutine, 1 channel, 2 RCI) `name` of one peer (`location`) or of
   * every peer online, the first positive answer winning.
   */
  *locate(kind: 0 | 1 | 2, name: string, options: LocateOptions): Generator<unknown, unknown, unknown> {
    if (typeof name !== 'string' || name === '') throw new TypeError('locate needs a non-empty name');
    if (options === null || typeof options !== 'object') throw new TypeError('locate options must be an object');
    checkTimeout(options.timeout);
    const what = `locate '${name}'`;
    if (options.location !== undefined) {
      const p = yield* this.peerFor(options.location, what);
      const r = yield* p.request([F.LOCATE, 0, kind, name], options.timeout, what, true);
      // A restart meanwhile handed the request to the new incarnation: it is the one that answered.
      return r === null || r === false ? undefined : r === true ? (this.peerMap.get(p.location) ?? p) : r;
    }
    const asking = [...this.peerMap.values()].filter((p) => p.state === ONLINE);
    if (asking.length === 0) return undefined;
    const me = running!;
    const box = { left: asking.length, found: undefined as unknown, done: false };
    for (const p of asking) {
      this.sched.spawn(function* () {
        let r: unknown = null;
        try {
          r = yield* p.request([F.LOCATE, 0, kind, name], options.timeout, what);
        } catch {
          // A peer lost or too slow is an answer of "not here".
        }
        if (box.done) return;
        if (r !== null && r !== false) {
          box.done = true;
          me.resume(r === true ? p : r);
        } else if (--box.left === 0) {
          box.done = true;
          me.resume(undefined);
        }
      }).daemon = true;
    }
    try {
      return yield* suspend(options.timeout, undefined);
    } finally {
      box.done = true;
    }
  }

  /** The peers known, with their state and counters. */
  peers(): PeerInfo[] {
    const out: PeerInfo[] = [];
    for (const p of this.peerMap.values()) {
      out.push({
        name: p.name,
        location: p.location,
        incarnation: p.incarnation,
        status: p.state === ONLINE ? 'online' : p.state === OFFLINE ? 'offline' : 'connecting',
        tls: p.tls,
        statistics: p.statistics(),
      });
    }
    return out;
  }

  /** Counters: peers, refusals, frames. */
  statistics(): NetworkStatistics {
    let online = 0;
    let framesIn = 0;
    let framesOut = 0;
    for (const p of this.peerMap.values()) {
      if (p.state === ONLINE) online++;
      framesIn += p.stats.framesIn;
      framesOut += p.stats.framesOut;
    }
    return { peersOnline: online, ...this.counters, framesIn, framesOut, exported: this.coros.size };
  }

  /**
   * Leaves the network: stops taking connections, tells the peers (they see this node offline at once rather than after
   * the heartbeat timeout), flushes what is queued for up to `timeout` ms, and closes every
   * connection and socket.
   *
   * @example
   * ```ts
   * yield* net.close();
   * ```
   */
  *close(timeout = 1000): Generator<unknown, void, unknown> {
    if (this.closed || this.leaving) return;
    // No new connections from here on: the listener goes first, before the goodbyes.
    this.leaving = true;
    this.listener.close();
    const online = [...this.peerMap.values()].filter((p) => p.state === ONLINE);
    for (const p of online) p.post([F.BYE]);
    const end = this.sched.clock.now() + timeout;
    for (const p of online) {
      while (p.state === ONLINE && p.queued() > 0 && this.sched.clock.now() < end) yield* sleep(1);
    }
    this.closeNow();
  }

  /** Leaves the network at once, without telling the peers. */
  closeNow(): void {
    if (this.closed) return;
    this.closed = true;
    networks.delete(this.sched);
    this.listener.close();
    if (this.joined !== null && this.bcast !== null) {
      // Said to the kernel (and so to the network's routers) now, though closing would too.
      try {
        this.bcast.dropMembership(this.joined.group, this.joined.iface);
      } catch (e) {
        this.options.log(`leaving multicast group ${this.joined.group} failed: ${(e as Error).message}`);
      }
      this.joined = null;
    }
    this.bcast?.close();
    this.uni?.close();
    for (const p of [...this.peerMap.values()]) {
      p.bye = true;
      p.lose('this node left the network');
    }
    this.peerMap.clear();
    for (const c of this.daemons) if (c.isAlive) c.terminate();
    this.daemons.length = 0;
  }

  toString(): string {
    return `Network(${this.name}@${this.location})`;
  }
}

/**
 * Registers `coro` (or a channel) to receive a {@link PeerStatus} message each time a peer comes
 * online or goes offline; it is told at once of the peers online now.
 *
 * @example
 * ```ts
 * peerStatus(self());
 * const st = yield* receive((m): m is PeerStatus => m instanceof PeerStatus);
 * console.log(`${st.name} is ${st.status}`);
 * ```
 */
export function peerStatus(coro: Coro | Subscriber): void {
  if (coro === null || typeof coro !== 'object' || typeof (coro as Subscriber).send !== 'function') {
    throw new TypeError('peerStatus needs a Coro (or anything with send(msg) and isAlive)');
  }
  currentNetwork('peerStatus')._watch(coro as Subscriber);
}

/** @internal For Coro.locate and Channel.locate with options (lib/core keeps no import of lib/remote). */
export function* locateRemote(kind: 0 | 1, name: string, options: LocateOptions): Generator<unknown, unknown, unknown> {
  if (options.location === undefined) {
    const local = kind === 0 ? (running?._s ?? defaultScheduler()).locate(name) : Channel.locate(name);
    if (local !== undefined) return local;
  }
  const net = networkOf();
  if (net === undefined) {
    if (options.location === undefined) return undefined;
    throw new NoNetworkError(`locate '${name}'`);
  }
  return yield* net.locate(kind, name, options);
}

export type { PeerLink };
export { PeerLostError };

setRemoteLocate(locateRemote);
