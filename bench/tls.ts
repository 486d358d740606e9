/**
 * TLS benchmark: one C load generator on the system's OpenSSL (bench/tls/tlsloadgen.c) against,
 * in the same run, Node's `tls` echo server and asyncoro's TLS echo server (the native engine
 * in integrated and exclusive mode, and the Node-tls fallback engine for reference). It reports
 * full handshakes per second (each with a 1-byte echo so the server finished its side), and for
 * 64-byte and 16-KB messages over 1 and 100 connections messages per second; for each, the
 * server's CPU time per operation, read from /proc before and after (the machine is shared, so
 * CPU per operation is the steadier figure), and the ratio to Node's tls. Certificates: ECDSA
 * P-256 (KEY_TYPE=rsa for RSA 2048), made by scripts/test-certs.sh; TLS 1.3, X25519.
 *
 * The servers run side by side and take turns, load by load, for `--rounds` rounds; each row is
 * the round with the least CPU per operation, which is the one the other tenants of a shared
 * machine disturbed least.
 *
 * Usage: npx tsx bench/tls.ts [--seconds 2] [--rounds 3] [--only node,native,...]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backends } from '../lib/core/poller.js';
import { native } from '../lib/native/binding.js';
import { option, printMachine, printTable } from './common.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
// Not under build/: node-gyp rebuild deletes that.
const out = join(root, 'build-bench');
const seconds = Number(option('seconds', '2'));
const rounds = Number(option('rounds', '3'));
const only = option('only', '').split(',').filter(Boolean);
const keyType = process.env['KEY_TYPE'] === 'rsa' ? 'rsa' : 'ec';

function compileLoadgen(): string {
  mkdirSync(out, { recursive: true });
  const bin = join(out, 'tlsloadgen');
  execFileSync('cc', ['-O2', '-Wall', '-o', bin, join(root, 'bench', 'tls', 'tlsloadgen.c'), '-lssl', '-lcrypto'], { stdio: 'inherit' });
  return bin;
}

function makeCerts(): string {
  const dir = join(out, `tls-certs-${keyType}`);
  if (!existsSync(join(dir, 'server.pem'))) {
    execFileSync('bash', [join(root, 'scripts', 'test-certs.sh'), dir], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KEY_TYPE: keyType } });
  }
  return dir;
}

const CLK_TCK = 100; // USER_HZ on Linux, what /proc/<pid>/stat counts in
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5); fields[] starts at field 3.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

interface Server {
  label: string;
  proc: ChildProcess;
  port: number;
}

function start(label: string, argv: string[]): Promise<Server> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'tls', 'server.ts'), ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    proc.stdout!.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve({ label, proc, port: Number(buf.split('\n')[0]) });
    });
    proc.once('exit', (code) => reject(new Error(`${label} exited with ${code} before listening`)));
  });
}

interface Result {
  count: number;
  per_sec: number;
  p50_us: number;
  p99_us: number;
  mismatches: number;
}

function load(loadgen: string, port: number, args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(loadgen, ['-p', String(port), '-t', String(seconds), '-w', '1', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.on('exit', (code) => {
      if (code !== 0) reject(new Error(`tlsloadgen exited with ${code}: ${text}`));
      else resolve(JSON.parse(text) as Result);
    });
  });
}

async function main(): Promise<void> {
  const loadgen = compileLoadgen();
  const certs = makeCerts();
  const servers: [string, string[]][] = [['node tls', [certs, 'node']]];
  if (native.tls.openssl.available) {
    for (const b of backends()) {
      if (b.name !== 'epoll' && b.name !== 'io_uring') continue;
      for (const m of b.modes) {
        if (m === 'thread') continue;
        servers.push([`asyncoro native ${b.name}/${m}`, [certs, 'asyncoro', b.name, m, 'native']]);
      }
    }
  }
  const first = backends()[0]!;
  servers.push([`asyncoro node-tls engine ${first.name}/${first.modes[0]}`, [certs, 'asyncoro', first.name, first.modes[0]!, 'node']]);
  const chosen = servers.filter(([label]) => only.length === 0 || only.some((o) => label.includes(o)));
  const loads: { name: string; unit: string; conns: number; args: string[] }[] = [
    { name: 'handshake', unit: 'handshakes', conns: 16, args: ['-H', '-c', '16'] },
    { name: '64 B', unit: 'msgs', conns: 1, args: ['-s', '64', '-c', '1'] },
    { name: '64 B', unit: 'msgs', conns: 100, args: ['-s', '64', '-c', '100'] },
    { name: '16 KB', unit: 'msgs', conns: 1, args: ['-s', '16384', '-c', '1'] },
    { name: '16 KB', unit: 'msgs', conns: 100, args: ['-s', '16384', '-c', '100'] },
  ];
  printMachine('asyncoro TLS benchmark');
  console.log(`openssl: ${native.tls.openssl.version ?? 'not usable'} (Node's), load generator on the system's libssl`);
  console.log(`certs:   ${keyType === 'rsa' ? 'RSA 2048' : 'ECDSA P-256'}; TLS 1.3 (X25519), full handshakes, the client does not verify`);
  console.log(`load:    bench/tls/tlsloadgen.c, ${seconds} s measured after 1 s of warm-up, one message in flight per connection`);
  console.log(`rounds:  ${rounds}, servers taking turns; each row is its round with the least CPU per operation\n`);

  const running: Server[] = [];
  const best = new Map<string, { rate: number; us: number; p50: number; p99: number }>();
  try {
    for (const [label, argv] of chosen) running.push(await start(label, argv));
    for (let round = 0; round < rounds; round++) {
      for (const l of loads) {
        for (const server of running) {
          // CPU is read around the whole run; the warm-up second is in it, and so are its operations.
          const before = cpuSeconds(server.proc.pid!);
          const r = await load(loadgen, server.port, l.args);
          const cpu = cpuSeconds(server.proc.pid!) - before;
          if (r.mismatches !== 0) throw new Error(`${server.label}: ${r.mismatches} bytes came back wrong`);
          const us = (cpu / (r.per_sec * (seconds + 1))) * 1e6;
          const key = `${server.label}|${l.name}/${l.conns}`;
          const had = best.get(key);
          if (had === undefined || us < had.us) best.set(key, { rate: r.per_sec, us, p50: r.p50_us, p99: r.p99_us });
        }
      }
    }
  } finally {
    for (const server of running) server.proc.kill('SIGKILL');
  }
  const rows: string[][] = [];
  const ref = new Map<string, { cpu: number; rate: number }>();
  for (const server of running) {
    for (const l of loads) {
      const key = `${l.name}/${l.conns}`;
      const b = best.get(`${server.label}|${key}`)!;
      if (server.label === 'node tls') ref.set(key, { cpu: b.us, rate: b.rate });
      rows.push([server.label, l.name, String(l.conns), `${fmtRate(b.rate)} ${l.unit}/s`, b.us.toFixed(1), `${b.p50}`, `${b.p99}`, key]);
    }
  }
  const head = ['server', 'load', 'conns', 'rate', 'CPU µs/op', 'p50 µs', 'p99 µs', 'ops/CPU-s vs node', 'rate vs node'];
  const table = rows.map((r) => {
    const node = ref.get(r[7]!);
    if (node === undefined) return [...r.slice(0, 7), '', ''];
    return [...r.slice(0, 7), `${(node.cpu / Number(r[4])).toFixed(2)}x`, `${(parseRate(r[3]!) / node.rate).toFixed(2)}x`];
  });
  printTable(head, table, 3);
  console.log("\nCPU µs/op: the server process's user + system time over the run divided by the operations it served");
  console.log('(a handshake includes its 1-byte echo and the connection\'s setup and teardown). Rates depend on');
  console.log('the load generator, which shares the machine; CPU per operation is the fairer comparison.');
}

function parseRate(s: string): number {
  const m = /^([\d.]+)\s*(k|M)?/.exec(s)!;
  return Number(m[1]) * (m[2] === 'M' ? 1e6 : m[2] === 'k' ? 1e3 : 1);
}

function fmtRate(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
