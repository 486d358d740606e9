/**
 * The typed description of everything the native addon exports: the only place the shape of the
 * native surface is written down on the TypeScript side. Every call is flat and non-throwing: it
 * returns a count (or 0) on success and `-errno` on failure, `EAGAIN` included. Policy (timeouts,
 * retries, typed errors) lives above this layer.
 *
 * @module
 */

/** The backends a binary can contain. Which ones this host has: {@link NativeBinding.backends}. */
export type BackendName = 'epoll' | 'poll' | 'select' | 'io_uring' | 'kqueue' | 'devpoll' | 'iocp';

/** How a poller runs inside Node (DESIGN.md section 2). */
export type PollerMode = 'integrated' | 'thread' | 'exclusive';

/** Event bits, and the bits of {@link NativePoller.features}. */
export interface EventBits {
  /** Requested and reported: the fd is readable (or at EOF). */
  readonly READ: number;
  /** Requested and reported: the fd is writable. */
  readonly WRITE: number;
  /** Reported even when not requested: an error is pending on the fd. */
  readonly ERROR: number;
  /** Reported even when not requested: the peer hung up. */
  readonly HANGUP: number;
  /** Requested: edge-triggered (only where `features & FEAT_EDGE`). */
  readonly EDGE: number;
  /** Requested: disarm after one report until `modify()` re-arms. */
  readonly ONESHOT: number;
  /** Reported on the {@link TOKEN_WAKEUP} triple only. */
  readonly WAKEUP: number;
  /** The token of the triple that reports a wake-up (`wakeup()` or a write to `wakeupFd`). */
  readonly TOKEN_WAKEUP: number;
  readonly FEAT_EDGE: number;
  readonly FEAT_ONESHOT: number;
  /** The backend's own fd can be watched by Node's loop: integrated mode is possible. */
  readonly FEAT_POLLABLE_FD: number;
  /** A blocked wait works on a snapshot of the registrations (poll, select). */
  readonly FEAT_SNAPSHOT: number;
}

/** One backend this host can open, as reported by {@link NativeBinding.backends}. */
export interface BackendInfo {
  readonly name: BackendName;
  /** `FEAT_*` bits of {@link EventBits}. */
  readonly features: number;
}

/**
 * A native poller. Events arrive in the `Int32Array` given to the constructor as
 * `[token, events, fd]` triples; its content is valid only during `onEvents(count)` (integrated
 * and thread modes) or until the next `wait()` (exclusive mode).
 */
export interface NativePoller {
  /** Registers `fd` for `events` (READ/WRITE/EDGE/ONESHOT) under `token >= 0`. `-EEXIST` if registered. */
  add(fd: number, events: number, token: number): number;
  /** Changes a registration (and re-arms a one-shot one). `-ENOENT` if not registered. */
  modify(fd: number, events: number, token: number): number;
  /** Forgets a registration; call it before closing the fd. `-ENOENT` if not registered. */
  remove(fd: number): number;
  /** Exclusive mode only: waits up to `timeoutMs` (-1: forever) and returns the triple count. */
  wait(timeoutMs: number): number;
  /** Keep the process alive while this poller is open (the default in integrated and thread modes). */
  ref(): void;
  /** Let the process exit even though this poller is open. */
  unref(): void;
  /** Makes the poller report a WAKEUP triple soon; coalesces. 0 or -errno. */
  wakeup(): number;
  /** Stops delivery, joins the waiting thread and closes the backend. Idempotent. */
  close(): void;
  readonly backend: BackendName;
  readonly mode: PollerMode;
  /** The backend's own fd (epoll's), or -1. */
  readonly fd: number;
  /** Write end of the wake-up channel: give it to another thread to use with `wakeup(fd)`. */
  readonly wakeupFd: number;
  /** How many triples fit in the event array. */
  readonly capacity: number;
  readonly features: number;
  readonly closed: boolean;
}

export interface NativePollerConstructor {
  /**
   * Opens a poller. Throws (a bug in the caller, not a runtime condition) on bad arguments, an
   * unknown backend or a mode the backend cannot do.
   */
  new (
    backend: BackendName,
    mode: PollerMode,
    events: Int32Array,
    onEvents?: (count: number) => void,
  ): NativePoller;
}

/**
 * How a {@link NativeRing} runs inside Node: io_uring in integrated or exclusive mode, IOCP in
 * thread or exclusive mode (`Ring.modes` lists the binary's).
 */
export type RingMode = 'integrated' | 'thread' | 'exclusive';

/** Constants of the completion contract (`native/completion.h`), for {@link NativeRing}. */
export interface RingConstants {
  /** The token of the triple that reports a wake-up (`wakeup()` or a write to `wakeupFd`). */
  readonly TOKEN_WAKEUP: number;
  /** Operation kinds, found in a completion's flags under {@link KIND_MASK}. */
  readonly OP_RECV: number;
  readonly OP_SEND: number;
  readonly OP_READ: number;
  readonly OP_WRITE: number;
  readonly OP_ACCEPT: number;
  readonly OP_CONNECT: number;
  readonly OP_POLL: number;
  readonly OP_RECVFROM: number;
  readonly OP_SENDTO: number;
  /** The size of an encoded address ({@link NativeRing.recvfrom} writes one into its slot). */
  readonly ADDR_BYTES: number;
  /** `flags & KIND_MASK` is the completed operation's `OP_*` kind. */
  readonly KIND_MASK: number;
  /** Set in flags when `cancel()` was called for the operation before it completed. */
  readonly CANCEL_REQUESTED: number;
  /** {@link NativeRing.features}: the ring's fd can be watched by Node's loop (integrated mode). */
  readonly FEAT_POLLABLE_FD: number;
  /** {@link NativeRing.features}: `wait(timeout)` needs no timeout operation (Linux 5.11+). */
  readonly FEAT_WAIT_TIMEOUT: number;
  /** {@link NativeRing.features}: a thread may block in the wait while JavaScript submits (IOCP). */
  readonly FEAT_THREAD_WAIT: number;
}

/** Sizes of a ring, fixed when it is opened; every table is allocated then, none per operation. */
export interface RingOptions {
  /** Submission queue entries (1..32768, default 256); a full queue is flushed, not refused. */
  entries?: number;
  /**
   * Operations in flight at once (1..1048576, default 4096); beyond it submit calls return
   * -ENOBUFS. Each costs about 250 bytes on io_uring and 400 on IOCP (AcceptEx's address room),
   * allocated at open (connect's address storage included).
   */
  maxOps?: number;
  /** Buffer slots for {@link NativeRing.register} (0..65536, default 64). */
  slots?: number;
  /**
   * Completion queue entries (1..65536, at least `entries`; the kernel rounds up to a power of
   * two). Default: `maxOps` plus room for internal completions, so the queue never overflows;
   * a smaller one is correct too (the kernel keeps the extra completions until there is room).
   */
  cqEntries?: number;
  /** Test hook: make `wait(timeout)` use a timeout operation as on kernels before 5.11. */
  timeoutOp?: boolean;
}

/**
 * A completion ring: io_uring on Linux, IOCP on Windows (the completion contract,
 * `native/completion.h`; {@link NativeBinding.ringBackend} says which). Operations name a
 * registered buffer slot and carry a caller's token (an int32 >= 0, unique among the operations
 * in flight); each produces exactly one completion, written into the `Int32Array` given to the
 * constructor as `[token, result, flags]` triples: result is a byte count (0 at EOF), a new fd
 * (accept), `EV` bits (poll), 0 (connect), or -errno; a cancelled operation ends with
 * `-ECANCELED` unless it finished first. Triples are valid during `onCompletions(count)`
 * (integrated mode) or until the next `wait()` (exclusive mode). Submit calls queue; the queue
 * reaches the kernel in one syscall at `submit()`, `wait()` or (integrated mode) before Node's
 * loop blocks. No call throws: they return 0 (or a count) or -errno.
 */
export interface NativeRing {
  /**
   * Lends `buf` to the ring as buffer slot `slot`; the ring keeps it alive until `unregister()`
   * or `close()`. Do not transfer or detach it meanwhile. `-EEXIST` if the slot is taken,
   * `-EINVAL` for a slot out of range or a buffer that is not a non-empty `Uint8Array`.
   */
  register(slot: number, buf: Uint8Array): number;
  /** Frees a slot. `-EBUSY` while operations on it are in flight, `-ENOENT` if it is empty. */
  unregister(slot: number): number;
  /** Queues recv(2) from socket `fd` into `slot[off, off + len)`. */
  recv(token: number, fd: number, slot: number, off: number, len: number): number;
  /** Queues send(2) of `slot[off, off + len)` on socket `fd` (MSG_NOSIGNAL: EPIPE, never SIGPIPE). */
  send(token: number, fd: number, slot: number, off: number, len: number): number;
  /** Queues read(2) for an fd that is not a socket (a pipe, a tty). */
  read(token: number, fd: number, slot: number, off: number, len: number): number;
  /** Queues write(2) for an fd that is not a socket. */
  write(token: number, fd: number, slot: number, off: number, len: number): number;
  /** Queues accept4(2) on a listening socket; the result is the new fd, non-blocking and close-on-exec. */
  accept(token: number, fd: number): number;
  /**
   * Queues connect(2) of socket `fd` to `addr`, encoded by {@link NativeBinding.sockaddr} as for
   * the socket calls (`-EINVAL` otherwise); the ring copies it, so the buffer can be reused at once.
   */
  connect(token: number, fd: number, addr: Uint8Array): number;
  /**
   * Queues the receipt of one datagram on socket `fd` into `slot[off, off + len)` (a longer one
   * is cut to it); when it completes, the sender's address is written into
   * `slot[addrOff, addrOff + ADDR_BYTES)`, encoded as {@link NativeBinding.recvfrom} writes it.
   * The two ranges must not overlap (`-EINVAL`).
   */
  recvfrom(token: number, fd: number, slot: number, off: number, len: number, addrOff: number): number;
  /** Queues one datagram `slot[off, off + len)` to `addr` (encoded by `sockaddr`; the ring copies it). */
  sendto(token: number, fd: number, slot: number, off: number, len: number, addr: Uint8Array): number;
  /** Queues a one-shot readiness wait for `EV.READ`/`EV.WRITE`; the result is the `EV` bits seen. */
  poll(token: number, fd: number, events: number): number;
  /** Asks the kernel to cancel the operation with `token`: 0, or `-ENOENT` if none is in flight. */
  cancel(token: number): number;
  /** Hands the queued entries (the ring's own included) to the kernel now: how many, or -errno. */
  submit(): number;
  /** Exclusive mode only: submits, waits up to `timeoutMs` (-1: forever), returns the triple count. */
  wait(timeoutMs: number): number;
  /** Makes the ring report one `TOKEN_WAKEUP` triple soon; coalesces. Thread-safe through `wakeupFd`. */
  wakeup(): number;
  /** Keep the process alive while this ring is open (the default in integrated mode). */
  ref(): void;
  /** Let the process exit even though this ring is open. */
  unref(): void;
  /**
   * Cancels every operation in flight, waits (at most a second) until the kernel has finished
   * with their buffers, hands those last completions to `onCompletions` (if there is one), then
   * closes the ring. Idempotent; later calls return `-EBADF`. Called from inside
   * `onCompletions`, it refills the same completion array: read the current batch first.
   */
  close(): void;
  readonly mode: RingMode;
  /** The ring's own fd, or -1 once closed. */
  readonly fd: number;
  /** The eventfd another thread passes to `wakeup(fd)` of the binding; -1 once closed. */
  readonly wakeupFd: number;
  /** How many triples fit in the completion array. */
  readonly capacity: number;
  readonly slots: number;
  readonly maxOps: number;
  /** Operations submitted (or queued) whose completion has not been delivered yet. */
  readonly inFlight: number;
  /** Submission entries not yet handed to the kernel. */
  readonly queued: number;
  /** `FEAT_*` bits of {@link RingConstants}. */
  readonly features: number;
  /** Bit `1 << OP_*` for each operation this kernel supports. */
  readonly ops: number;
  readonly closed: boolean;
}

export interface NativeRingConstructor {
  /**
   * Opens a ring. Throws (a bug in the caller) on bad arguments or `thread` mode, and when the
   * kernel refuses a ring (the error carries `errno`; check {@link NativeBinding.ringProbe} first).
   */
  new (
    mode: RingMode,
    completions: Int32Array,
    onCompletions?: ((count: number) => void) | undefined,
    options?: RingOptions,
  ): NativeRing;
  /** The modes a ring can run in, the default first: `['integrated', 'exclusive']` (io_uring), `['thread', 'exclusive']` (IOCP). */
  readonly modes: readonly RingMode[];
}

/** Socket constants of this platform (`AF_*`, `SOCK_*`, `SHUT_*`, option levels and names). */
export interface SocketConstants {
  /** Size of every address buffer (a sockaddr_storage). */
  readonly ADDR_BYTES: number;
  readonly AF_INET: number;
  readonly AF_INET6: number;
  readonly AF_UNIX: number;
  readonly SOCK_STREAM: number;
  readonly SOCK_DGRAM: number;
  readonly SHUT_RD: number;
  readonly SHUT_WR: number;
  readonly SHUT_RDWR: number;
  readonly SOL_SOCKET: number;
  readonly SO_REUSEADDR: number;
  /** Absent where the platform has no SO_REUSEPORT. */
  readonly SO_REUSEPORT?: number;
  readonly SO_KEEPALIVE: number;
  readonly SO_RCVBUF: number;
  readonly SO_SNDBUF: number;
  readonly SO_ERROR: number;
  readonly SO_BROADCAST: number;
  readonly SO_TYPE: number;
  /** 1 for a listening socket, else 0. */
  readonly SO_ACCEPTCONN: number;
  readonly IPPROTO_TCP: number;
  readonly TCP_NODELAY: number;
  readonly TCP_KEEPIDLE?: number;
  readonly TCP_KEEPINTVL?: number;
  readonly TCP_KEEPCNT?: number;
  readonly IPPROTO_IPV6: number;
  readonly IPV6_V6ONLY: number;
  readonly IPPROTO_IP: number;
  /** IPv4 multicast TTL, 0..255 (default 1: the local network only). */
  readonly IP_MULTICAST_TTL: number;
  /** IPv4: 1 (default) if this host's own multicast datagrams are looped back to it. */
  readonly IP_MULTICAST_LOOP: number;
  /** IPv6 multicast hop limit, 0..255 (default 1). */
  readonly IPV6_MULTICAST_HOPS: number;
  /** IPv6: 1 (default) if this host's own multicast datagrams are looped back to it. */
  readonly IPV6_MULTICAST_LOOP: number;
  /**
   * Linux only: 1 (default) if a socket bound to a group's port receives it while any socket of
   * the host is a member, though it is not one itself; 0 for members only.
   */
  readonly IP_MULTICAST_ALL?: number;
  /** Linux 4.20 and later: the same for IPv6. */
  readonly IPV6_MULTICAST_ALL?: number;
}

/** A decoded socket address. */
export type DecodedAddress =
  | { readonly family: 4 | 6; readonly host: string; readonly port: number }
  | { readonly family: 'unix'; readonly path: string };

/** Why a TLS call failed, captured from OpenSSL's error queue at the failure. */
export interface NativeTlsFailure {
  /** OpenSSL's reason text: `'certificate verify failed'`, `'wrong version number'`, ... */
  readonly reason: string;
  /** OpenSSL's library text: `'SSL routines'`, `'PEM routines'`, ... (empty if unknown). */
  readonly library: string;
  /** The packed OpenSSL error code, 0 when the queue was empty. */
  readonly code: number;
  /** The certificate verification result (`X509_V_OK`, 0, unless verification was the cause). */
  readonly verify: number;
  readonly verifyMessage: string;
}

/**
 * An OpenSSL context (`SSL_CTX`): certificates, trust, protocol bounds and ciphers, for clients
 * and servers alike (what differs per connection is set on the connection). The configuration calls return 0 (or a count) on success, -EINVAL for bad arguments, or
 * {@link NativeTlsConstants.ERROR} with the reason in `error()`.
 */
export interface NativeTlsContext {
  /** Own certificate, then its chain, from PEM text. */
  setCert(pem: Uint8Array): number;
  /** Private key from PEM text (decrypted with `passphrase`); must match the certificate. */
  setKey(pem: Uint8Array, passphrase?: string): number;
  /** Trusts each certificate of the PEM text (a server also lists them to clients): the count. */
  addCA(pem: Uint8Array): number;
  /** Verifies with `other`'s trusted certificates (a shared store). */
  shareStore(other: NativeTlsContext): number;
  /** `TLS1_2_VERSION`/`TLS1_3_VERSION` bounds (max 0: none). */
  setProtocols(min: number, max: number): number;
  /** OpenSSL cipher list for TLS 1.2 and suites for TLS 1.3 (`''` keeps the default). */
  setCiphers(list: string, suites: string): number;
  /** The last failure of a configuration call. */
  error(): NativeTlsFailure;
}

/**
 * One TLS connection as a memory engine over two buffers JavaScript owns: ciphertext to decrypt
 * sits in `in[IN_START, IN_END)`, ciphertext to send is appended to `out` at `OUT_END` and sent
 * from `OUT_START`; the positions live in the state `Int32Array`. Set `state[EOF]` once the
 * transport has ended. Results below zero are the `WANT_*`, `HELLO` and `ERROR` constants.
 */
export interface NativeTlsConn {
  /** Client: verify the server against `name` (an IP literal when `isIp`); send it as SNI if `sni`. */
  setHost(name: string, isIp: boolean, sni: boolean): number;
  /** One of the `VERIFY_*` modes (default: `VERIFY_PEER` for a client, `VERIFY_NONE` for a server). */
  setVerify(mode: number): number;
  /** ALPN protocols in wire format: offered (client) or chosen from, in this order (server). */
  setAlpn(wire: Uint8Array, server: boolean): number;
  /** Server: the handshake pauses at the ClientHello (`HELLO`) until `setContext()`. */
  setHelloPause(): number;
  /** Client: offer a saved session; 1 if it was usable, 0 if not (a full handshake follows). */
  setSession(der: Uint8Array): number;
  /** Server, during a `HELLO` pause: go on with this context (or the current one if undefined). */
  setContext(ctx?: NativeTlsContext): number;
  /** 1 when done, or `WANT_READ`/`WANT_WRITE`/`HELLO`/`ERROR`. */
  handshake(): number;
  /** Plaintext into `buf[off, off + len)`: bytes, 0 at the end of the stream, or `WANT_*`/`ERROR`. */
  read(buf: Uint8Array, off: number, len: number): number;
  /** Encrypts from `buf[off, off + len)`: bytes taken (a record at most), or `WANT_WRITE`/`ERROR`. */
  write(buf: Uint8Array, off: number, len: number): number;
  /** Queues close_notify: 0, or `WANT_WRITE`/`ERROR`. */
  shutdown(): number;
  /** What the handshake settled. */
  info(): NativeTlsInfo | null;
  /** The peer's certificate in DER, or null. */
  peerCertificate(): Buffer | null;
  /** The session in DER if it can be resumed, else null. */
  session(): Buffer | null;
  /** During a `HELLO` pause: the server name the client asked for, or `''`. */
  helloName(): string;
  /** Why the last call returned `ERROR`. */
  error(): NativeTlsFailure;
  /** Frees the OpenSSL objects now (idempotent; the garbage collector would later). */
  free(): void;
}

/** What {@link NativeTlsConn.info} reports after the handshake. */
export interface NativeTlsInfo {
  readonly protocol: string;
  readonly cipher: string | null;
  readonly alpn: string | null;
  readonly servername: string | null;
  readonly reused: boolean;
  readonly peerCertificate: boolean;
  readonly verify: number;
  readonly verifyMessage: string;
}

/** The TLS part of the addon (`native/tls.cc`). */
export interface NativeTls {
  /** `new Context()`; throws when `openssl.available` is false. */
  readonly Context: new () => NativeTlsContext;
  /** `new Conn(ctx, server, inBuf, outBuf, state)`: a server or a client connection. */
  readonly Conn: new (ctx: NativeTlsContext, server: boolean, inBuf: Uint8Array, outBuf: Uint8Array, state: Int32Array) => NativeTlsConn;
  /** The OpenSSL of this process: whether the addon can use it, and its version. */
  readonly openssl: {
    readonly available: boolean;
    readonly version: string | null;
    readonly versionNumber: number | null;
    /** The version of the headers the addon was compiled with. */
    readonly headerVersion: string;
  };
  readonly WANT_READ: number;
  readonly WANT_WRITE: number;
  readonly ERROR: number;
  readonly HELLO: number;
  readonly IN_START: number;
  readonly IN_END: number;
  readonly OUT_START: number;
  readonly OUT_END: number;
  readonly EOF: number;
  readonly STATE_LENGTH: number;
  readonly VERIFY_NONE: number;
  readonly VERIFY_PEER: number;
  readonly VERIFY_REQUIRE: number;
  readonly VERIFY_REQUEST: number;
  readonly TLS1_2_VERSION: number;
  readonly TLS1_3_VERSION: number;
  readonly X509_V_OK: number;
  /** Certificate verification results by number, named as Node names them (`'CERT_HAS_EXPIRED'`). */
  readonly verifyNames: Readonly<Record<number, string>>;
}

/** The whole native surface. */
export interface NativeBinding {
  readonly Poller: NativePollerConstructor;
  /** The backends compiled in and openable on this host, best first. */
  backends(): BackendInfo[];
  /** Wakes the poller whose `wakeupFd` this is; callable from any thread. 0 or -errno. */
  wakeup(fd: number): number;
  readonly events: EventBits;
  /** The completion ring (io_uring, IOCP); open one only where {@link ringProbe} returns 0. */
  readonly Ring: NativeRingConstructor;
  /**
   * 0 when this host can open a ring with the operations sockets need, else -errno. io_uring:
   * `-ENOSYS` (no io_uring, or a kernel older than 5.5), `-EPERM` (switched off by
   * `kernel.io_uring_disabled` or a seccomp filter), `-EOPNOTSUPP` (an operation missing, before 5.6).
   */
  ringProbe(): number;
  /** Constants of the completion contract. */
  readonly ring: RingConstants;
  /** The binary's completion backend behind {@link Ring}: `'io_uring'` (Linux), `'iocp'` (Windows), or `''`. */
  readonly ringBackend: 'io_uring' | 'iocp' | '';
  /** A pair of connected non-blocking Unix sockets into `out[0]`, `out[1]`. */
  socketpair(out: Int32Array, datagram?: boolean): number;
  /** A non-blocking pipe: `out[0]` reads, `out[1]` writes. */
  pipe(out: Int32Array): number;
  setNonBlocking(fd: number, on?: boolean): number;
  /** Reads into `buf[off, off + len)`: bytes read, 0 at EOF, or -errno. */
  read(fd: number, buf: Uint8Array, off: number, len: number): number;
  /** Writes `buf[off, off + len)`: bytes written or -errno (EPIPE, never SIGPIPE). */
  write(fd: number, buf: Uint8Array, off: number, len: number): number;
  close(fd: number): number;
  /** A close-on-exec duplicate of `fd`. */
  dup(fd: number): number;
  /** A pidfd for child `pid`, readable once it has exited: fd, or -errno (`-ENOSYS` where there is none). */
  pidfdOpen(pid: number): number;
  /**
   * A child's exit status without reaping it: 0 while it runs, `256 + code` once it exited,
   * `512 + signal number` once a signal ended it, or -errno (`-ECHILD`: not a child, or reaped).
   */
  exitStatus(pid: number): number;
  readonly sockets: SocketConstants;
  /**
   * Encodes a numeric address into `out` (`ADDR_BYTES` long) once, for bind/connect/sendto:
   * `family` is `AF_INET`, `AF_INET6` (a `%scope` suffix allowed) or `AF_UNIX` (`host` is the path;
   * a leading NUL names an abstract socket). 0, or -EINVAL for a host that is not a numeric
   * address of that family.
   */
  sockaddr(out: Uint8Array, family: number, host: string, port?: number): number;
  /** Reads back an address written by `sockaddr`, `recvfrom`, `getsockname` or `getpeername`. */
  decodeAddress(addr: Uint8Array): DecodedAddress | number;
  /** A non-blocking, close-on-exec socket: fd or -errno. */
  socket(family: number, type: number): number;
  bind(fd: number, addr: Uint8Array): number;
  listen(fd: number, backlog: number): number;
  /** A non-blocking, close-on-exec connection fd, or -errno (-EAGAIN: none pending). */
  accept(fd: number): number;
  /** 0, -EINPROGRESS (wait for WRITE, then read SO_ERROR) or -errno. */
  connect(fd: number, addr: Uint8Array): number;
  /** Sends a datagram to `addr`: bytes sent or -errno. */
  sendto(fd: number, buf: Uint8Array, off: number, len: number, addr: Uint8Array): number;
  /** Receives a datagram into `buf[off, off + len)` and its sender into `from`: bytes or -errno. */
  recvfrom(fd: number, buf: Uint8Array, off: number, len: number, from: Uint8Array): number;
  shutdown(fd: number, how: number): number;
  setsockopt(fd: number, level: number, name: number, value: number): number;
  /** The option's integer value, or -errno; `SO_ERROR` gives the pending error as a positive errno. */
  getsockopt(fd: number, level: number, name: number): number;
  getsockname(fd: number, out: Uint8Array): number;
  getpeername(fd: number, out: Uint8Array): number;
  /**
   * Joins (`join` true) or leaves the multicast group `group` (encoded by `sockaddr`; its port is
   * ignored). `iface` names the interface as `sockaddr` encodes it: an IPv4 address of the
   * interface, or for IPv6 `::%name` (or `::%index`), whose scope id is the interface index;
   * without it the routing table chooses (IPv6: the group's own scope id). With `source`, only
   * datagrams from that sender are received (source-specific membership). All three addresses
   * of one family (`-EINVAL` otherwise). 0 or -errno: on Linux `-EINVAL` for a group that is not
   * multicast, `-EADDRINUSE` joined already, `-EADDRNOTAVAIL` not joined, `-ENODEV` no such
   * interface, `-ENOBUFS` past `net.ipv4.igmp_max_memberships`.
   */
  membership(fd: number, join: boolean, group: Uint8Array, iface?: Uint8Array | null, source?: Uint8Array | null): number;
  /** Sets the interface multicast datagrams leave by, named as for {@link membership}. 0 or -errno. */
  setMulticastInterface(fd: number, iface: Uint8Array): number;
  /** Writes into `out` the interface multicast datagrams leave by (`0.0.0.0`, `::`: the routing table's choice). 0 or -errno. */
  getMulticastInterface(fd: number, family: number, out: Uint8Array): number;
  /** Symbolic errno values of this platform, e.g. `errno.EAGAIN`. */
  readonly errno: Readonly<Record<string, number>>;
  /** `"EAGAIN"` for `-EAGAIN` (either sign); `""` if unknown. */
  errnoName(code: number): string;
  /** The C library's message for an errno (either sign). */
  strerror(code: number): string;
  /** TLS on the OpenSSL of the running Node. */
  readonly tls: NativeTls;
}
