/**
 * TLS on {@link AsyncSocket}: `yield* sock.startTls(options)` upgrades a connected socket and
 * returns a {@link TlsSocket} with the same calls (`recv`, `recvall`, `sendall`, `recvMsg`,
 * timeouts, ...); on a listening socket it returns a TLS listener whose `accept()` hands over
 * connections whose handshake is done. Options are named as Node's `tls` names them (`key`,
 * `cert`, `ca`, `servername`, `rejectUnauthorized`, `requestCert`, `ALPNProtocols`, `session`,
 * `SNICallback`, `minVersion`, `handshakeTimeout`), and the defaults are as safe as Node's: a
 * client verifies the server's certificate against Node's root CAs (or `ca`) and its host name.
 *
 * Two engines do the work. The native one calls the OpenSSL 3 inside the running Node from the
 * addon, as a memory engine over the socket's own reads and writes (`tls-native.ts`). Where the
 * addon cannot use that OpenSSL (another runtime, a Node without it), or with
 * `ASYNCORO_TLS=node`, Node's `tls.TLSSocket` runs over a Duplex of the socket instead
 * (`tls-node.ts`); `NODE_DEBUG=asyncoro` prints which one was chosen and why. Both give the same
 * results and the same typed errors.
 *
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import * as nodeTls from 'node:tls';
import { debuglog } from 'node:util';
import { Coro } from '../core/coro.js';
import { NotInCoroError, SystemError, TimeoutError } from '../core/errors.js';
import { running } from '../core/op.js';
import { native } from '../native/binding.js';
import type { DecodedAddress, NativeTlsContext } from '../native/types.js';
import { Queue } from '../sync/queue.js';
import { Semaphore } from '../sync/semaphore.js';
import {
  EOFError,
  MessageTooLargeError,
  SocketClosedError,
  TlsError,
  TlsHandshakeTimeoutError,
  TlsUnavailableError,
} from './errors.js';
import { SendTimeoutError, type AsyncSocket, type OpOptions, type SocketStatistics } from './socket.js';
import { Deadline, type EngineSetup, type TlsEngine, type TlsEngineName, type TlsState, type VerifyMode } from './tls-engine.js';
import { NativeEngine, type ContextChooser } from './tls-native.js';
import { NodeEngine } from './tls-node.js';

export type { TlsEngineName } from './tls-engine.js';

const T = native.tls;
const K = native.sockets;
const debug = debuglog('asyncoro');

/** The TLS protocol versions asyncoro speaks. */
export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** What a {@link SecureContext} holds: credentials, trust, protocol bounds, ciphers. */
export interface SecureContextOptions {
  /** The private key, PEM. Goes with `cert`. */
  readonly key?: string | Uint8Array;
  /** The certificate, PEM, followed by its chain (intermediates). Goes with `key`. */
  readonly cert?: string | Uint8Array;
  /** Decrypts an encrypted `key`. */
  readonly passphrase?: string;
  /** The CA certificates to trust, PEM (one text may hold several); default: Node's root CAs. */
  readonly ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  /** Default `'TLSv1.2'`. */
  readonly minVersion?: TlsVersion;
  /** Default: the newest (`'TLSv1.3'`). */
  readonly maxVersion?: TlsVersion;
  /** OpenSSL cipher names separated by `:`; `TLS_*` names are TLS 1.3 suites. Default: OpenSSL's. */
  readonly ciphers?: string;
  /** Which TLS implementation (see the module description); default {@link tlsEngine}`()`. */
  readonly engine?: TlsEngineName;
}

/** The options of {@link AsyncSocket.startTls}: a context's, and the connection's own. */
export interface TlsOptions extends SecureContextOptions {
  /** On a connected socket: be the TLS server (default: the client). A listening socket always serves. */
  readonly isServer?: boolean;
  /** A context made once by {@link createSecureContext} for many connections (its options then apply). */
  readonly secureContext?: SecureContext;
  /**
   * Client: the server's name: sent to it (SNI) and checked against its certificate. Default: the
   * IP address connected to, checked against the certificate's IP addresses (no SNI).
   */
  readonly servername?: string;
  /**
   * Client (default true): refuse a server whose certificate does not verify. Server with
   * `requestCert` (default true): refuse a client without a certificate that verifies.
   * When false the handshake goes on, and `authorized`/`authorizationError` tell the result.
   */
  readonly rejectUnauthorized?: boolean;
  /** Server: ask the client for a certificate (mutual TLS). */
  readonly requestCert?: boolean;
  /** Application protocols in order of preference (`['h2', 'http/1.1']`), or in wire format. */
  readonly ALPNProtocols?: readonly string[] | Uint8Array;
  /** Client: a session saved by {@link TlsSocket.getSession}, to resume. */
  readonly session?: Uint8Array;
  /** Server: chooses a context by the name the client asked for, as in Node. */
  readonly SNICallback?: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
  /** Milliseconds the handshake may take (default 120000, as in Node); the socket is closed after. */
  readonly handshakeTimeout?: number;
}

const DEFAULT_HANDSHAKE_TIMEOUT = 120000;
/** Handshakes a TLS listener runs or holds finished, before it stops accepting for a while. */
const PENDING_LIMIT = 128;

// ---- which engine ----

let defaultEngine: TlsEngineName | undefined;

/**
 * The TLS engine used when none is asked for: `'native'` where the addon can use the OpenSSL of
 * the running Node, else `'node'`; `ASYNCORO_TLS=node` or `=native` decides instead. Chosen once.
 *
 * @example
 * ```ts
 * console.log(tlsEngine()); // 'native'
 * ```
 */
export function tlsEngine(): TlsEngineName {
  if (defaultEngine === undefined) {
    const forced = process.env['ASYNCORO_TLS'] ?? '';
    if (forced !== '' && forced !== 'native' && forced !== 'node') {
      throw new TlsUnavailableError(`ASYNCORO_TLS must be 'native' or 'node', got ${JSON.stringify(forced)}`);
    }
    const o = T.openssl;
    if (forced === 'node') {
      debug("TLS: Node's tls over a Duplex of the socket (ASYNCORO_TLS=node)");
      defaultEngine = 'node';
    } else if (!o.available) {
      if (forced === 'native') throw new TlsUnavailableError(unavailable());
      debug(`TLS: ${unavailable()}; falling back to Node's tls over a Duplex of the socket`);
      defaultEngine = 'node';
    } else {
      debug(`TLS: native, ${o.version} of the running Node (the addon was compiled with ${o.headerVersion})`);
      defaultEngine = 'native';
    }
  }
  return defaultEngine;
}

function unavailable(): string {
  return `the running Node exposes no OpenSSL 3 the addon can use (process.versions.openssl: ${process.versions.openssl ?? 'none'})`;
}

// ---- contexts ----

/**
 * Credentials, trusted CAs, protocol bounds and ciphers, made once and shared by many
 * connections (clients and servers alike), like Node's `tls.SecureContext`. Make one with
 * {@link createSecureContext}.
 */
export class SecureContext {
  /** @internal */
  constructor(
    /** The engine whose connections can use it. */
    readonly engine: TlsEngineName,
    /** @internal */
    readonly _native: NativeTlsContext | undefined,
    /** @internal */
    readonly _node: nodeTls.SecureContext | undefined,
    /** @internal Whether it holds a key and certificate (can serve). */
    readonly _canServe: boolean,
  ) {}
}

/**
 * Makes a {@link SecureContext}. Bad PEM text, a key that does not match its certificate or a
 * wrong passphrase throw a {@link TlsError} (code `'ERR_TLS_CONTEXT'`) here.
 *
 * @example
 * ```ts
 * const ctx = createSecureContext({ key: readFileSync('key.pem'), cert: readFileSync('cert.pem') });
 * const tls = yield* conn.startTls({ isServer: true, secureContext: ctx });
 * ```
 */
export function createSecureContext(options: SecureContextOptions = {}): SecureContext {
  if (options === null || typeof options !== 'object') throw new TypeError('createSecureContext: options must be an object');
  const engine = options.engine ?? tlsEngine();
  if (engine !== 'native' && engine !== 'node') throw new TypeError(`engine must be 'native' or 'node', got ${String(engine)}`);
  if ((options.key === undefined) !== (options.cert === undefined)) {
    throw new TypeError('createSecureContext: key and cert go together');
  }
  const canServe = options.key !== undefined;
  const min = version(options.minVersion, 'minVersion');
  const max = version(options.maxVersion, 'maxVersion');
  if (options.passphrase !== undefined && typeof options.passphrase !== 'string') throw new TypeError('passphrase must be a string');
  if (options.ciphers !== undefined && typeof options.ciphers !== 'string') throw new TypeError('ciphers must be a string');
  const cas = options.ca === undefined ? undefined : (Array.isArray(options.ca) ? options.ca : [options.ca]).map((c) => pem(c, 'ca'));
  const key = options.key !== undefined ? pem(options.key, 'key') : undefined;
  const cert = options.cert !== undefined ? pem(options.cert, 'cert') : undefined;
  if (engine === 'node') {
    let ctx: nodeTls.SecureContext;
    try {
      ctx = nodeTls.createSecureContext({
        ...(key !== undefined ? { key: Buffer.from(key), cert: Buffer.from(cert!) } : {}),
        ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
        ...(cas !== undefined ? { ca: cas.map((c) => Buffer.from(c)) } : {}),
        ...(options.minVersion !== undefined ? { minVersion: options.minVersion } : {}),
        ...(options.maxVersion !== undefined ? { maxVersion: options.maxVersion } : {}),
        ...(options.ciphers !== undefined ? { ciphers: options.ciphers } : {}),
      });
    } catch (e) {
      const err = e as Error & { reason?: unknown };
      const reason = typeof err.reason === 'string' ? err.reason : err.message;
      throw new TlsError(`createSecureContext: ${reason}`, 'ERR_TLS_CONTEXT', reason);
    }
    return new SecureContext('node', undefined, ctx, canServe);
  }
  if (!T.openssl.available) throw new TlsUnavailableError(unavailable());
  const ctx = new T.Context();
  const check = (rc: number, what: string): number => {
    if (rc >= 0) return rc;
    const reason = rc === T.ERROR ? ctx.error().reason : 'invalid argument';
    throw new TlsError(`createSecureContext: ${what}: ${reason}`, 'ERR_TLS_CONTEXT', reason);
  };
  if (cert !== undefined) {
    check(ctx.setCert(cert), 'cert');
    check(ctx.setKey(key!, options.passphrase), 'key');
  }
  if (cas !== undefined) for (const c of cas) check(ctx.addCA(c), 'ca');
  else check(ctx.shareStore(defaultRoots()), 'default CAs');
  if (min !== 0 || max !== 0) check(ctx.setProtocols(min !== 0 ? min : T.TLS1_2_VERSION, max), 'minVersion/maxVersion');
  if (options.ciphers !== undefined) {
    const names = options.ciphers.split(':').filter((n) => n !== '');
    const suites = names.filter((n) => n.startsWith('TLS_')).join(':');
    const list = names.filter((n) => !n.startsWith('TLS_')).join(':');
    check(ctx.setCiphers(list, suites), 'ciphers');
  }
  return new SecureContext('native', ctx, undefined, canServe);
}

function version(v: TlsVersion | undefined, what: string): number {
  if (v === undefined) return 0;
  if (v === 'TLSv1.2') return T.TLS1_2_VERSION;
  if (v === 'TLSv1.3') return T.TLS1_3_VERSION;
  throw new RangeError(`${what} must be 'TLSv1.2' or 'TLSv1.3', got ${String(v)}`);
}

function pem(v: unknown, what: string): Uint8Array {
  if (typeof v === 'string') return Buffer.from(v);
  if (v instanceof Uint8Array) return v;
  throw new TypeError(`${what} must be PEM text: a string or a Buffer`);
}

/**
 * Node's root CAs (and `NODE_EXTRA_CA_CERTS`, as Node adds them), parsed once per thread into
 * one store that every native context without its own `ca` shares.
 */
let roots: NativeTlsContext | undefined;
function defaultRoots(): NativeTlsContext {
  if (roots === undefined) {
    const ctx = new T.Context();
    ctx.addCA(Buffer.from(nodeTls.rootCertificates.join('\n')));
    const extra = process.env['NODE_EXTRA_CA_CERTS'];
    if (extra !== undefined && extra !== '') {
      try {
        ctx.addCA(readFileSync(extra));
      } catch (e) {
        debug(`TLS: NODE_EXTRA_CA_CERTS ${extra} ignored: ${(e as Error).message}`);
      }
    }
    roots = ctx;
  }
  return roots;
}

/** Contexts made from options objects, so one options object reused costs one context. */
const contexts = new WeakMap<TlsOptions, SecureContext>();

function contextFor(options: TlsOptions): SecureContext {
  if (options.secureContext !== undefined) {
    if (!(options.secureContext instanceof SecureContext)) throw new TypeError('secureContext must come from createSecureContext()');
    if (options.engine !== undefined && options.engine !== options.secureContext.engine) {
      throw new TypeError(`engine '${options.engine}' does not match the secureContext's '${options.secureContext.engine}'`);
    }
    return options.secureContext;
  }
  let ctx = contexts.get(options);
  if (ctx === undefined) {
    ctx = createSecureContext(options);
    contexts.set(options, ctx);
  }
  return ctx;
}

// ---- connections ----

function alpnWire(p: readonly string[] | Uint8Array): Buffer {
  if (p instanceof Uint8Array) {
    for (let i = 0; i < p.length; i += 1 + p[i]!) {
      if (p[i] === 0 || i + 1 + p[i]! > p.length) throw new TypeError('ALPNProtocols: not in wire format (length-prefixed names)');
    }
    if (p.length === 0) throw new TypeError('ALPNProtocols: empty');
    return Buffer.from(p);
  }
  if (!Array.isArray(p) || p.length === 0) throw new TypeError('ALPNProtocols must be a non-empty array of strings or a Buffer');
  const parts: Buffer[] = [];
  for (const name of p) {
    if (typeof name !== 'string') throw new TypeError('ALPNProtocols must be strings');
    const b = Buffer.from(name);
    if (b.length < 1 || b.length > 255) throw new RangeError(`ALPN protocol ${JSON.stringify(name)} must be 1 to 255 bytes`);
    parts.push(Buffer.from([b.length]), b);
  }
  return Buffer.concat(parts);
}

function setupFor(sock: AsyncSocket, options: TlsOptions, server: boolean): EngineSetup {
  const reject = options.rejectUnauthorized !== false;
  let verify: VerifyMode;
  let host: string | undefined;
  let sni: string | undefined;
  if (server) {
    verify = options.requestCert === true ? (reject ? 'require' : 'request') : 'none';
  } else {
    verify = reject ? 'peer' : 'none';
    const name = options.servername;
    if (name !== undefined) {
      if (typeof name !== 'string' || name === '') throw new TypeError('servername must be a non-empty string');
      const bare = name.replace(/^\[(.*)\]$/, '$1');
      if (isIP(bare) !== 0) host = bare;
      else host = sni = name;
    } else if (sock.kind === 'tcp') {
      const a = sock.remoteAddress;
      if (a.family !== 'unix') host = a.host.replace(/%.*$/, '');
    } else if (reject) {
      throw new TypeError('startTls over a Unix socket needs servername: the name the server certificate is for');
    }
  }
  return {
    server,
    verify,
    host,
    sni,
    alpn: options.ALPNProtocols !== undefined ? alpnWire(options.ALPNProtocols) : undefined,
    session: !server && options.session !== undefined ? checkSession(options.session) : undefined,
  };
}

function checkSession(s: unknown): Uint8Array {
  if (!(s instanceof Uint8Array)) throw new TypeError('session must be a Buffer from getSession()');
  return s;
}

type SniCallback = NonNullable<TlsOptions['SNICallback']>;

/** The native engine's context chooser over a Node-style SNICallback. */
function nativeChooser(cb: SniCallback): ContextChooser {
  const unwrap = (ctx: SecureContext | undefined): NativeTlsContext | undefined => {
    if (ctx === undefined) return undefined;
    if (!(ctx instanceof SecureContext) || ctx._native === undefined) throw new TypeError('SNICallback: the context must come from createSecureContext() with the native engine');
    return ctx._native;
  };
  return (name) => {
    let early: { err: Error | null; ctx?: SecureContext | undefined } | undefined;
    let later: ((err: Error | null, ctx?: SecureContext) => void) | undefined;
    cb(name, (err, ctx) => {
      if (later !== undefined) later(err, ctx);
      else early = { err, ctx };
    });
    if (early !== undefined) {
      if (early.err) throw early.err;
      return unwrap(early.ctx);
    }
    return new Promise<NativeTlsContext | undefined>((resolve, reject) => {
      later = (err, ctx) => {
        if (err) reject(err);
        else {
          try {
            resolve(unwrap(ctx));
          } catch (e) {
            reject(e as Error);
          }
        }
      };
    });
  };
}

function checkTimeout(t: unknown, what: string): number | undefined {
  if (t !== undefined && (typeof t !== 'number' || !(t >= 0))) throw new RangeError(`${what} must be a number >= 0, got ${String(t)}`);
  return t as number | undefined;
}

/** Runs the handshake on `sock` and returns the TLS socket; on any failure `sock` is closed. */
function* openTls(sock: AsyncSocket, ctx: SecureContext, options: TlsOptions, server: boolean): Generator<unknown, TlsSocket, unknown> {
  const limit = checkTimeout(options.handshakeTimeout, 'handshakeTimeout') ?? DEFAULT_HANDSHAKE_TIMEOUT;
  let engine: TlsEngine;
  try {
    if (server && !ctx._canServe && options.SNICallback === undefined) {
      throw new TypeError('a TLS server needs key and cert (or a secureContext with them)');
    }
    const setup = setupFor(sock, options, server);
    const sni = server ? options.SNICallback : undefined;
    if (sni !== undefined && typeof sni !== 'function') throw new TypeError('SNICallback must be a function');
    if (ctx.engine === 'native') {
      engine = new NativeEngine(sock, ctx._native!, setup, sni !== undefined ? nativeChooser(sni) : undefined);
    } else {
      const sched = running!._s;
      engine = new NodeEngine(sock, sched, ctx._node!, setup, {
        SNICallback:
          sni !== undefined
            ? (name, cb) =>
                sni(name, (err, c) => {
                  if (c !== undefined && (!(c instanceof SecureContext) || c._node === undefined)) {
                    cb(new TypeError('SNICallback: the context must come from createSecureContext() with the node engine'));
                  } else cb(err, c?._node);
                })
            : undefined,
      });
    }
  } catch (e) {
    sock.close();
    throw e;
  }
  const dl = new Deadline();
  dl.begin(limit === Infinity ? undefined : limit, 'TLS handshake');
  try {
    yield* engine.handshake(dl);
  } catch (e) {
    engine.close();
    sock.close();
    if (e instanceof TimeoutError && !(e instanceof TlsHandshakeTimeoutError)) throw new TlsHandshakeTimeoutError(limit);
    throw e;
  }
  return new TlsSocket(sock, engine, undefined, ctx.engine);
}

/**
 * Upgrades `sock` to TLS: what {@link AsyncSocket.startTls} does. On a connected socket it runs
 * the handshake (as the client, or the server with `isServer`) and returns the TLS socket; on a
 * listening socket it returns a TLS listener at once. From then on the plain socket belongs to
 * the TLS socket: use only the TLS one, and close that.
 *
 * @example
 * ```ts
 * const sock = AsyncSocket.tcp();
 * yield* sock.connect({ host: 'example.com', port: 443 });
 * const tls = yield* startTls(sock, { servername: 'example.com', ALPNProtocols: ['http/1.1'] });
 * ```
 */
export function* startTls(sock: AsyncSocket, options: TlsOptions = {}): Generator<unknown, TlsSocket, unknown> {
  if (options === null || typeof options !== 'object') throw new TypeError('startTls: options must be an object');
  const c = running;
  if (c === null) throw new NotInCoroError('startTls');
  if (sock.kind !== 'tcp' && sock.kind !== 'unix') throw new TypeError(`startTls: TLS runs over stream sockets, not ${sock.kind}`);
  if (sock.isClosed) throw new SocketClosedError('startTls');
  if (sock.fd < 0) throw new SocketClosedError('startTls (connect or listen first)');
  if (options.isServer !== undefined && typeof options.isServer !== 'boolean') throw new TypeError('isServer must be a boolean');
  checkTimeout(options.handshakeTimeout, 'handshakeTimeout');
  const ctx = contextFor(options);
  if (ctx.engine === 'node' && c._s.mode === 'exclusive') {
    throw new TlsUnavailableError("Node's tls (the TLS fallback) needs Node's event loop, which does not run under a scheduler in exclusive mode");
  }
  if (native.getsockopt(sock.fd, K.SOL_SOCKET, K.SO_ACCEPTCONN) > 0) {
    if (!ctx._canServe && options.SNICallback === undefined) throw new TypeError('a TLS server needs key and cert (or a secureContext with them)');
    return new TlsSocket(sock, undefined, new Acceptor(sock, ctx, options), ctx.engine);
  }
  return yield* openTls(sock, ctx, options, options.isServer === true);
}

/** Accepts and handshakes connections for a TLS listener, several handshakes at once. */
class Acceptor {
  private loop: Coro<void> | null = null;
  readonly ready = new Queue<TlsSocket | Error>();
  readonly slots = new Semaphore(PENDING_LIMIT);
  readonly handshaking = new Set<AsyncSocket>();
  closed = false;

  constructor(
    readonly listener: AsyncSocket,
    readonly ctx: SecureContext,
    readonly options: TlsOptions,
  ) {}

  *accept(timeout: number | undefined): Generator<unknown, TlsSocket, unknown> {
    if (this.loop === null) {
      this.loop = new Coro(acceptLoop, this);
      this.loop.daemon = true;
    }
    let item: TlsSocket | Error;
    try {
      item = yield* this.ready.get(timeout);
    } catch (e) {
      if (e instanceof TimeoutError) throw new TimeoutError('accept', timeout!);
      throw e;
    }
    this.slots.release();
    if (item instanceof Error) throw item;
    return item;
  }

  /** @internal The loop ended (the listener failed): the next accept() starts another. */
  loopEnded(): void {
    this.loop = null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.loop?.terminate();
    for (const s of this.handshaking) s.close();
    this.handshaking.clear();
    while (this.ready.size > 0) {
      const item = this.ready.getNowait();
      if (item instanceof TlsSocket) item.close();
    }
    for (let i = this.ready.statistics().getters; i > 0; i--) this.ready.putNowait(new SocketClosedError('accept'));
  }
}

function* acceptLoop(a: Acceptor): Generator<unknown, void, unknown> {
  for (;;) {
    let conn: AsyncSocket;
    try {
      yield* a.slots.acquire();
      conn = yield* a.listener.accept();
    } catch (e) {
      if (a.closed) return;
      // A failed accept (too many open files, ...) goes to the next accept() call, which starts
      // the loop again (and frees the slot this loop took, as for any item it takes).
      a.loopEnded();
      a.ready.putNowait(e as Error);
      return;
    }
    if (a.closed) {
      conn.close();
      return;
    }
    a.handshaking.add(conn);
    new Coro(handshakeOne, a, conn).daemon = true;
  }
}

function* handshakeOne(a: Acceptor, conn: AsyncSocket): Generator<unknown, void, unknown> {
  let result: TlsSocket | Error;
  try {
    result = yield* openTls(conn, a.ctx, a.options, true);
  } catch (e) {
    result = e as Error;
  }
  a.handshaking.delete(conn);
  if (a.closed) {
    if (result instanceof TlsSocket) result.close();
    return;
  }
  a.ready.putNowait(result);
}

// ---- the TLS socket ----

function checkSize(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`${what}: size must be an integer from 0 to 2^31-1, got ${n}`);
}

function checkOpts(opts: OpOptions | undefined): number | undefined {
  return checkTimeout(opts?.timeout, 'timeout');
}

function asBuffer(data: Uint8Array | string, what: string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Uint8Array) return data;
  throw new TypeError(`${what}: data must be a Buffer, Uint8Array or string`);
}

const SCRATCH = 65536;
/** As AsyncSocket's: plaintext lands here and is copied out before anything can suspend. */
let shared: Buffer | undefined;
function scratch(): Buffer {
  return (shared ??= Buffer.allocUnsafeSlow(SCRATCH));
}
const EMPTY = Buffer.alloc(0);

/**
 * A TLS socket: the {@link AsyncSocket} calls over TLS, made by {@link AsyncSocket.startTls}.
 * On a connected socket every call moves plaintext; one coroutine may read while another writes.
 * A listening one only accepts: `accept()` returns TLS sockets whose handshake is done (several
 * handshakes run at once, each within `handshakeTimeout`); a handshake that failed ends that
 * `accept()` with its typed error, and the listener goes on.
 *
 * @example
 * ```ts
 * const l = AsyncSocket.tcp();
 * yield* l.bind({ host: '127.0.0.1', port: 8443 });
 * l.listen();
 * const server = yield* l.startTls({ key, cert });
 * for (;;) {
 *   let conn: TlsSocket;
 *   try { conn = yield* server.accept() } catch (e) { if (e instanceof TlsError) continue; throw e }
 *   spawn(function* () { yield* conn.sendall(yield* conn.recvMsg()); conn.close() });
 * }
 * ```
 */
export class TlsSocket {
  /** `'tcp'` or `'unix'`, as the socket underneath. */
  readonly kind: 'tcp' | 'unix';
  /** The largest frame `recvMsg` accepts and `sendMsg` sends. */
  readonly maxMessageSize: number;
  /** Which implementation runs this socket's TLS. */
  readonly engine: TlsEngineName;
  private readonly sock: AsyncSocket;
  private readonly tls: TlsEngine | undefined;
  private readonly acceptor: Acceptor | undefined;
  private readonly rdl = new Deadline();
  private readonly wdl = new Deadline();
  private pushback: Buffer | undefined;
  private closed = false;
  private received = 0;
  private sent = 0;
  private waits = 0;

  /** @internal Made by startTls. */
  constructor(sock: AsyncSocket, tls: TlsEngine | undefined, acceptor: Acceptor | undefined, engine: TlsEngineName) {
    this.sock = sock;
    this.tls = tls;
    this.acceptor = acceptor;
    this.engine = engine;
    this.kind = sock.kind === 'unix' ? 'unix' : 'tcp';
    this.maxMessageSize = sock.maxMessageSize;
  }

  /**
   * The fd of the socket underneath, or -1 after close (Node's engine closes the fd itself a
   * moment later, once close_notify is out).
   */
  get fd(): number {
    return this.closed ? -1 : this.sock.fd;
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether this is a listening socket (it accepts; it does not read or write). */
  get listening(): boolean {
    return this.acceptor !== undefined;
  }

  get localAddress(): DecodedAddress {
    return this.sock.localAddress;
  }

  get remoteAddress(): DecodedAddress {
    return this.sock.remoteAddress;
  }

  private settled(what: string): TlsState {
    if (this.tls === undefined) throw new TypeError(`${what}: a listening socket has no TLS session`);
    return this.tls.state();
  }

  /** The protocol version agreed: `'TLSv1.3'` or `'TLSv1.2'`. */
  get protocol(): string {
    return this.settled('protocol').protocol;
  }

  /** The cipher agreed, by its OpenSSL name. */
  get cipher(): string | null {
    return this.settled('cipher').cipher;
  }

  /** The application protocol ALPN chose, or null. */
  get alpnProtocol(): string | null {
    return this.settled('alpnProtocol').alpnProtocol;
  }

  /** Server: the name the client asked for (SNI); client: the name it sent; null if none. */
  get servername(): string | null {
    return this.settled('servername').servername;
  }

  /** Whether the peer's certificate verified (a client checks the host name too). */
  get authorized(): boolean {
    return this.settled('authorized').authorized;
  }

  /** Why the peer's certificate did not verify (with `rejectUnauthorized: false`), or null. */
  get authorizationError(): string | null {
    return this.settled('authorizationError').authorizationError;
  }

  /** Whether the handshake resumed an earlier session. */
  isSessionReused(): boolean {
    return this.settled('isSessionReused').reused;
  }

  /**
   * The session, to resume with the `session` option of a later connection to the same server;
   * undefined until the server has sent one (with TLS 1.3 it comes after the handshake, so read
   * something first).
   */
  getSession(): Buffer | undefined {
    this.settled('getSession');
    return this.closed ? undefined : this.tls!.session();
  }

  /** The peer's certificate (on a server with `requestCert`: the client's), or undefined. */
  getPeerX509Certificate(): X509Certificate | undefined {
    this.settled('getPeerX509Certificate');
    return this.closed ? undefined : this.tls!.peerCertificate();
  }

  private conn(what: string): TlsEngine {
    if (this.closed) throw new SocketClosedError(what);
    const t = this.tls;
    if (t === undefined) throw new SystemError(what, -(native.errno['ENOTCONN'] ?? 107));
    return t;
  }

  /** The error to throw for a wait that failed: a timeout is the whole operation's, by its name. */
  private waitFailed(e: unknown, dl: Deadline): unknown {
    if (this.closed) return new SocketClosedError(dl.what);
    if (e instanceof TimeoutError && !(e instanceof TlsHandshakeTimeoutError)) return new TimeoutError(dl.what, dl.limit ?? e.timeout);
    return e;
  }

  private *waitRead(t: TlsEngine): Generator<unknown, void, unknown> {
    this.waits++;
    try {
      yield* t.waitRead(this.rdl);
    } catch (e) {
      throw this.waitFailed(e, this.rdl);
    }
  }

  // ---- accepting ----

  /**
   * Waits for a connection whose handshake is done and returns it. A handshake that failed ends
   * this call with its error ({@link CertificateError}, {@link TlsProtocolError},
   * {@link TlsHandshakeTimeoutError}, ...); the listener stays open for the next call.
   */
  *accept(opts?: OpOptions): Generator<unknown, TlsSocket, unknown> {
    const timeout = checkOpts(opts);
    if (this.closed) throw new SocketClosedError('accept');
    const a = this.acceptor;
    if (a === undefined) throw new SystemError('accept', -(native.errno['EINVAL'] ?? 22));
    return yield* a.accept(timeout);
  }

  // ---- reads ----

  private take(n: number): Buffer {
    const p = this.pushback!;
    if (p.length <= n) {
      this.pushback = undefined;
      return p;
    }
    this.pushback = p.subarray(n);
    return p.subarray(0, n);
  }

  /** Receives up to `n` bytes of plaintext (at least one), or an empty Buffer at the end of the stream. */
  *recv(n: number, opts?: OpOptions): Generator<unknown, Buffer, unknown> {
    checkSize(n, 'recv');
    this.rdl.begin(checkOpts(opts), 'recv');
    if (this.pushback !== undefined && n > 0) return this.take(n);
    if (n === 0) {
      this.conn('recv');
      return EMPTY;
    }
    for (;;) {
      const t = this.conn('recv');
      const into = n <= SCRATCH ? scratch() : Buffer.allocUnsafe(n);
      const got = t.tryRead(into, 0, n);
      if (got >= 0) {
        this.received += got;
        if (got === 0) return EMPTY;
        return into === shared ? Buffer.from(into.subarray(0, got)) : into.subarray(0, got);
      }
      yield* this.waitRead(t);
    }
  }

  /** Receives plaintext into `buf[offset, offset + length)` without allocating: the count, 0 at the end of the stream. */
  *recvInto(buf: Uint8Array, offset = 0, length = buf.length - offset, opts?: OpOptions): Generator<unknown, number, unknown> {
    if (!(buf instanceof Uint8Array)) throw new TypeError('recvInto: buf must be a Buffer or Uint8Array');
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > buf.length) {
      throw new RangeError(`recvInto: [${offset}, ${offset + length}) is outside the buffer of ${buf.length} bytes`);
    }
    this.rdl.begin(checkOpts(opts), 'recvInto');
    if (this.pushback !== undefined && length > 0) {
      const p = this.take(length);
      buf.set(p, offset);
      return p.length;
    }
    if (length === 0) {
      this.conn('recvInto');
      return 0;
    }
    for (;;) {
      const t = this.conn('recvInto');
      const got = t.tryRead(buf, offset, length);
      if (got >= 0) {
        this.received += got;
        return got;
      }
      yield* this.waitRead(t);
    }
  }

  /** Reads exactly `n` bytes; on timeout what arrived stays buffered. */
  private *readExact(n: number, what: string, prefix?: Buffer): Generator<unknown, Buffer, unknown> {
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    if (this.pushback !== undefined && n > 0) {
      const p = this.take(n);
      out.set(p, 0);
      off = p.length;
    }
    while (off < n) {
      const t = this.conn(what);
      const got = t.tryRead(out, off, n - off);
      if (got > 0) {
        off += got;
        this.received += got;
        continue;
      }
      if (got === 0) {
        const partial = out.subarray(0, off);
        throw new EOFError(what, prefix !== undefined ? Buffer.concat([prefix, partial]) : partial, n + (prefix?.length ?? 0));
      }
      try {
        yield* this.waitRead(t);
      } catch (e) {
        if (e instanceof TimeoutError && !this.closed) {
          // Keep what was read (and the frame header, for recvMsg) for the next read.
          const kept = out.subarray(0, off);
          const before = prefix !== undefined ? Buffer.concat([prefix, kept]) : Buffer.from(kept);
          this.pushback = this.pushback !== undefined ? Buffer.concat([before, this.pushback]) : before.length > 0 ? before : undefined;
        }
        throw e;
      }
    }
    return out;
  }

  /** Receives exactly `n` bytes; an end of stream first is an {@link EOFError} with what did arrive. */
  *recvall(n: number, opts?: OpOptions): Generator<unknown, Buffer, unknown> {
    checkSize(n, 'recvall');
    this.rdl.begin(checkOpts(opts), 'recvall');
    return yield* this.readExact(n, 'recvall');
  }

  /** Receives one message framed by a 4-byte big-endian length (as AsyncSocket's `recvMsg`). */
  *recvMsg(opts?: OpOptions): Generator<unknown, Buffer, unknown> {
    this.rdl.begin(checkOpts(opts), 'recvMsg');
    const header = yield* this.readExact(4, 'recvMsg');
    const size = header.readUInt32BE(0);
    if (size > this.maxMessageSize) {
      this.close();
      throw new MessageTooLargeError(size, this.maxMessageSize);
    }
    if (size === 0) return EMPTY;
    return yield* this.readExact(size, 'recvMsg', header);
  }

  // ---- writes ----

  /**
   * Encrypts all of `buf` and, with `flush`, waits until it went to the kernel. On timeout a
   * {@link SendTimeoutError}'s `bytesSent` counts the plaintext TLS took (`base` added).
   */
  private *writeAll(buf: Uint8Array, what: string, flush: boolean, base = 0): Generator<unknown, void, unknown> {
    let off = 0;
    let t = this.conn(what);
    try {
      while (off < buf.length) {
        const n = t.tryWrite(buf, off, buf.length - off);
        if (n > 0) {
          off += n;
          this.sent += n;
          continue;
        }
        this.waits++;
        yield* t.waitWrite(this.wdl);
        t = this.conn(what);
      }
      if (flush) yield* t.flush(this.wdl);
    } catch (e) {
      const err = this.waitFailed(e, this.wdl);
      if (err instanceof TimeoutError && !(err instanceof SendTimeoutError)) throw new SendTimeoutError(what, err.timeout, base + off);
      throw err;
    }
  }

  /** Encrypts and sends what fits now (at least one byte, waiting for room if needed): the count taken. */
  *send(data: Uint8Array | string, opts?: OpOptions): Generator<unknown, number, unknown> {
    const buf = asBuffer(data, 'send');
    this.wdl.begin(checkOpts(opts), 'send');
    let t = this.conn('send');
    if (buf.length === 0) return 0;
    let off = 0;
    try {
      for (;;) {
        const n = off < buf.length ? t.tryWrite(buf, off, buf.length - off) : -1;
        if (n > 0) {
          off += n;
          this.sent += n;
          continue;
        }
        if (off > 0) break;
        this.waits++;
        yield* t.waitWrite(this.wdl);
        t = this.conn('send');
      }
      yield* t.flush(this.wdl);
    } catch (e) {
      throw this.waitFailed(e, this.wdl);
    }
    return off;
  }

  /** Sends all of `data`; on timeout a {@link SendTimeoutError} says how much TLS took. */
  *sendall(data: Uint8Array | string, opts?: OpOptions): Generator<unknown, void, unknown> {
    const buf = asBuffer(data, 'sendall');
    this.wdl.begin(checkOpts(opts), 'sendall');
    yield* this.writeAll(buf, 'sendall', true);
  }

  /** Sends `data` as one message framed by a 4-byte big-endian length (see {@link recvMsg}). */
  *sendMsg(data: Uint8Array | string, opts?: OpOptions): Generator<unknown, void, unknown> {
    const buf = asBuffer(data, 'sendMsg');
    if (buf.length > this.maxMessageSize) throw new MessageTooLargeError(buf.length, this.maxMessageSize);
    this.wdl.begin(checkOpts(opts), 'sendMsg');
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(buf.length, 0);
    if (buf.length <= 16384) {
      // Small frames go out in one record.
      yield* this.writeAll(Buffer.concat([header, buf]), 'sendMsg', true);
      return;
    }
    yield* this.writeAll(header, 'sendMsg', false);
    yield* this.writeAll(buf, 'sendMsg', true, 4);
  }

  // ---- ending ----

  /**
   * Ends a direction. `'write'` (the default) sends close_notify and then the end of the TCP
   * stream, right away or, behind output still being sent, as soon as it has gone; the peer
   * reads the end of the stream. `'read'` stops reading; `'both'` does both.
   */
  shutdown(how: 'read' | 'write' | 'both' = 'write'): void {
    if (how !== 'read' && how !== 'write' && how !== 'both') throw new TypeError(`shutdown: how must be 'read', 'write' or 'both', got ${String(how)}`);
    const t = this.conn('shutdown');
    if (how !== 'read') t.shutdownWrite();
    if (how !== 'write') this.sock.shutdown('read');
  }

  /**
   * Closes the socket: close_notify goes to the peer when the kernel takes it at once, then the
   * socket closes. A coroutine waiting in an operation on it gets a {@link SocketClosedError}.
   * A listener also closes the connections it holds unaccepted. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pushback = undefined;
    // A connection's engine closes the socket itself, once close_notify is out (Node's engine
    // sends it a moment later, from its pump).
    if (this.tls !== undefined) this.tls.close();
    else {
      this.acceptor?.close();
      this.sock.close();
    }
  }

  // ---- options ----

  /** The socket underneath for an option, or null when its connection has already failed. */
  private optionSocket(what: string): AsyncSocket | null {
    if (this.closed) throw new SocketClosedError(what);
    // Node's engine closes the socket as soon as the connection fails (a reset, possibly before
    // accept() handed it over); as on Node's sockets, options then do nothing and the next
    // operation reports the failure.
    return this.sock.isClosed ? null : this.sock;
  }

  /** TCP_NODELAY on the socket underneath. */
  setNoDelay(on = true): this {
    this.optionSocket('setNoDelay')?.setNoDelay(on);
    return this;
  }

  /** SO_KEEPALIVE on the socket underneath (and the idle time before the first probe). */
  setKeepAlive(on = true, idleMs?: number): this {
    this.optionSocket('setKeepAlive')?.setKeepAlive(on, idleMs);
    return this;
  }

  /** Whether TCP_NODELAY is on. */
  get noDelay(): boolean {
    const sock = this.optionSocket('noDelay');
    return sock !== null && sock.noDelay;
  }

  /** Plaintext byte counters, and how often an operation had to wait. */
  statistics(): SocketStatistics {
    return { bytesReceived: this.received, bytesSent: this.sent, waits: this.waits };
  }

  toString(): string {
    return `TlsSocket(${this.kind}, ${this.engine}, fd ${this.sock.fd}${this.acceptor !== undefined ? ', listening' : ''}${this.closed ? ', closed' : ''})`;
  }
}
