/**
 * The example programs run as a newcomer would run them, in child processes: the demos behind
 * `npm start`, the seed's TCP server with the echo client, the chat server with two clients, the
 * supervised worker tree, the UDP ping, and the TLS echo. They must keep working as the library
 * changes.
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

  for (const args of [[], ['--poller', 'poll', '--mode', 'exclusive'], ['--poller', 'select', '--mode', 'thread']]) {
    it(`coro-demo and socket-demo ${args.join(' ') || '(default backend)'}`, async () => {
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

  it('peers-demo: worker processes discover each other, run jobs, hear a broadcast, and one is killed', async () => {
    const run = await start('peers-demo.ts').done;
    expect(run.code, run.err).to.equal(0);
    for (const w of ['ada', 'brian', 'carol']) expect(run.out).to.match(new RegExp(`${w} is online`)).and.match(new RegExp(`${w} +heard "hello workers" \\(a Date came back as a Date\\)`));
    expect(run.out).to.match(/ada +knows brian, carol, coordinator/);
    expect(run.out).to.contain("carol's job failed: PeerLostError").and.contain('carol is offline').and.contain('2 jobs finished, 1 lost with its peer');
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
