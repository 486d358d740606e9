/**
 * Peers at work (`npm start`): this process starts three worker processes on loopback. They find
 * each other by UDP broadcast; the coordinator runs a job on each by RCI and monitors the three
 * remote coroutines, broadcasts on a channel its workers' coroutines subscribed to, and kills one
 * worker with SIGKILL in the middle of its job. The monitor of that job hears of it (a
 * MonitorStatus with a PeerLostError) and runs the job again on a worker that is still there; the
 * other monitors hear of normal ends with their results. Everything is printed as it happens.
 *
 * Run: `npm start`, or `npx tsx examples/peers-demo.ts`.
 */
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  Channel,
  Coro,
  MonitorStatus,
  PeerLostError,
  PeerStatus,
  RCI,
  RemoteChannel,
  RemoteCoro,
  Scheduler,
  joinNetwork,
  peerStatus,
  receive,
  self,
  sleep,
  spawn,
} from '../lib/index.js';

const WORKERS = ['ada', 'brian', 'carol'];
/** Each worker's job: crunch(n) at a pace (ms of sleep per 10 steps). carol's is too slow to end before she is killed. */
const JOBS: Record<string, [n: number, pace: number]> = { ada: [100, 20], brian: [200, 20], carol: [300, 2000] };
const t0 = performance.now();
const log = (who: string, text: string): void => console.log(`${((performance.now() - t0) / 1000).toFixed(2).padStart(6)} s  ${who.padEnd(11)} ${text}`);

const [role, name, secret, udp] = process.argv.slice(2);

if (role === 'worker') {
  // A worker: hosts the RCIs 'crunch' and 'whoDoYouKnow', and stays until SIGTERM (or SIGKILL).
  const sched = new Scheduler();
  sched.spawn(function* () {
    const net = yield* joinNetwork({ name: name!, secret: secret!, udpPort: Number(udp), discover: { interval: 300 }, heartbeat: 500, log: () => {} });
    new RCI(function* crunch(n: number, pace: number, news: RemoteChannel, boss: RemoteCoro) {
      const listener = spawn(function* listener() {
        for (;;) {
          const m = yield* receive();
          boss.send(['heard', name, m]);
        }
      });
      listener.daemon = true;
      // Subscribe to the coordinator's channel from here: the channel came as an argument.
      yield* news.subscribe(listener);
      let sum = 0;
      for (let i = 1; i <= n; i++) {
        sum += i * i;
        if (i % 10 === 0) yield* sleep(pace);
      }
      return sum;
    }).register();
    new RCI(function* whoDoYouKnow() {
      yield* sleep(0);
      return net
        .peers()
        .filter((p) => p.status === 'online')
        .map((p) => p.name)
        .sort();
    }).register();
    process.on('SIGTERM', () => {
      sched.spawn(function* () {
        yield* net.close();
        process.exit(0);
      });
    });
    process.stdout.write('ready\n');
    for (;;) yield* sleep(3600_000);
  });
} else {
  const key = randomBytes(12).toString('hex');
  const udpPort = 30000 + Math.floor(Math.random() * 20000);
  const children = new Map<string, ChildProcess>();
  const sched = new Scheduler();
  const c = sched.spawn(function* coordinator() {
    const net = yield* joinNetwork({ name: 'coordinator', secret: key, udpPort, discover: { interval: 300 }, heartbeat: 500, log: () => {} });
    log('coordinator', `joined at ${net.location}, discovery on UDP ${udpPort}`);
    peerStatus(self());
    for (const w of WORKERS) {
      const p = spawnProcess(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'worker', w, key, String(udpPort)], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.set(w, p);
    }
    const online = new Set<string>();
    while (online.size < WORKERS.length) {
      const st = yield* receive((m): m is PeerStatus => m instanceof PeerStatus, 20000, null);
      if (st === null) throw new Error('the workers did not come online');
      online.add(st.name);
      log('coordinator', `${st.name} is ${st.status} at ${st.location}`);
    }
    // The workers found each other too (discovery and relaying): ask each whom it knows.
    for (const w of WORKERS) {
      const who = yield* RCI.locate<[], string[]>('whoDoYouKnow', { location: w, timeout: 5000 });
      let known: string[] = [];
      for (let tries = 0; tries < 50 && known.length < WORKERS.length; tries++) {
        known = (yield* (yield* who.call()).finish(5000)) as string[];
        if (known.length < WORKERS.length) yield* sleep(100);
      }
      log(w, `knows ${known.join(', ')}`);
    }
    const news = new Channel('news').register();
    const boss = self();

    /** Starts `job`'s crunch on `worker` and returns the remote coroutine. */
    function* start(job: string, worker: string): Generator<unknown, RemoteCoro, unknown> {
      const crunch = yield* RCI.locate<[number, number, Channel, Coro], number>('crunch', { location: worker, timeout: 5000 });
      const [n, pace] = JOBS[job]!;
      const rc = yield* crunch.call(n, worker === job ? pace : 20, news, boss);
      log('coordinator', `started ${job}'s job crunch(${n}) on ${worker}: ${String(rc)}`);
      return rc;
    }

    // The jobs' monitor: one MonitorStatus per remote coroutine it watches. A job whose peer is
    // lost runs again on a worker that is still online, and is watched there.
    const monitor = spawn(function* jobs() {
      const running = new Map<RemoteCoro, string>();
      for (const w of WORKERS) {
        const rc = yield* start(w, w);
        yield* self().monitor(rc);
        running.set(rc, w);
      }
      const results = new Map<string, number>();
      let reruns = 0;
      while (running.size > 0) {
        const st = yield* receive((m): m is MonitorStatus => m instanceof MonitorStatus, 30000, null);
        if (st === null) throw new Error('a job was never heard of again');
        const job = running.get(st.coro as RemoteCoro)!;
        running.delete(st.coro as RemoteCoro);
        if (st.kind === 'normal') {
          log('monitor', `${job}'s job ended normally on ${(st.coro as RemoteCoro).location}: ${String(st.value)}`);
          results.set(job, st.value as number);
        } else if (st.error instanceof PeerLostError) {
          log('monitor', `${job}'s job is lost with its peer: PeerLostError (${st.error.message})`);
          const spare = net.peers().find((p) => p.status === 'online' && WORKERS.includes(p.name))!.name;
          const rc = yield* start(job, spare);
          yield* self().monitor(rc);
          running.set(rc, job);
          reruns++;
        } else {
          log('monitor', `${job}'s job ended with ${st.kind}: ${String(st.error)}`);
        }
      }
      return { results, reruns };
    });

    yield* sleep(200);
    const sent = yield* news.deliver({ text: 'hello workers', at: new Date() }, { n: WORKERS.length, timeout: 5000 });
    log('coordinator', `broadcast on channel 'news' to ${sent} subscribers`);
    for (let i = 0; i < WORKERS.length; i++) {
      const [, who, m] = (yield* receive((x): x is ['heard', string, { text: string; at: Date }] => Array.isArray(x) && x[0] === 'heard', 5000)) as ['heard', string, { text: string; at: Date }];
      log(who, `heard "${m.text}" (a Date came back as a ${m.at.constructor.name})`);
    }
    log('coordinator', 'killing carol with SIGKILL in the middle of her job');
    children.get('carol')!.kill('SIGKILL');
    const off = yield* receive((m): m is PeerStatus => m instanceof PeerStatus && m.status === 'offline', 10000, null);
    log('coordinator', off === null ? 'carol was not reported offline' : `${off.name} is ${off.status}`);
    const { results, reruns } = (yield* monitor.finish()) as { results: Map<string, number>; reruns: number };
    const s = net.statistics();
    log('coordinator', `${results.size} of ${WORKERS.length} jobs done (${reruns} run again after its peer was lost); ${s.framesOut} frames sent, ${s.framesIn} received`);
    for (const [w, p] of children) if (w !== 'carol') p.kill('SIGTERM');
    yield* net.close();
    log('coordinator', 'left the network');
  });
  c.value().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      for (const p of children.values()) p.kill('SIGKILL');
      process.exit(1);
    },
  );
}
