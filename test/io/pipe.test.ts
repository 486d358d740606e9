/**
 * AsyncPipe and AsyncFile with real child processes (coreutils and sh) and real pipes and FIFOs:
 * large outputs, pipelines, exit statuses, children that die, timeouts, and the scheduler modes
 * where Node's event loop does not run.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, sleep, type Coro } from '../../lib/core/coro.js';
import { SystemError, TimeoutError } from '../../lib/core/errors.js';
import { AsyncFile, AsyncPipe } from '../../lib/io/pipe.js';
import { FileClosedError } from '../../lib/io/errors.js';
import { backends, type BackendName, type PollerMode } from '../../lib/core/poller.js';
import { closeSchedulers, makeScheduler, runCoro, type TestScheduler } from '../helpers/coro.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('io/AsyncPipe and AsyncFile', function () {
  this.timeout(60000);
  let t: TestScheduler;
  beforeEach(() => {
    t = makeScheduler();
  });
  afterEach(() => closeSchedulers());

  it('writes to a child, reads its output by size and by line, and gets its exit status', async () => {
    const out = await runCoro(t.sched, function* () {
      const p = AsyncPipe.spawn('cat');
      yield* p.write('first line\nsecond ');
      yield* p.write(Buffer.from('line\nno newline at the end'));
      p.closeStdin();
      const l1 = yield* p.readline();
      const some = yield* p.read(3);
      const l2 = yield* p.readline();
      const l3 = yield* p.readline();
      const eof = yield* p.readline();
      const eofRead = yield* p.read(10);
      const status = yield* p.wait();
      p.close();
      return { l1, some: some.toString(), l2, l3, eof, eofRead: eofRead.length, status };
    });
    expect(out).to.deep.equal({
      l1: 'first line\n',
      some: 'sec',
      l2: 'ond line\n',
      l3: 'no newline at the end',
      eof: '',
      eofRead: 0,
      status: { code: 0, signal: null },
    });
  });

  it('communicate() feeds stdin and collects stdout, stderr and the exit code', async () => {
    const out = await runCoro(t.sched, function* () {
      const upper = yield* AsyncPipe.spawn('tr', ['a-z', 'A-Z']).communicate('shout, please\n');
      const both = yield* AsyncPipe.spawn('sh', ['-c', 'echo to-out; echo to-err >&2; exit 3']).communicate();
      // A child that exits without reading its input is not an error.
      const deaf = yield* AsyncPipe.spawn('true').communicate(Buffer.alloc(1 << 20));
      return {
        upper: upper.stdout.toString(),
        out: both.stdout.toString(),
        err: both.stderr.toString(),
        code: both.code,
        deaf: deaf.code,
      };
    });
    expect(out).to.deep.equal({ upper: 'SHOUT, PLEASE\n', out: 'to-out\n', err: 'to-err\n', code: 3, deaf: 0 });
  });

  it('reads 100 MB from a two-process pipeline and every byte is right', async () => {
    const total = 100_000_000;
    const out = await runCoro(t.sched, function* () {
      // yes writes "abcdefghi\n" forever; head keeps the first 100 MB; yes then dies of SIGPIPE.
      const [yes, head] = AsyncPipe.pipeline([['yes', ['abcdefghi']], ['head', ['-c', String(total)]]]);
      const hash = createHash('sha256');
      let n = 0;
      for (;;) {
        const chunk = yield* head!.read(1 << 20);
        if (chunk.length === 0) break;
        hash.update(chunk);
        n += chunk.length;
      }
      const headStatus = yield* head!.wait();
      const yesStatus = yield* yes!.wait();
      head!.close();
      yes!.close();
      return { n, digest: hash.digest('hex'), headStatus, yesStatus };
    });
    const expected = createHash('sha256');
    const block = Buffer.from('abcdefghi\n'.repeat(100_000));
    for (let i = 0; i < total / block.length; i++) expected.update(block);
    expect(out.n).to.equal(total);
    expect(out.digest).to.equal(expected.digest('hex'));
    expect(out.headStatus).to.deep.equal({ code: 0, signal: null });
    expect(out.yesStatus).to.deep.equal({ code: null, signal: 'SIGPIPE' });
  });

  it('writes 100 MB into a child while reading its answer', async () => {
    const data = Buffer.alloc(100_000_000);
    for (let i = 0; i < data.length; i += 4096) data[i] = i & 0xff;
    const out = await runCoro(t.sched, function* () {
      const r = yield* AsyncPipe.spawn('sha256sum').communicate(data);
      return { text: r.stdout.toString().split(' ')[0], code: r.code };
    });
    expect(out).to.deep.equal({ text: sha(data), code: 0 });
  });

  it('a child that dies: its output ends, its status says the signal, writing to it is EPIPE', async () => {
    const out = await runCoro(t.sched, function* () {
      const p = AsyncPipe.spawn('sh', ['-c', 'printf partial; kill -9 $$']);
      const got = yield* p.stdout!.readAll();
      const status = yield* p.wait();
      let writeErr: unknown;
      try {
        yield* p.write('anyone there?\n');
      } catch (e) {
        writeErr = e;
      }
      p.close();
      const sleeper = AsyncPipe.spawn('sleep', ['30']);
      let timeout: unknown;
      try {
        yield* sleeper.wait(100);
      } catch (e) {
        timeout = e;
      }
      expect(sleeper.poll()).to.equal(null);
      expect(sleeper.kill('SIGTERM')).to.equal(true);
      const killed = yield* sleeper.wait();
      sleeper.close();
      return { got: got.toString(), status, writeErr, timeout, killed };
    });
    expect(out.got).to.equal('partial');
    expect(out.status).to.deep.equal({ code: null, signal: 'SIGKILL' });
    expect(out.writeErr).to.be.instanceOf(SystemError);
    expect((out.writeErr as SystemError).code).to.equal('EPIPE');
    expect(out.timeout).to.be.instanceOf(TimeoutError);
    expect(out.killed).to.deep.equal({ code: null, signal: 'SIGTERM' });
  });

  it('runs 8 children at once without one blocking another', async () => {
    const outs = await runCoro(t.sched, function* () {
      const cs: Coro<string>[] = [];
      for (let i = 0; i < 8; i++) {
        cs.push(
          spawn(function* () {
            const p = AsyncPipe.spawn('sh', ['-c', `sleep 0.${3 - (i % 3)}; echo child ${i}`]);
            const line = yield* p.readline();
            yield* p.wait();
            p.close();
            return line.trimEnd();
          }),
        );
      }
      const r: string[] = [];
      for (const c of cs) r.push(yield* c.finish());
      return r;
    });
    expect(outs).to.deep.equal(Array.from({ length: 8 }, (_, i) => `child ${i}`));
  });

  it('rejects a missing command, bad arguments and bad stdio at the call', () => {
    expect(() => AsyncPipe.spawn('no-such-command-here')).to.throw(SystemError).with.property('code', 'ENOENT');
    expect(() => AsyncPipe.spawn('./no/such/file')).to.throw(SystemError).with.property('code', 'ENOENT');
    expect(() => AsyncPipe.spawn('')).to.throw(TypeError);
    expect(() => AsyncPipe.spawn('cat', [1 as unknown as string])).to.throw(TypeError);
    expect(() => AsyncPipe.spawn('cat', [], { stdin: 'bogus' as 'pipe' })).to.throw(TypeError);
    expect(() => AsyncPipe.pipeline([])).to.throw(TypeError);
  });

  it('AsyncFile: pipes with timeouts that keep partial lines, close while waiting, FIFOs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'asyncoro-pipe-'));
    try {
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const plain = join(dir, 'plain.txt');
      writeFileSync(plain, 'line one\nline two\n');
      const out = await runCoro(t.sched, function* () {
        const [r, w] = AsyncFile.pipe();
        yield* w.write('part');
        let timedOut: unknown;
        try {
          yield* r.readline({ timeout: 50 });
        } catch (e) {
          timedOut = e;
        }
        yield* w.write('ial line\n');
        const line = yield* r.readline();
        const waiter = spawn(function* () {
          try {
            yield* r.read(10);
            return 'read something';
          } catch (e) {
            return e;
          }
        });
        yield* sleep(20);
        r.close();
        const closedErr = yield* waiter.finish();
        w.close();
        // A FIFO: the reader opens first (non-blocking), then a writer.
        const fr = AsyncFile.open(fifo, 'r');
        const fw = AsyncFile.open(fifo, 'w');
        const reading = spawn(function* () { return yield* fr.readAll(); });
        yield* fw.write('through the fifo');
        fw.close();
        const viaFifo = (yield* reading.finish()).toString();
        fr.close();
        // A regular file never waits.
        const f = AsyncFile.open(plain);
        const first = yield* f.readline();
        const rest = (yield* f.readAll()).toString();
        f.close();
        return { timedOut, line, closedErr, viaFifo, first, rest };
      });
      expect(out.timedOut).to.be.instanceOf(TimeoutError);
      expect(out.line).to.equal('partial line\n');
      expect(out.closedErr).to.be.instanceOf(FileClosedError);
      expect(out.viaFifo).to.equal('through the fifo');
      expect(out.first).to.equal('line one\n');
      expect(out.rest).to.equal('line two\n');
      expect(() => AsyncFile.open(join(dir, 'missing'))).to.throw(SystemError).with.property('code', 'ENOENT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const modes: [BackendName, PollerMode][] = [['epoll', 'exclusive'], ['poll', 'exclusive'], ['select', 'thread']];
  // The completion backend too, where this host has it.
  if (backends().some((b) => b.name === 'io_uring')) modes.push(['io_uring', 'integrated'], ['io_uring', 'exclusive']);
  for (const [poller, mode] of modes) {
    it(`works in ${mode} mode on ${poller}: pipes, a pipeline and exit statuses`, async () => {
      const s = makeScheduler({ poller, mode });
      const out = await runCoro(s.sched, function* () {
        const ps = AsyncPipe.pipeline([['seq', ['1', '200000']], ['sort', ['-rn']], ['head', ['-n', '3']]]);
        const top: string[] = [];
        for (let line; (line = yield* ps[2]!.readline()) !== '';) top.push(line.trimEnd());
        const statuses: (number | null)[] = [];
        for (const p of ps) {
          statuses.push((yield* p.wait()).code);
          p.close();
        }
        const c = yield* AsyncPipe.spawn('sh', ['-c', 'cat; exit 7']).communicate('echo');
        return { top, c: c.stdout.toString(), code: c.code, statuses };
      });
      expect(out.top).to.deep.equal(['200000', '199999', '199998']);
      expect(out.c).to.equal('echo');
      expect(out.code).to.equal(7);
      // sort may or may not see SIGPIPE from head; seq and head end normally.
      expect(out.statuses[2]).to.equal(0);
    });
  }
});
