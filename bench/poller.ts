/**
 * The poller benchmark (`npm run bench`): what each backend and mode delivers into JavaScript, and
 * how fast a write wakes it, printed beside Node's own `net` sockets measured in the same run.
 * A measurement, not a test: it prints numbers and never passes or fails.
 *
 * 1. Events per second delivered into JS at batch sizes 1, 16 and 1024. K socketpairs are made
 *    readable once (one byte each, never read) and registered level-triggered, so every wait of
 *    the poller reports the same K events. Each cell counts the triples JavaScript receives (and
 *    reads) during a fixed time, after a short warm-up.
 * 2. Wake-up latency: a one-byte `native.write()` on a socketpair, timed with
 *    `process.hrtime.bigint()` from just before the write to the start of the JS callback that
 *    reports it (integrated and thread modes) or to the return of `wait()` (exclusive mode). The
 *    byte is drained and the next round starts from `setImmediate`, so every round goes once
 *    around Node's loop, the way a real program's would. Measured twice: written by this thread
 *    just before it waits (so the wait finds the byte there), and written by a Worker thread
 *    150 µs after it is asked, while this thread sleeps (a wake-up from sleep, across threads).
 * 3. Node's own sockets, measured the same ways: `socket.write()` of one byte on a connected pair
 *    (a Unix domain socket, the like of our socketpair, and loopback TCP with Nagle off) to the
 *    start of the peer's 'data' handler; from a Worker, the Worker owns the writing socket.
 *
 * @module
 */
import net from 'node:net';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../lib/native/binding.js';
import {
  backends,
  openPoller,
  EV,
  native,
  type BackendName,
  type NativePoller,
  type PollerMode,
} from '../lib/index.js';

const BATCHES = [1, 16, 1024] as const;
const CELL_SECONDS = 1.0;
const WARMUP_SECONDS = 0.2;
const LATENCY_ROUNDS = 5000;
const LATENCY_WARMUP = 500;

const requireHere = createRequire(import.meta.url);
const now = (): bigint => process.hrtime.bigint();
const one = Buffer.from('x');
const sink = Buffer.alloc(4096);

function check(what: string, rc: number): number {
  if (rc < 0) throw new Error(`${what}: ${native.strerror(rc)} (${native.errnoName(rc)})`);
  return rc;
}

function socketPair(): [number, number] {
  const out = new Int32Array(2);
  check('socketpair', native.socketpair(out));
  return [out[0]!, out[1]!];
}

/** Reads whatever is buffered on a non-blocking fd. */
function drain(fd: number): void {
  while (native.read(fd, sink, 0, sink.length) > 0) {
    /* keep reading until EAGAIN */
  }
}

/** A backend and one of the modes it supports, as `backends()` lists them. */
interface Combo {
  backend: BackendName;
  mode: PollerMode;
}

// ---------------------------------------------------------------------------------------------
// 1. Events per second into JS.

/** What a throughput cell measured. */
interface Rate {
  eventsPerSecond: number;
  /** Batches whose size was not K (should be none: every wait reports all K ready fds). */
  oddBatches: number;
  /** A sum over the triples read, so that reading them is part of what is measured. */
  checksum: number;
}

/**
 * Counts the triples delivered into JS per second with the first `k` of `readable` registered
 * level-triggered. The consumer reads every triple's token and events, as a scheduler would.
 */
function throughput(combo: Combo, readable: readonly number[], k: number): Promise<Rate> {
  let delivered = 0;
  let oddBatches = 0;
  let checksum = 0;
  const consume = (events: Int32Array, n: number): void => {
    for (let i = 0; i < n; i++) checksum = (checksum + events[3 * i]! + events[3 * i + 1]!) | 0;
    if (n !== k) oddBatches++;
    delivered += n;
  };
  const register = (poller: NativePoller): void => {
    for (let i = 0; i < k; i++) check('add', poller.add(readable[i]!, EV.READ, i));
  };
  const result = (elapsed: bigint): Rate => {
    return { eventsPerSecond: delivered / (Number(elapsed) / 1e9), oddBatches, checksum };
  };

  if (combo.mode === 'exclusive') {
    const { poller, events } = openPoller({ poller: combo.backend, mode: 'exclusive', capacity: k });
    try {
      register(poller);
      // Reading the clock costs about as much as a small wait, so it is read every few waits.
      const mask = k >= 1024 ? 0 : k >= 16 ? 15 : 255;
      const spin = (seconds: number): bigint => {
        const start = now();
        const end = start + BigInt(Math.round(seconds * 1e9));
        let t = start;
        for (let iter = 1; t < end; iter++) {
          consume(events, check('wait', poller.wait(1000)));
          if ((iter & mask) === 0) t = now();
        }
        return t - start;
      };
      spin(WARMUP_SECONDS);
      delivered = 0;
      oddBatches = 0;
      return Promise.resolve(result(spin(CELL_SECONDS)));
    } finally {
      poller.close();
    }
  }

  return new Promise((resolve, reject) => {
    let failed = 0;
    const { poller, events } = openPoller({
      poller: combo.backend,
      mode: combo.mode,
      capacity: k,
      onEvents: (n) => {
        if (n < 0) failed = n;
        else consume(events, n);
      },
    });
    register(poller);
    setTimeout(() => {
      delivered = 0;
      oddBatches = 0;
      const start = now();
      setTimeout(() => {
        const elapsed = now() - start;
        const rate = result(elapsed);
        poller.close();
        if (failed < 0) reject(new Error(`onEvents: ${native.strerror(failed)}`));
        else resolve(rate);
      }, CELL_SECONDS * 1000);
    }, WARMUP_SECONDS * 1000);
  });
}

// ---------------------------------------------------------------------------------------------
// 2. Wake-up latency. Two writers: this thread, just before it waits (write, then the callback
//    or wait() that reports it, the same way Node's net is measured), and a Worker thread
//    that writes while this thread sleeps, which is what a wake-up from another thread costs.

/** Nanoseconds per round, warm-up rounds excluded, sorted. */
type Samples = Float64Array;

function finish(samples: Float64Array): Samples {
  return samples.subarray(LATENCY_WARMUP).sort();
}

/** Who writes each round's byte, and when it was written. */
interface Writer {
  /** Starts a round: writes now (same thread) or asks the worker to write shortly. */
  fire(): void;
  /** `process.hrtime.bigint()` just before the current round's write. */
  stamp(): bigint;
  close(): Promise<void>;
}

function sameThreadWriter(write: () => void): Writer {
  let t0 = 0n;
  return {
    fire() {
      t0 = now();
      write();
    },
    stamp: () => t0,
    close: () => Promise.resolve(),
  };
}

/** How long the worker waits after a request before it writes, so that this thread is asleep. */
const WORKER_DELAY_NS = 150_000;

// The worker: loads the addon itself (or opens its own net connection), then for every request
// spins WORKER_DELAY_NS, stores the time and writes one byte. hrtime is CLOCK_MONOTONIC, the same
// clock in every thread of the process.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const net = require('node:net');
const ctrl = new Int32Array(workerData.sab, 0, 2);
const stamp = new BigInt64Array(workerData.sab, 8, 1);
const one = Buffer.from('x');
let write;
function loop() {
  parentPort.postMessage('ready');
  for (let seen = 0; ; ) {
    Atomics.wait(ctrl, 0, seen);
    seen = Atomics.load(ctrl, 0);
    if (seen < 0) break;
    const end = process.hrtime.bigint() + BigInt(workerData.delayNs);
    while (process.hrtime.bigint() < end) {}
    Atomics.store(stamp, 0, process.hrtime.bigint());
    write();
  }
}
if (workerData.net) {
  const client = net.connect(workerData.net, () => {
    client.setNoDelay(true);
    write = () => client.write(one);
    loop();
    client.destroy();
  });
} else {
  const native = require(workerData.loader)(workerData.root);
  write = () => native.write(workerData.fd, one, 0, 1);
  loop();
}
`;

async function workerWriter(target: { fd: number } | { net: net.NetConnectOpts }): Promise<Writer> {
  const sab = new SharedArrayBuffer(16);
  const ctrl = new Int32Array(sab, 0, 2);
  const stamp = new BigInt64Array(sab, 8, 1);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      sab,
      delayNs: WORKER_DELAY_NS,
      loader: requireHere.resolve('node-gyp-build'),
      root: packageRoot,
      fd: 'fd' in target ? target.fd : -1,
      net: 'net' in target ? target.net : null,
    },
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  let round = 0;
  return {
    fire() {
      Atomics.store(ctrl, 0, ++round);
      Atomics.notify(ctrl, 0);
    },
    stamp: () => Atomics.load(stamp, 0),
    async close() {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      Atomics.store(ctrl, 0, -1);
      Atomics.notify(ctrl, 0);
      await exited;
    },
  };
}

type From = 'same' | 'worker';

async function latency(combo: Combo, from: From): Promise<Samples> {
  const [rd, wr] = socketPair();
  const TOKEN = 7;
  const total = LATENCY_WARMUP + LATENCY_ROUNDS;
  const samples = new Float64Array(total);
  const writer =
    from === 'same'
      ? sameThreadWriter(() => check('write', native.write(wr, one, 0, 1)))
      : await workerWriter({ fd: wr });
  const reported = (events: Int32Array, n: number): boolean => {
    for (let j = 0; j < n; j++) if (events[3 * j] === TOKEN) return true;
    return false;
  };

  try {
    if (combo.mode === 'exclusive') {
      const { poller, events } = openPoller({ poller: combo.backend, mode: 'exclusive', capacity: 16 });
      try {
        check('add', poller.add(rd, EV.READ, TOKEN));
        for (let i = 0; i < total; ) {
          writer.fire();
          const n = check('wait', poller.wait(1000));
          const t1 = now();
          if (!reported(events, n)) throw new Error(`${combo.backend}/exclusive: the write was not reported`);
          samples[i++] = Number(t1 - writer.stamp());
          drain(rd);
        }
      } finally {
        poller.close();
      }
      return finish(samples);
    }

    await new Promise<void>((resolve, reject) => {
      let i = 0;
      const { poller, events } = openPoller({
        poller: combo.backend,
        mode: combo.mode,
        capacity: 16,
        onEvents: (n) => {
          const t1 = now();
          if (n < 0) {
            poller.close();
            reject(new Error(`onEvents: ${native.strerror(n)}`));
            return;
          }
          if (!reported(events, n)) return;
          samples[i++] = Number(t1 - writer.stamp());
          drain(rd);
          if (i === total) {
            poller.close();
            resolve();
          } else {
            setImmediate(() => writer.fire());
          }
        },
      });
      check('add', poller.add(rd, EV.READ, TOKEN));
      setImmediate(() => writer.fire());
    });
    return finish(samples);
  } finally {
    await writer.close();
    native.close(rd);
    native.close(wr);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Node's own sockets, the same way.

async function netLatency(kind: 'unix' | 'tcp', from: From): Promise<Samples> {
  const sockPath = path.join(os.tmpdir(), `asyncoro-bench-${process.pid}.sock`);
  if (kind === 'unix') fs.rmSync(sockPath, { force: true });
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (kind === 'unix') server.listen(sockPath, resolve);
    else server.listen(0, '127.0.0.1', resolve);
  });
  const target: net.NetConnectOpts =
    kind === 'unix'
      ? { path: sockPath }
      : { port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' };
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  let client: net.Socket | undefined;
  let writer: Writer;
  if (from === 'same') {
    const c = net.connect(target);
    await new Promise<void>((resolve, reject) => {
      c.once('connect', resolve);
      c.once('error', reject);
    });
    c.setNoDelay(true);
    client = c;
    writer = sameThreadWriter(() => c.write(one));
  } else {
    writer = await workerWriter({ net: target });
  }
  const peer = await accepted;
  peer.setNoDelay(true);

  const total = LATENCY_WARMUP + LATENCY_ROUNDS;
  const samples = new Float64Array(total);
  let i = 0;
  await new Promise<void>((resolve) => {
    peer.on('data', (chunk: Buffer) => {
      const t1 = now();
      // A chunk holds every byte written so far; rounds are sequential, so it is always one.
      for (let b = 0; b < chunk.length && i < total; b++) samples[i++] = Number(t1 - writer.stamp());
      if (i >= total) resolve();
      else setImmediate(() => writer.fire());
    });
    setImmediate(() => writer.fire());
  });
  await writer.close();
  client?.destroy();
  peer.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (kind === 'unix') fs.rmSync(sockPath, { force: true });
  return finish(samples);
}

// ---------------------------------------------------------------------------------------------
// Printing.

function quantile(sorted: Samples, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function rate(r: Rate): string {
  const v = r.eventsPerSecond;
  const s = v >= 1e6 ? `${(v / 1e6).toFixed(2)} M/s` : `${(v / 1e3).toFixed(0)} k/s`;
  return r.oddBatches > 0 ? `${s}*` : s;
}

const us = (ns: number): string => `${(ns / 1000).toFixed(1)} µs`;
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;

function table(head: string[], rows: string[][], right: boolean[]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function machine(): string {
  const cpus = os.cpus();
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const glibc = report?.header?.glibcVersionRuntime;
  return [
    `date:    ${new Date().toISOString()}`,
    `cpu:     ${cpus[0]?.model.trim() ?? 'unknown'}, ${cpus.length} cores ` +
      `(available parallelism ${os.availableParallelism()})`,
    `kernel:  ${os.type()} ${os.release()} ${os.arch()}${glibc ? `, glibc ${glibc}` : ''}`,
    `node:    ${process.version} (N-API ${process.versions.napi}, libuv ${process.versions.uv})`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const combos: Combo[] = backends()
    .filter((b) => b.kind === 'readiness')
    .flatMap((b) => b.modes.map((mode) => ({ backend: b.name, mode })));
  console.log('asyncoro poller benchmark\n');
  console.log(machine());
  console.log(`combos:  ${combos.map((c) => `${c.backend}/${c.mode}`).join(', ')}\n`);

  // One set of readable socketpairs serves every cell: one byte in each, never read.
  const maxK = Math.max(...BATCHES);
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < maxK; i++) {
    const p = socketPair();
    check('write', native.write(p[1], one, 0, 1));
    pairs.push(p);
  }
  const readable = pairs.map((p) => p[0]);

  const rateRows: string[][] = [];
  let odd = false;
  for (const combo of combos) {
    const row: string[] = [combo.backend, combo.mode];
    for (const k of BATCHES) {
      const r = await throughput(combo, readable, k);
      if (r.oddBatches > 0) odd = true;
      row.push(rate(r));
    }
    rateRows.push(row);
  }
  for (const [a, b] of pairs) {
    native.close(a);
    native.close(b);
  }

  const measured: Record<From, { ours: Samples[]; unix: Samples; tcp: Samples }> = {
    same: { ours: [], unix: new Float64Array(), tcp: new Float64Array() },
    worker: { ours: [], unix: new Float64Array(), tcp: new Float64Array() },
  };
  for (const from of ['same', 'worker'] as const) {
    for (const combo of combos) measured[from].ours.push(await latency(combo, from));
    measured[from].unix = await netLatency('unix', from);
    measured[from].tcp = await netLatency('tcp', from);
  }

  console.log(
    `Events per second delivered into JS: K readable socketpairs, level-triggered, so every ` +
      `batch reports K\n(${CELL_SECONDS} s per cell after ${WARMUP_SECONDS} s of warm-up)\n`,
  );
  console.log(
    table(
      ['backend', 'mode', ...BATCHES.map((k) => `batch ${k}`)],
      rateRows,
      [false, false, ...BATCHES.map(() => true)],
    ),
  );
  if (odd) console.log('* some batches were not of size K');

  const latencyTable = (from: From): string => {
    const { ours, unix, tcp } = measured[from];
    const u50 = quantile(unix, 0.5);
    const u99 = quantile(unix, 0.99);
    const row = (name: string, mode: string, s: Samples): string[] => {
      const p50 = quantile(s, 0.5);
      const p99 = quantile(s, 0.99);
      return [name, mode, us(p50), us(p99), ratio(p50, u50), ratio(p99, u99)];
    };
    const rows = combos.map((c, i) => row(`asyncoro ${c.backend}`, c.mode, ours[i]!));
    rows.push(row('node net', 'unix socket', unix), row('node net', 'tcp loopback', tcp));
    return table(['', 'mode', 'p50', 'p99', 'p50 ratio', 'p99 ratio'], rows, [false, false, true, true, true, true]);
  };

  console.log(
    `\nWake-up latency: one-byte write -> start of the JS callback (or return of wait()) that ` +
      `reports it\n(${LATENCY_ROUNDS} rounds after ${LATENCY_WARMUP} of warm-up, each started from ` +
      `setImmediate; ratios: ours / Node's net over a Unix socket)\n`,
  );
  console.log('a) written by this thread just before it waits\n');
  console.log(latencyTable('same'));
  console.log(
    `\nb) written by a Worker thread ${WORKER_DELAY_NS / 1000} µs after it is asked, while this ` +
      `thread sleeps\n`,
  );
  console.log(latencyTable('worker'));
  console.log(
    `\nIn (a), exclusive wait() finds the byte already there and never sleeps, and Node's loop\n` +
      `does not sleep either; (b) is a wake-up from sleep across threads. Thread mode also wakes\n` +
      `its waiting thread and hands the batch over, in both.`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
