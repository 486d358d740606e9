/**
 * Type tests for monitors, hot swap and supervisors: compiled by `npm run typecheck`, never run
 * (see op.types.ts).
 */
import { Channel, Coro, MonitorStatus, RemoteCoro, Supervisor, hotSwappable, receive, self, spawn, type ChildSpec, type ExitKind } from '../../lib/index.js';

function* worker(queue: string, limit: number): Generator<unknown, void, unknown> {
  hotSwappable(true);
  for (let i = 0; i < limit; i++) yield* receive<string>(queue.length);
}

export function* monitors(): Generator<unknown, void, unknown> {
  const w = spawn(worker, 'q', 3);
  const added: boolean = yield* self().monitor(w);
  const told: boolean = w.notify(new Channel('exits'));
  const st = yield* receive((m): m is MonitorStatus => m instanceof MonitorStatus);
  const kind: ExitKind = st.kind;
  const release: () => void = st.hold();
  // A status may be of a remote coroutine (a RemoteCoro, restarted only on its own node).
  // @ts-expect-error narrow it first
  st.coro.restart({ delay: 10 });
  if (st.coro instanceof Coro) st.coro.restart({ delay: 10 });
  const remote: RemoteCoro | undefined = st.coro instanceof RemoteCoro ? st.coro : undefined;
  // @ts-expect-error a kind is one of three strings
  const k: 'crashed' = st.kind;
  // @ts-expect-error restart takes options, not a function
  w.restart(worker);
  // @ts-expect-error monitor() needs something to watch
  yield* self().monitor(5);
  void [added, told, kind, release, k, remote];
}

export function hotSwaps(): void {
  const w = spawn(worker, 'q', 3);
  w.hotSwap(worker, 'q2', 5);
  // @ts-expect-error the arguments must fit the new function
  w.hotSwap(worker, 5, 'q2');
  // @ts-expect-error a plain function is not a generator function
  w.hotSwap(() => 5);
  const was: boolean = hotSwappable(false);
  void was;
}

export function supervisors(): void {
  const spec: ChildSpec = { id: 'w', fn: worker, args: ['q', 1], restart: 'transient' };
  const sup = new Supervisor({ strategy: 'rest_for_one', intensity: 2, period: 1000, children: [spec, Supervisor.spec('inner', { children: [] })] });
  // @ts-expect-error not a strategy
  new Supervisor({ strategy: 'all_for_one', children: [] });
  // @ts-expect-error not a restart policy
  const bad: ChildSpec = { id: 'x', fn: worker, restart: 'sometimes' };
  void [sup.child('w'), bad];
}
