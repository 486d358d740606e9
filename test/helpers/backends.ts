/**
 * Which backends the per-backend suites run under: every one the loaded addon has on this host,
 * or only those named in `ASYNCORO_TEST_BACKENDS` (comma-separated). `npm run test:shims` loads
 * the test addon built with the kqueue and /dev/poll shims (`ASYNCORO_PREBUILD=test/native/shims`)
 * and names `kqueue,devpoll`, so the same suites run through those two backends.
 */
import { backends, type BackendDescription } from '../../lib/core/poller.js';

const only = process.env['ASYNCORO_TEST_BACKENDS']?.split(',').filter(Boolean);

/** The names asked for in ASYNCORO_TEST_BACKENDS, or undefined for all. */
export const onlyBackends: readonly string[] | undefined = only;

/** The backends to test, best first. */
export function testedBackends(): readonly BackendDescription[] {
  return backends().filter((b) => only === undefined || only.includes(b.name));
}
