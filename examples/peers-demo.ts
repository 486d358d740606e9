/**
 * Peers at work: this process starts three worker processes on loopback. They find each other by
 * UDP broadcast, the coordinator runs coroutines on them by RCI, broadcasts on a channel its
 * workers' coroutines subscribed to, kills one worker with SIGKILL in the middle of its job, and
 * sees it go: its pending result fails with PeerLostError and the peer is reported offline. The
 * others finish; everything is printed as it happens.
 *
 * Run: `npx tsx examples/peers-demo.ts`
 */
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  Channel,
  Coro,
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
const t0 = performance.now();
const log = (who: string, text: string): void => console.log(`${((performance.now() - t0) / 1000).toFixed(2).padStart(6)} s  ${who.padEnd(11)} ${text}`);

const [role, name, secret, udp] = process.argv.slice(2);

if (role === 'worker') {
  // A worker: hosts the RCI 'crunch' and stays until SIGTERM (or SIGKILL).
  const sched = new Scheduler();
  sched.spawn(function* () {
    const net = yield* joinNetwork({ name: name!, secret: secret!, udpPort: Number(udp), discover: { interval: 300 }, heartbeat: 500, log: () => {} });
    new RCI(function* crunch(n: number, news: RemoteChannel, boss: RemoteCoro) {
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
        if (i % 10 === 0) yield* sleep(20);
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
    const jobs = new Map<string, RemoteCoro>();
    for (const [i, w] of WORKERS.entries()) {
      const crunch = yield* RCI.locate<[number, Channel, Coro], number>('crunch', { location: w, timeout: 5000 });
      // carol gets a long job: she will not live to finish it.
      const n = w === 'carol' ? 100_000 : 100 * (i + 1);
      jobs.set(w, yield* crunch.call(n, news, self()));
      log('coordinator', `started crunch(${n}) on ${w}: ${String(jobs.get(w))}`);
    }
    const waiting = [...jobs].map(([w, rc]) =>
      spawn(function* () {
        try {
          const v = yield* rc.finish();
          log('coordinator', `${w} finished: ${String(v)}`);
          return v;
        } catch (e) {
          log('coordinator', `${w}'s job failed: ${e instanceof PeerLostError ? 'PeerLostError (the peer is gone)' : String(e)}`);
          return e;
        }
      }),
    );
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
    const results = [];
    for (const w of waiting) results.push(yield* w.finish());
    const ok = results.filter((r) => typeof r === 'number').length;
    const lost = results.filter((r) => r instanceof PeerLostError).length;
    log('coordinator', `${ok} jobs finished, ${lost} lost with its peer; ${net.statistics().framesOut} frames sent, ${net.statistics().framesIn} received`);
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
