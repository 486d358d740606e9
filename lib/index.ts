/**
 * asyncoro: generator coroutines for concurrent, network and distributed programming on native
 * pollers. Public exports only; importing this module has no side effects beyond loading the
 * addon.
 *
 * @module
 */
export { backends, openPoller, resolvePoller, EV, ALL_BACKENDS } from './core/poller.js';
export type {
  BackendDescription,
  BackendName,
  NativePoller,
  OpenedPoller,
  PollerMode,
  PollerOptions,
} from './core/poller.js';
export { AsyncoroError, BackendUnavailableError, SystemError, check } from './core/errors.js';
export { native, nativeFile } from './native/binding.js';
export type { NativeBinding } from './native/types.js';
export {
  CoroExit,
  TimeoutError,
  TerminatedError,
  NotInCoroError,
  NotOwnerError,
  OverReleaseError,
  DeadlockError,
  WouldBlock,
  CoroStateError,
  HotSwap,
} from './core/errors.js';
export type { Op } from './core/op.js';
export { Coro, spawn, self, sleep, suspend } from './core/coro.js';
export type { CoroFn } from './core/coro.js';
export { Scheduler, defaultScheduler, waitReadable, waitWritable } from './core/scheduler.js';
export type { SchedulerOptions, SchedulerStatistics } from './core/scheduler.js';
export { MockClock, realClock } from './core/clock.js';
export type { Clock } from './core/clock.js';
export { receive, receiveMatching, pending } from './msg/mailbox.js';
export { Lock, RLock } from './sync/lock.js';
export type { LockStatistics } from './sync/lock.js';
export { Condition } from './sync/condition.js';
export { Event } from './sync/event.js';
export { Semaphore, BoundedSemaphore } from './sync/semaphore.js';
export { Queue } from './sync/queue.js';
export { AsyncSocket, SendTimeoutError, isMulticastAddress } from './io/socket.js';
export type {
  Address,
  Datagram,
  InetAddress,
  OpOptions,
  SocketKind,
  SocketOptions,
  SocketStatistics,
  UnixSocketOptions,
} from './io/socket.js';
export { AddressError, EOFError, MessageTooLargeError, SocketClosedError } from './io/errors.js';
export { TlsSocket, SecureContext, createSecureContext, startTls, tlsEngine } from './io/tls.js';
export type { SecureContextOptions, TlsEngineName, TlsOptions, TlsVersion } from './io/tls.js';
export {
  TlsError,
  CertificateError,
  HostnameMismatchError,
  TlsProtocolError,
  TlsHandshakeTimeoutError,
  TlsUnavailableError,
} from './io/errors.js';
export type { DecodedAddress } from './native/types.js';
export { Channel, ChannelClosedError } from './msg/channel.js';
export type { ChannelOptions, Subscriber } from './msg/channel.js';
export { MonitorStatus } from './supervise/monitor.js';
export type { ExitKind, Monitorable, MonitorTarget } from './supervise/monitor.js';
export { hotSwappable } from './supervise/hotswap.js';
export { Supervisor, RestartIntensityError } from './supervise/supervisor.js';
export type { Backoff, ChildSpec, RestartPolicy, Strategy, SupervisorOptions } from './supervise/supervisor.js';
export { joinNetwork, networkOf, peerStatus, Network, PeerStatus } from './remote/network.js';
export type { NetworkOptions, NetworkStatistics, PeerInfo, PeerTlsOptions, LocateOptions, LocationLike } from './remote/network.js';
export { RemoteCoro, RemoteChannel } from './remote/refs.js';
export { RCI } from './remote/rci.js';
export { sendFile, delFile } from './remote/files.js';
export type { SendFileOptions } from './remote/files.js';
export { PeerLostError, RemoteError, SendQueueFullError, NoNetworkError, FileRefusedError } from './remote/errors.js';
export { AsyncFile, AsyncPipe } from './io/pipe.js';
export type { Communicated, ExitStatus, FileOpOptions, PipeSpawnOptions, StdioOption } from './io/pipe.js';
export { FileClosedError } from './io/errors.js';
export { AsyncThreadPool, move } from './pool/thread-pool.js';
export type { CloseOptions, ModuleTask, Moved, RunOptions, Task, TaskFunction, ThreadPoolOptions, ThreadPoolStatistics } from './pool/thread-pool.js';
export { AsyncDBCursor } from './pool/db.js';
export type { CursorOptions, Params, PostgresConfig, Row, SqliteOptions } from './pool/db.js';
export { DatabaseError, PoolClosedError, WorkerExitError } from './pool/errors.js';
