/**
 * A supervised worker tree that survives injected crashes.
 *
 *   top supervisor (one_for_one)
 *   ├── logger       counts the ends the supervisors handle, from a Channel
 *   └── pool         a nested supervisor (one_for_one, at most 5 restarts in 200 ms, backoff)
 *       ├── worker-1
 *       ├── ...
 *       └── worker-4
 *
 * A client sends jobs to the workers by name and waits for each answer. Some jobs crash their
 * worker the first time they are tried: the pool restarts the worker in place (same coroutine,
 * same mailbox) and the client tries the job again. Halfway through, a batch of poison pills
 * crashes one worker over and over: the pool gives up, the top supervisor restarts the whole
 * pool, and the client carries on with the new workers. At the end every job has its answer.
 *
 *   npx tsx examples/supervisor-tree.ts [jobs]
 */
import { Channel, Coro, MonitorStatus, Supervisor, receive, self, sleep, spawn, type ChildSpec } from '../lib/index.js';

const jobs = Number(process.argv[2] ?? 400);
const WORKERS = 4;

interface Job {
  id: number;
  n: number;
  replyTo: Coro;
  poison?: boolean;
}
interface Reply {
  id: number;
  square: number;
}
interface Exit {
  supervisor: string;
  child: string;
  kind: MonitorStatus['kind'];
}

/** Every end of a child that a supervisor handles is published here, for the logger. */
const exits = new Channel('exits');
const counts = { workerExits: 0, poolExits: 0 };
const crashedOnce = new Set<number>();
let injected = 0;

function* worker(name: string): Generator<unknown, void, unknown> {
  // A restart runs this again from the top: the worker registers its name again.
  self().register(name);
  for (;;) {
    const job = yield* receive<Job>();
    if (job.poison) {
      injected++;
      throw new Error(`${name}: poisoned`);
    }
    if (job.id % 40 === 7 && !crashedOnce.has(job.id)) {
      crashedOnce.add(job.id);
      injected++;
      throw new Error(`${name}: injected crash on job ${job.id}`);
    }
    yield* sleep(0); // the work (here: letting the others run)
    job.replyTo.send({ id: job.id, square: job.n * job.n } satisfies Reply);
  }
}

function* logger(): Generator<unknown, void, unknown> {
  exits.subscribe(self());
  for (;;) {
    const e = yield* receive<Exit>();
    if (e.child === 'pool') counts.poolExits++;
    else counts.workerExits++;
  }
}

const report = (supervisor: string) => (child: string, st: MonitorStatus) =>
  exits.send({ supervisor, child, kind: st.kind } satisfies Exit);

const workers: ChildSpec[] = Array.from({ length: WORKERS }, (_, i) => ({
  id: `worker-${i + 1}`,
  fn: worker,
  args: [`worker-${i + 1}`],
}));

const top = new Supervisor({
  name: 'top',
  onChildExit: report('top'),
  children: [
    { id: 'logger', fn: logger },
    Supervisor.spec('pool', {
      intensity: 5,
      period: 200,
      backoff: { initial: 1, max: 20 },
      onChildExit: report('pool'),
      children: workers,
    }),
  ],
});

/** Sends a job to its worker and waits for the answer; tries again when the worker crashed. */
function* call(id: number, n: number): Generator<unknown, { square: number; tries: number }, unknown> {
  for (let tries = 1; ; tries++) {
    const w = Coro.locate(`worker-${(id % WORKERS) + 1}`);
    if (w !== undefined) {
      w.send({ id, n, replyTo: self() } satisfies Job);
      const r = yield* receive((m): m is Reply => (m as Reply).id === id, 50, null);
      if (r !== null) return { square: r.square, tries };
    } else {
      yield* sleep(5); // the pool is being restarted: its workers have not registered yet
    }
  }
}

spawn(function* client() {
  yield* sleep(1); // let the tree start
  const names = workers.map((w) => w.id);
  const first = names.map((n) => Coro.locate(n));
  let sameBeforePoison = false;
  let answered = 0;
  let retried = 0;
  for (let id = 0; id < jobs; id++) {
    if (id === jobs >> 1) {
      sameBeforePoison = names.every((n, i) => Coro.locate(n) === first[i]);
      // Poison pills: worker-2 crashes on each, faster than the pool allows, and the pool gives
      // up; the pills still queued are dropped with the worker when the pool stops.
      const w = Coro.locate('worker-2')!;
      for (let p = 0; p < 20; p++) w.send({ id: -1, n: 0, replyTo: self(), poison: true } satisfies Job);
    }
    const { square, tries } = yield* call(id, id + 1);
    if (square !== (id + 1) * (id + 1)) throw new Error(`job ${id}: wrong answer ${square}`);
    answered++;
    if (tries > 1) retried++;
  }
  yield* sleep(1);
  console.log(`supervisor-tree: ${WORKERS} workers under a pool supervisor under a top supervisor`);
  console.log(`jobs answered          ${answered} of ${jobs} (${retried} tried again after their worker crashed)`);
  console.log(`crashes injected       ${injected} (${crashedOnce.size} one-off crashes, ${injected - crashedOnce.size} poison pills)`);
  console.log(`worker crashes handled ${counts.workerExits} (each restarted in place, until the pool gave up)`);
  console.log(`pool restarts          ${counts.poolExits} (it gave up; the top supervisor started it again)`);
  console.log(
    `restart in place       ${sameBeforePoison ? 'until the poison, the workers were the coroutines they were at the start' : 'a worker changed coroutine before the poison (unexpected)'}`,
  );
  yield* top.stop();
  console.log('stopped: the tree ended in reverse order, and the process exits by itself');
});
