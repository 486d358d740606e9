/**
 * Idle-connection memory: how much resident memory one more idle TCP connection costs a server,
 * asyncoro (each connection a coroutine waiting in recv) against Node's `net` (each connection a
 * Socket with a 'data' listener), with 100,000 connections on loopback in one run. The clients
 * (bench/echo/idleconn.c) live in another process, spread over 127.0.0.x source addresses; both
 * processes get a raised fd limit through prlimit (this needs root or a high hard limit).
 *
 * Usage: npx tsx bench/idle.ts [--conns 100000] [--only node,epoll/integrated,...]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backends } from '../lib/core/poller.js';
import { option, printMachine, printTable } from './common.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const asked = Number(option('conns', '100000'));
const only = option('only', '').split(',').filter(Boolean);

/**
 * The fd limit the two processes run with: raised with prlimit to fit the connections where this
 * machine allows it; where it refuses (no CAP_SYS_RESOURCE, as in some sandboxes), the hard limit
 * there is, with the connection count cut to fit, and the table says so.
 */
function fdPlan(): { conns: number; prefix: string[]; note: string } {
  const want = asked + 10000;
  try {
    execFileSync('prlimit', [`--nofile=${want}:${want}`, 'true'], { stdio: 'ignore' });
    return { conns: asked, prefix: ['prlimit', `--nofile=${want}:${want}`], note: '' };
  } catch {
    const hard = Number(execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim());
    const conns = Math.min(asked, hard - 1000);
    return {
      conns,
      prefix: ['prlimit', `--nofile=${hard}:${hard}`],
      note: `the fd limit cannot be raised above ${hard} here (prlimit refused), so ${conns.toLocaleString('en')} connections, not ${asked.toLocaleString('en')}`,
    };
  }
}
const plan = fdPlan();
const conns = plan.conns;

function rssKB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function lineFrom(p: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    p.stdout!.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
    });
    p.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(label: string, serverArgs: string[], client: string): Promise<string[]> {
  const server = spawn(plan.prefix[0]!, [...plan.prefix.slice(1), process.execPath, '--expose-gc', '--import', 'tsx', join(root, 'bench', 'echo', 'server.ts'), ...serverArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = Number(await lineFrom(server, label));
    await sleep(500);
    const before = rssKB(server.pid!);
    const t0 = Date.now();
    const clients = spawn(plan.prefix[0]!, [...plan.prefix.slice(1), client, String(port), String(conns)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const ready = await lineFrom(clients, 'idleconn');
    if (ready !== `ready ${conns}`) throw new Error(`idleconn said ${ready}`);
    const connectMs = Date.now() - t0;
    // Let the server accept the last ones and settle.
    await sleep(3000);
    const after = rssKB(server.pid!);
    clients.stdin!.end();
    clients.kill('SIGKILL');
    const per = ((after - before) * 1024) / conns;
    return [label, `${(before / 1024).toFixed(1)}`, `${(after / 1024).toFixed(1)}`, per.toFixed(0), `${(conns / (connectMs / 1000) / 1000).toFixed(1)} k/s`];
  } finally {
    server.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  // Not under build/: node-gyp rebuild deletes that.
const out = join(root, 'build-bench');
  mkdirSync(out, { recursive: true });
  const client = join(out, 'idleconn');
  execFileSync('cc', ['-O2', '-Wall', '-o', client, join(root, 'bench', 'echo', 'idleconn.c')], { stdio: 'inherit' });
  const runs: [string, string[]][] = [['node net', ['node', 'idle']]];
  for (const b of backends()) runs.push([`asyncoro ${b.name}/${b.modes[0]}`, ['asyncoro', b.name, b.modes[0]!, 'idle']]);
  printMachine('asyncoro idle-connection memory');
  console.log(`load:    ${conns.toLocaleString('en')} idle connections from bench/echo/idleconn.c over 127.0.0.x`);
  if (plan.note !== '') console.log(`note:    ${plan.note}`);
  console.log('');
  const head = ['server', 'RSS before MB', 'RSS after MB', 'bytes/conn', 'accepted at'];
  const rows: string[][] = [];
  for (const [label, a] of runs) {
    if (only.length > 0 && !only.some((o) => label.includes(o))) continue;
    rows.push(await measure(label, a, client));
  }
  const node = rows.find((r) => r[0] === 'node net');
  const table = rows.map((r) => [...r, node ? `${(Number(node[3]) / Number(r[3])).toFixed(2)}x` : '']);
  head.push('less memory than node');
  printTable(head, table, 1);
  console.log('\nbytes/conn: the server\'s resident memory after the connections, minus before, divided by their number.');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
