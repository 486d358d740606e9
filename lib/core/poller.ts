/**
 * Choosing and opening a native poller: the policy above the native mechanism. Which backends
 * this host has, which is best, which modes each can run in, and typed errors when a request
 * cannot be met. The scheduler opens its poller through {@link openPoller}.
 *
 * @module
 */
import { native } from '../native/binding.js';
import type { BackendInfo, BackendName, NativePoller, PollerMode } from '../native/types.js';
import { BackendUnavailableError, SystemError } from './errors.js';

export type { BackendName, NativePoller, PollerMode } from '../native/types.js';

/** Event bits for {@link NativePoller.add}: `READ`, `WRITE`, `EDGE`, `ONESHOT`, and the reported ones. */
export const EV = native.events;

/**
 * Every backend name asyncoro knows, whether or not this host has it, in order of preference:
 * the first one a host has is its default. epoll comes before io_uring because it measured
 * faster for sockets here (bench/echo); io_uring is there to be asked for.
 */
export const ALL_BACKENDS: readonly BackendName[] = [
  'epoll', 'io_uring', 'kqueue', 'iocp', 'devpoll', 'poll', 'select',
];
const MODES: readonly PollerMode[] = ['integrated', 'thread', 'exclusive'];

/** One backend this host supports, with the modes it can run in (the first is its default). */
export interface BackendDescription {
  readonly name: BackendName;
  readonly modes: readonly PollerMode[];
  /** Edge-triggered registrations are available. */
  readonly edge: boolean;
  /** One-shot registrations are available (native or emulated). */
  readonly oneShot: boolean;
  /**
   * `'readiness'`: a poller (`openPoller`), fds report readiness and the caller does the I/O.
   * `'completion'` (io_uring, IOCP): a ring that does the I/O (`native.Ring`); a {@link Scheduler}
   * runs on either, and sockets work the same on both.
   */
  readonly kind: 'readiness' | 'completion';
}

let cached: readonly BackendDescription[] | undefined;

/**
 * Integrated mode needs a backend fd that Node's own loop can watch (`FEAT_POLLABLE_FD`). epoll's
 * always can; poll, select and /dev/poll have none; kqueue's can where the kernel reports a nested
 * kqueue's readiness truly, which the backend tests when it opens (some macOS kernels report it
 * as always ready). Without it, thread mode comes first, so a default scheduler falls back to it.
 */
function describe(info: BackendInfo): BackendDescription {
  const pollable = (info.features & EV.FEAT_POLLABLE_FD) !== 0;
  return {
    name: info.name,
    modes: pollable ? ['integrated', 'thread', 'exclusive'] : ['thread', 'exclusive'],
    edge: (info.features & EV.FEAT_EDGE) !== 0,
    oneShot: (info.features & EV.FEAT_ONESHOT) !== 0,
    kind: 'readiness',
  };
}

/**
 * The binary's completion backend (io_uring on Linux, IOCP on Windows), where this process can
 * open a ring with the operations sockets need.
 */
function describeRing(): BackendDescription | undefined {
  const name = native.ringBackend;
  if (name === '' || native.ringProbe() !== 0) return undefined;
  return { name, modes: native.Ring.modes, edge: false, oneShot: true, kind: 'completion' };
}

/**
 * The poller backends this host supports, best first: compiled into the loaded binary and
 * openable here. The first is what a scheduler uses when none is asked for.
 *
 * @example
 * ```ts
 * import { backends } from 'asyncoro';
 * for (const b of backends()) console.log(b.name, b.modes.join('/'));
 * ```
 */
export function backends(): readonly BackendDescription[] {
  if (cached === undefined) {
    const found = native.backends().map(describe);
    const ring = describeRing();
    if (ring !== undefined) found.push(ring);
    found.sort((a, b) => ALL_BACKENDS.indexOf(a.name) - ALL_BACKENDS.indexOf(b.name));
    cached = Object.freeze(found);
  }
  return cached;
}

/** Options of {@link openPoller}. */
export interface PollerOptions {
  /** The backend; default: `ASYNCORO_POLLER` from the environment, else the best this host has. */
  poller?: BackendName;
  /** The mode; default: the backend's first mode (integrated where possible, else thread). */
  mode?: PollerMode;
  /** Triples per batch (the event array's size); default 1024. */
  capacity?: number;
  /** Called once per batch in integrated and thread modes, with the triple count or -errno. */
  onEvents?: (count: number) => void;
}

/** A native poller together with the event array it fills. */
export interface OpenedPoller {
  readonly poller: NativePoller;
  /** `[token, events, fd]` triples; valid during `onEvents` or until the next `wait()`. */
  readonly events: Int32Array;
  readonly description: BackendDescription;
}

/**
 * Resolves which backend and mode a request means, with typed errors for what this host lacks.
 * `ASYNCORO_POLLER` is consulted only when `poller` is not given.
 */
export function resolvePoller(
  poller?: BackendName,
  mode?: PollerMode,
): { backend: BackendDescription; mode: PollerMode } {
  const have = backends();
  const names = have.map((b) => b.name);
  let wanted: string | undefined = poller;
  let source = 'requested';
  if (wanted === undefined) {
    const env = process.env['ASYNCORO_POLLER'];
    if (env !== undefined && env !== '') {
      wanted = env;
      source = 'ASYNCORO_POLLER';
    }
  }
  if (wanted !== undefined && !ALL_BACKENDS.includes(wanted as BackendName)) {
    throw new BackendUnavailableError(
      `unknown poller backend '${wanted}' (${source}); known: ${ALL_BACKENDS.join(', ')}; ` +
        `available here: ${names.join(', ')}`,
      names,
    );
  }
  const backend = wanted === undefined ? have[0] : have.find((b) => b.name === wanted);
  if (backend === undefined) {
    throw new BackendUnavailableError(
      `poller backend '${wanted ?? '(best)'}' (${source}) is not available on this host ` +
        `(${process.platform}-${process.arch}); available: ${names.join(', ') || 'none'}`,
      names,
    );
  }
  if (mode !== undefined && !MODES.includes(mode)) {
    throw new TypeError(`unknown poller mode '${String(mode)}'; modes: ${MODES.join(', ')}`);
  }
  const chosen = mode ?? backend.modes[0]!;
  if (!backend.modes.includes(chosen)) {
    throw new BackendUnavailableError(
      `poller backend '${backend.name}' cannot run in ${chosen} mode; ` +
        `its modes: ${backend.modes.join(', ')}`,
      names,
    );
  }
  return { backend, mode: chosen };
}

/**
 * Opens a native poller as asked, validating every option with a clear error at the call.
 *
 * @example
 * ```ts
 * const { poller, events } = openPoller({ poller: 'epoll', mode: 'exclusive' });
 * poller.add(fd, EV.READ, 1);
 * const n = poller.wait(100);
 * for (let i = 0; i < n; i++) console.log(events[3 * i], events[3 * i + 1]);
 * ```
 */
export function openPoller(options: PollerOptions = {}): OpenedPoller {
  const capacity = options.capacity ?? 1024;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20) {
    throw new RangeError(`capacity must be an integer from 1 to ${1 << 20}, got ${capacity}`);
  }
  const { backend, mode } = resolvePoller(options.poller, options.mode);
  if (backend.kind !== 'readiness') {
    throw new BackendUnavailableError(
      `'${backend.name}' is a completion backend, not a poller: run a Scheduler on it ` +
        `({ poller: '${backend.name}' }) or open a native.Ring`,
      backends().map((b) => b.name),
    );
  }
  if (mode !== 'exclusive' && typeof options.onEvents !== 'function') {
    throw new TypeError(`${mode} mode needs an onEvents(count) callback`);
  }
  const events = new Int32Array(3 * capacity);
  let poller: NativePoller;
  try {
    poller =
      mode === 'exclusive'
        ? new native.Poller(backend.name, mode, events)
        : new native.Poller(backend.name, mode, events, options.onEvents);
  } catch (e) {
    // The kernel refused to open the backend (EMFILE, ENOMEM, ...): a typed system error.
    const errno = (e as { errno?: unknown }).errno;
    if (typeof errno === 'number') throw new SystemError(`open ${backend.name} poller`, errno);
    throw e;
  }
  return { poller, events, description: backend };
}
