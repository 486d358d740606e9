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
