/**
 * The example programs run as a newcomer would run them, in child processes: `npm start` (the
 * peers demo), `npm run demo:local` and its two demos on the other backends, the seed's TCP
 * server with the echo client, the chat server with two clients, the supervised worker tree, the
 * UDP ping, and the TLS echo. They must keep working as the library changes.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function start(file: string, args: string[] = []): { proc: ChildProcess; done: Promise<Run> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples', file), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const done = new Promise<Run>((resolve) => proc.on('exit', (code) => resolve({ code, out, err })));
  return { proc, done };
}

/** Runs `npm <args>` in the project, as a newcomer would. */
function npm(args: string[]): Promise<Run> {
  const proc = spawn('npm', args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  return new Promise<Run>((resolve) => proc.on('exit', (code) => resolve({ code, out, err })));
}

/** Resolves with the port a server prints in its "listening on 127.0.0.1:<port>" line. */
function listening(proc: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', () => reject(new Error(`exited before listening: ${out}`)));
  });
}

describe('examples', function () {
  this.timeout(60000);

  it('npm run demo:local: coro-demo and socket-demo on the default backend', async () => {
    const run = await npm(['run', 'demo:local']);
    expect(run.code, run.err).to.equal(0);
    expect(run.out).to.contain('ring done: 60,000 messages').and.contain('total correct').and.contain('pipe bytes via poller  100,000');
    expect(run.out).to.contain('connections served     1,000').and.contain('20,000, 1.0 MB echoed, every byte checked');
  });

  for (const args of [['--poller', 'poll', '--mode', 'exclusive'], ['--poller', 'select', '--mode', 'thread']]) {
    it(`coro-demo and socket-demo ${args.join(' ')}`, async () => {
      const coro = await start('coro-demo.ts', args).done;
      expect(coro.code, coro.err).to.equal(0);
      expect(coro.out).to.contain('ring done: 60,000 messages').and.contain('total correct').and.contain('pipe bytes via poller  100,000');
      const sock = await start('socket-demo.ts', args).done;
      expect(sock.code, sock.err).to.equal(0);
      expect(sock.out).to.contain('connections served     1,000').and.contain('20,000, 1.0 MB echoed, every byte checked');
    });
  }

  it('tls-echo: mutual TLS echo with client certificates', async () => {
    const run = await start('tls-echo.ts').done;
    expect(run.code, run.err).to.equal(0);
    expect(run.out).to.match(/20 clients x 20 messages over TLSv1\.3 \((native|node) engine\), every echo checked/);
    expect(run.out).to.contain('client certificates seen: CN=asyncoro test client');
  });

  it('npm start (peers-demo): workers discover each other, run monitored jobs, hear a broadcast; one is killed and its job runs again elsewhere', async () => {
    // Through npm itself, as the README says to run it.
    const { code, out, err } = await npm(['start']);
    expect(code, err).to.equal(0);
    expect(out).to.contain('tsx examples/peers-demo.ts');
    for (const w of ['ada', 'brian', 'carol']) expect(out).to.match(new RegExp(`${w} is online`)).and.match(new RegExp(`${w} +heard "hello workers" \\(a Date came back as a Date\\)`));
    expect(out).to.match(/ada +knows brian, carol, coordinator/);
    // The monitors: two normal ends with their results, one lost peer, and its job run again.
    expect(out).to.match(/monitor +ada's job ended normally on 127\.0\.0\.1:\d+: 338350/);
    expect(out).to.match(/monitor +brian's job ended normally on 127\.0\.0\.1:\d+: 2686700/);
    expect(out).to.match(/monitor +carol's job is lost with its peer: PeerLostError \(.*peer 127\.0\.0\.1:\d+ is offline\)/);
    expect(out).to.match(/started carol's job crunch\(300\) on (ada|brian)/);
    expect(out).to.match(/monitor +carol's job ended normally on 127\.0\.0\.1:\d+: 9045050/);
    expect(out).to.contain('carol is offline').and.contain('3 of 3 jobs done (1 run again after its peer was lost)');
  });

  it('tcp-server answers echo-client', async () => {
    const server = start('tcp-server.ts', ['0']);
    try {
      const port = await listening(server.proc);
      const client = await start('echo-client.ts', [String(port), '50', '20']).done;
      expect(client.code, client.err).to.equal(0);
      expect(client.out).to.contain('50 clients, 1000 round trips');
    } finally {
      server.proc.kill();
    }
  });

  it('chat-server relays a line from one client to the other', async () => {
    const server = start('chat-server.ts', ['0']);
    try {
      const port = await listening(server.proc);
      const a = connect(port, '127.0.0.1');
      await new Promise((r) => a.once('connect', r));
      const b = connect(port, '127.0.0.1');
      let got = '';
      const heard = new Promise<void>((resolve) =>
        b.on('data', (d) => {
          got += d;
          if (got.includes('hello all')) resolve();
        }),
      );
      await new Promise((r) => b.once('connect', r));
      // Give the server time to register b's writer before a speaks.
      await new Promise((r) => setTimeout(r, 200));
      a.write('hello all\n');
      await heard;
      expect(got).to.contain('guest1: hello all');
      a.destroy();
      b.destroy();
    } finally {
      server.proc.kill();
    }
  });

  it('supervisor-tree answers every job through injected crashes, then stops and exits by itself', async () => {
    const run = await start('supervisor-tree.ts', ['200']).done;
    expect(run.code, run.err).to.equal(0);
    expect(run.out)
      .to.contain('jobs answered          200 of 200')
      .and.contain('until the poison, the workers were the coroutines they were at the start')
      .and.contain('the process exits by itself');
  });
  for (const args of [[], ['--poller', 'poll', '--mode', 'exclusive']]) {
    it(`pool-demo: threads, SQLite and a pipeline ${args.join(' ') || '(default backend)'}`, async () => {
      const r = await start('pool-demo.ts', args).done;
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.contain('primes below 1,000,000    78,498').and.contain('distinct words by length  2:1 3:5 4:3 5:4 7:1');
      expect(r.out).to.contain('numbers with a 7 to 1e5   40,951').and.contain('sort -r                   cherry, banana, apple (exit 0)');
      expect(r.out).to.match(/ticker kept ticking +yes/);
    });
  }

  it('udp-ping gets ten pongs', async () => {
    const r = await start('udp-ping.ts').done;
    expect(r.code, r.err).to.equal(0);
    expect(r.out.match(/^pong \d+: \d+ µs$/gm)).to.have.length(10);
  });
});
