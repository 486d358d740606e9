/**
 * Helpers for coroutine tests: a scheduler per test (closed afterwards), errors collected instead
 * of printed, and `runCoro` that runs a generator test body to its end in any mode.
 */
import { MockClock } from '../../lib/core/clock.js';
import type { Coro, CoroFn } from '../../lib/core/coro.js';
import { Scheduler, type SchedulerOptions } from '../../lib/core/scheduler.js';

export interface TestScheduler {
  sched: Scheduler;
  /** Errors reported through onError, with the coroutine's name. */
  errors: { err: unknown; name: string }[];
  clock: MockClock | undefined;
}

const open: Scheduler[] = [];

/** A scheduler whose uncaught errors are collected; closed by {@link closeSchedulers}. */
export function makeScheduler(options: SchedulerOptions & { mock?: boolean; autoJump?: boolean } = {}): TestScheduler {
  const errors: { err: unknown; name: string }[] = [];
  const clock = options.mock === true ? new MockClock({ autoJump: options.autoJump ?? true }) : undefined;
  const { mock: _m, autoJump: _a, ...rest } = options;
  const sched = new Scheduler({
    ...rest,
    ...(clock !== undefined ? { clock } : {}),
    onError: (err, coro) => errors.push({ err, name: coro?.name ?? '?' }),
  });
  open.push(sched);
  return { sched, errors, clock };
}

export function closeSchedulers(): void {
  for (const s of open.splice(0)) s.close();
}

/** Spawns `fn` on `sched` and waits for its result (running the scheduler in exclusive mode). */
export async function runCoro<R>(sched: Scheduler, fn: CoroFn<R, []>): Promise<R> {
  const c: Coro<R> = sched.spawn(fn);
  if (sched.mode === 'exclusive') sched.run();
  return c.value();
}

/** Settles after the scheduler has had `ms` real milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
