/**
 * `AsyncFile` and `AsyncPipe`: pipes, FIFOs, terminals and child processes through the
 * scheduler's own poller.
 *
 * An `AsyncFile` owns a non-blocking fd and works like a stream socket: each call tries the
 * system call first and waits for readiness only when the kernel says EAGAIN (so a regular file,
 * which is always ready, never waits). An `AsyncPipe` is a child process whose stdin, stdout and
 * stderr are such files: the pipes are made here, non-blocking on our side and blocking on the
 * child's, and handed to Node's `child_process.spawn` as plain fds, so Node never reads them.
 * The child's exit is waited for through a pidfd (Linux 5.3+), readable once it has exited, so
 * `wait()` works in every scheduler mode, exclusive included; the status is read without reaping
 * the child, which stays Node's to reap. Where there is no pidfd, `wait()` listens for Node's
 * `exit` event instead (integrated and thread modes).
 *
 * @module
 */
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, openSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { native } from '../native/binding.js';
import { EV } from '../core/poller.js';
import { PENDING, Suspend, running, type Op } from '../core/op.js';
import { spawn, type Coro } from '../core/coro.js';
import type { Scheduler } from '../core/scheduler.js';
import { NotInCoroError, SystemError, TimeoutError } from '../core/errors.js';
import { FileClosedError } from './errors.js';

const EAGAIN = native.errno['EAGAIN']!;
const ENOENT = native.errno['ENOENT']!;
const EACCES = native.errno['EACCES']!;
const ECHILD = native.errno['ECHILD']!;
const SCRATCH = 65536;
const EMPTY = Buffer.alloc(0);
const NEWLINE = 0x0a;

let shared: Buffer | undefined;
/** One read buffer for every file of this thread: reads copy out what arrived before anything can suspend. */
function scratch(): Buffer {
  return (shared ??= Buffer.allocUnsafeSlow(SCRATCH));
}

/** Per-operation options. */
export interface FileOpOptions {
  /** Milliseconds before the operation ends with a {@link TimeoutError}. */
  readonly timeout?: number;
}

/** How a child process ended: `code` when it exited, `signal` when a signal ended it. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What {@link AsyncPipe.communicate} returns. */
export interface Communicated extends ExitStatus {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

/**
 * Where a child's stdin, stdout or stderr goes: `'pipe'` (an {@link AsyncFile} on our side),
 * `'ignore'` (`/dev/null`), `'inherit'` (ours), an `AsyncFile` handed over to the child (for
 * example the stdout of the previous process of a pipeline; it is closed on our side), or an fd
 * that stays ours.
 */
export type StdioOption = 'pipe' | 'ignore' | 'inherit' | AsyncFile | number;

/** Options of {@link AsyncPipe.spawn}. */
export interface PipeSpawnOptions {
  readonly cwd?: string;
  /** The child's environment; default ours. */
  readonly env?: NodeJS.ProcessEnv;
  /** Default `'pipe'`. */
  readonly stdin?: StdioOption;
  /** Default `'pipe'`. */
  readonly stdout?: StdioOption;
  /** Default `'pipe'`. */
  readonly stderr?: StdioOption;
}

function checkOpts(opts: FileOpOptions | undefined): number | undefined {
  const t = opts?.timeout;
  if (t !== undefined && (typeof t !== 'number' || !(t >= 0))) throw new RangeError(`timeout must be a number >= 0, got ${String(t)}`);
  return t;
}

function currentCoro(what: string): Coro<unknown> {
  if (running === null) throw new NotInCoroError(what);
  return running;
}

/** The wait of one file in one direction, made once per file (waiting allocates nothing). */
class FileWait extends Suspend<number> {
  fd = -1;
  timeout: number | undefined = undefined;
  limit: number | undefined = undefined;
  deadline = NaN;
  what = '';
  waiter: Coro<unknown> | null = null;
  sched: Scheduler | null = null;
  constructor(readonly dir: number) {
    super();
  }
  begin(timeout: number | undefined): void {
    this.limit = timeout;
    this.deadline = NaN;
  }
  _start(c: Coro<unknown>): unknown {
    // Every call waits only after its system call said EAGAIN, as a persistent
    // (edge-triggered where the backend has it) registration needs.
    c._s._watchFd(c, this.fd, this.dir, true);
    this.sched = c._s;
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    this.waiter = c;
    return PENDING;
  }
  override _timeout(): unknown {
    throw new TimeoutError(this.what, this.limit ?? this.timeout!);
  }
  override _cancel(c: Coro<unknown>): void {
    c._s._unwatchFd(c, this.fd);
  }
}

/**
 * An asynchronous file over a pollable fd: a pipe end, a FIFO, a terminal, a character device
 * (a regular file works too and never waits). One coroutine may read while another writes.
 *
 * @example
 * ```ts
 * const [r, w] = AsyncFile.pipe();
 * spawn(function* () { yield* w.write('hello\nworld\n'); w.close(); });
 * spawn(function* () {
 *   for (let line; (line = yield* r.readline()) !== '';) console.log(line.trimEnd());
 *   r.close();
 * });
 * ```
 */
export class AsyncFile {
  private _fd: number;
  private readonly owned: boolean;
  private closed = false;
  private readonly rop = new FileWait(EV.READ);
  private readonly wop = new FileWait(EV.WRITE);
  private pending: Buffer | undefined;
  private received = 0;
  private sent = 0;

  private constructor(fd: number, owned: boolean) {
    this._fd = fd;
    this.owned = owned;
  }

  /**
   * Wraps an open fd, which is made non-blocking. With `close: false` the fd stays the caller's:
   * {@link close} then only stops using it.
   */
  static fromFd(fd: number, options: { close?: boolean } = {}): AsyncFile {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`fd must be an integer >= 0, got ${fd}`);
    const rc = native.setNonBlocking(fd, true);
    if (rc < 0) throw new SystemError('fcntl(O_NONBLOCK)', rc);
    return new AsyncFile(fd, options.close !== false);
  }

  /** A new pipe: `[reader, writer]`. */
  static pipe(): [AsyncFile, AsyncFile] {
    const fds = new Int32Array(2);
    const rc = native.pipe(fds);
    if (rc < 0) throw new SystemError('pipe', rc);
    return [new AsyncFile(fds[0]!, true), new AsyncFile(fds[1]!, true)];
  }

  /**
   * Opens a path (a FIFO, a device, a file) non-blocking: `flags` as for `fs.open` (`'r'`, `'w'`,
   * `'a'`, `'r+'`...). Opening a FIFO for writing with no reader is `ENXIO`.
   */
  static open(path: string, flags: string | number = 'r'): AsyncFile {
    if (typeof path !== 'string' || path === '') throw new TypeError('AsyncFile.open: path must be a non-empty string');
    let fd: number;
    try {
      fd = openSync(path, openFlags(flags) | fsConstants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      const errno = native.errno[code];
      if (errno !== undefined) throw new SystemError(`open ${path}`, -errno);
      throw e;
    }
    return new AsyncFile(fd, true);
  }

  /** The fd, or -1 once closed. */
  get fd(): number {
    return this._fd;
  }

  /** Whether {@link close} was called (or the fd was handed to a child process). */
  get isClosed(): boolean {
    return this.closed;
  }

  private fdFor(what: string): number {
    if (this.closed) throw new FileClosedError(what);
    return this._fd;
  }

  private wait(op: FileWait, what: string): Op<number> {
    op.fd = this._fd;
    op.what = what;
    if (op.limit === undefined) op.timeout = undefined;
    else {
      const now = currentCoro(what)._s.clock.now();
      if (Number.isNaN(op.deadline)) op.deadline = now + op.limit;
      const left = op.deadline - now;
      op.timeout = left > 0 ? left : 0;
    }
    return op;
  }

  private afterWait(op: FileWait, what: string): void {
    op.waiter = null;
    if (this.closed) throw new FileClosedError(what);
  }

  private takePending(n: number): Buffer {
    const p = this.pending!;
    if (p.length <= n) {
      this.pending = undefined;
      return p;
    }
    this.pending = p.subarray(n);
    return p.subarray(0, n);
  }

  /** One read of up to `n` bytes into a buffer of its own: the bytes, EMPTY at EOF. */
  private *readSome(n: number, what: string): Generator<unknown, Buffer, unknown> {
    for (;;) {
      const fd = this.fdFor(what);
      const into = n <= SCRATCH ? scratch() : Buffer.allocUnsafe(n);
      const got = native.read(fd, into, 0, n);
      if (got > 0) {
        this.received += got;
        // Copy out of the shared buffer, and out of a large one that came back mostly empty.
        return into === shared || got < n >> 1 ? Buffer.from(into.subarray(0, got)) : into.subarray(0, got);
      }
      if (got === 0) return EMPTY;
      if (got !== -EAGAIN) throw new SystemError('read', got);
      yield* this.wait(this.rop, what);
      this.afterWait(this.rop, what);
    }
  }

  /**
   * Reads up to `n` bytes: what is there (at least one byte), or an empty Buffer at the end of
   * the file (the writer closed it).
   *
   * @example
   * ```ts
   * const chunk: Buffer = yield* proc.stdout!.read(65536);
   * ```
   */
  *read(n: number, opts?: FileOpOptions): Generator<unknown, Buffer, unknown> {
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`read: size must be an integer from 0 to 2^31-1, got ${n}`);
    this.rop.begin(checkOpts(opts));
    if (n === 0) return EMPTY;
    if (this.pending !== undefined) return this.takePending(n);
    return yield* this.readSome(n, 'read');
  }

  /**
   * Reads until the end of the file and returns everything.
   *
   * @example
   * ```ts
   * const all: Buffer = yield* file.readAll();
   * ```
   */
  *readAll(opts?: FileOpOptions): Generator<unknown, Buffer, unknown> {
    this.rop.begin(checkOpts(opts));
    const chunks: Buffer[] = [];
    let size = 0;
    if (this.pending !== undefined) {
      chunks.push(this.pending);
      size = this.pending.length;
      this.pending = undefined;
    }
    for (;;) {
      const b = yield* this.readSome(SCRATCH * 4, 'readAll');
      if (b.length === 0) break;
      chunks.push(b);
      size += b.length;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
  }

  /**
   * Reads one line, decoded as UTF-8, with its `'\n'`; the last line may lack it, and an empty
   * string means the end of the file. Bytes read past the line stay buffered for the next read.
   *
   * @example
   * ```ts
   * for (let line; (line = yield* proc.readline()) !== '';) handle(line.trimEnd());
   * ```
   */
  *readline(opts?: FileOpOptions): Generator<unknown, string, unknown> {
    this.rop.begin(checkOpts(opts));
    let acc = this.pending;
    this.pending = undefined;
    let searched = 0;
    for (;;) {
      if (acc !== undefined) {
        const i = acc.indexOf(NEWLINE, searched);
        if (i >= 0) {
          if (i + 1 < acc.length) this.pending = acc.subarray(i + 1);
          return acc.toString('utf8', 0, i + 1);
        }
        searched = acc.length;
      }
      let b: Buffer;
      try {
        b = yield* this.readSome(SCRATCH, 'readline');
      } catch (e) {
        // Nothing read is lost to a timeout: the partial line waits for the next read.
        if (e instanceof TimeoutError && !this.closed) this.pending = acc;
        throw e;
      }
      if (b.length === 0) return acc !== undefined ? acc.toString('utf8') : '';
      acc = acc === undefined ? b : Buffer.concat([acc, b]);
    }
  }

  /**
   * Writes all of `data` (waiting while the pipe is full) and returns its length. A reader that
   * has gone away is a SystemError `'EPIPE'`.
   *
   * @example
   * ```ts
   * yield* proc.stdin!.write('some input\n');
   * ```
   */
  *write(data: Uint8Array | string, opts?: FileOpOptions): Generator<unknown, number, unknown> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    if (!(buf instanceof Uint8Array)) throw new TypeError('write: data must be a Buffer, Uint8Array or string');
    this.wop.begin(checkOpts(opts));
    let off = 0;
    while (off < buf.length) {
      const n = native.write(this.fdFor('write'), buf, off, buf.length - off);
      if (n >= 0) {
        off += n;
        this.sent += n;
        continue;
      }
      if (n !== -EAGAIN) throw new SystemError('write', n);
      yield* this.wait(this.wop, 'write');
      this.afterWait(this.wop, 'write');
    }
    return buf.length;
  }

  /**
   * Closes the file (a reader of the other end of a pipe then sees EOF). A coroutine waiting in
   * an operation on it gets a {@link FileClosedError}. Idempotent.
   */
  close(): void {
    this.release(true);
  }

  /** @internal The fd was handed to a child process: stop using it here and close our copy. */
  _handOver(): number {
    const fd = this.fdFor('hand over to a child process');
    const dup = native.dup(fd);
    if (dup < 0) throw new SystemError('dup', dup);
    this.release(true);
    return dup;
  }

  private release(closeFd: boolean): void {
    if (this.closed) return;
    this.closed = true;
    for (const op of [this.rop, this.wop]) {
      const c = op.waiter;
      op.waiter = null;
      if (c !== null && c._pendingOp() === op) c.throw(new FileClosedError(op.what));
    }
    const fd = this._fd;
    this._fd = -1;
    this.pending = undefined;
    for (const op of [this.rop, this.wop]) {
      if (op.sched !== null) op.sched._forgetFd(fd);
      op.sched = null;
    }
    if (closeFd && this.owned) native.close(fd);
  }

  /** Byte counters. */
  statistics(): { bytesRead: number; bytesWritten: number } {
    return { bytesRead: this.received, bytesWritten: this.sent };
  }

  toString(): string {
    return `AsyncFile(fd ${this._fd}${this.closed ? ', closed' : ''})`;
  }
}

function openFlags(flags: string | number): number {
  if (typeof flags === 'number') return flags;
  const c = fsConstants;
  switch (flags) {
    case 'r':
      return c.O_RDONLY;
    case 'r+':
      return c.O_RDWR;
    case 'w':
      return c.O_WRONLY | c.O_CREAT | c.O_TRUNC;
    case 'w+':
      return c.O_RDWR | c.O_CREAT | c.O_TRUNC;
    case 'a':
      return c.O_WRONLY | c.O_CREAT | c.O_APPEND;
    case 'a+':
      return c.O_RDWR | c.O_CREAT | c.O_APPEND;
    default:
      throw new TypeError(`AsyncFile.open: unknown flags ${JSON.stringify(flags)}`);
  }
}

const SIGNAL_NAMES: Record<number, NodeJS.Signals> = {};
for (const [name, num] of Object.entries(osConstants.signals)) SIGNAL_NAMES[num] ??= name as NodeJS.Signals;

/** Finds `cmd` as the child would (on its PATH) so that a missing command is an error at the call. */
function findCommand(cmd: string, env: NodeJS.ProcessEnv, cwd: string | undefined): void {
  const usable = (p: string): number => {
    try {
      if (!statSync(p).isFile()) return -EACCES;
      accessSync(p, fsConstants.X_OK);
      return 0;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EACCES' ? -EACCES : -ENOENT;
    }
  };
  if (cmd.includes('/')) {
    const rc = usable(isAbsolute(cmd) ? cmd : resolvePath(cwd ?? process.cwd(), cmd));
    if (rc < 0) throw new SystemError(`spawn ${cmd}`, rc);
    return;
  }
  let err = -ENOENT;
  for (const dir of (env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (dir === '') continue;
    const rc = usable(join(isAbsolute(dir) ? dir : resolvePath(cwd ?? process.cwd(), dir), cmd));
    if (rc === 0) return;
    if (rc === -EACCES) err = rc;
  }
  throw new SystemError(`spawn ${cmd}`, err);
}

/** Waits for the child's exit: the pidfd's readiness, or Node's `exit` event. */
class ExitWait extends Suspend<number> {
  timeout: number | undefined = undefined;
  limit = 0;
  waiter: Coro<unknown> | null = null;
  watching = false;
  constructor(readonly pipe: AsyncPipe) {
    super();
  }
  _start(c: Coro<unknown>): unknown {
    const pidfd = this.pipe._pidfd;
    if (pidfd >= 0) {
      c._s._watchFd(c, pidfd, EV.READ, false);
      this.watching = true;
    }
    this.waiter = c;
    if (this.timeout !== undefined) c._s._addTimer(c, this.timeout);
    return PENDING;
  }
  override _timeout(): unknown {
    throw new TimeoutError(`wait for process ${this.pipe.pid}`, this.limit);
  }
  override _cancel(c: Coro<unknown>): void {
    this.waiter = null;
    if (this.watching) c._s._unwatchFd(c, this.pipe._pidfd);
    this.watching = false;
  }
  /** Node's exit event came: wake the waiter if the pidfd has not. */
  exited(): void {
    const c = this.waiter;
    if (c === null || c._pendingOp() !== this) return;
    this._cancel(c);
    c._s._wake(c, c._q, 0, false);
  }
}

/**
 * A child process with its stdin, stdout and stderr as {@link AsyncFile}s.
 *
 * @example
 * ```ts
 * spawn(function* () {
 *   const p = AsyncPipe.spawn('sort', ['-r']);
 *   const { stdout, code } = yield* p.communicate('a\nb\nc\n');
 *   console.log(stdout.toString(), code); // "c\nb\na\n" 0
 *
 *   // A pipeline: the first process's stdout is the second's stdin, pipe to pipe in the kernel.
 *   const [gen, count] = AsyncPipe.pipeline([['seq', ['1', '100000']], ['wc', ['-l']]]);
 *   console.log((yield* count!.readline()).trim()); // "100000"
 *   yield* gen!.wait();
 *   yield* count!.wait();
 * });
 * ```
 */
export class AsyncPipe {
  /** The child's pid. */
  readonly pid: number;
  /** Our end of the child's stdin, when it is a pipe. */
  readonly stdin: AsyncFile | null;
  /** Our end of the child's stdout, when it is a pipe. */
  readonly stdout: AsyncFile | null;
  /** Our end of the child's stderr, when it is a pipe. */
  readonly stderr: AsyncFile | null;
  /** @internal The pidfd that becomes readable at exit, or -1. */
  _pidfd = -1;
  private readonly child: ChildProcess;
  private status: ExitStatus | null = null;
  private readonly exitWait = new ExitWait(this);
  private pidfdSched: Scheduler | null = null;

  private constructor(child: ChildProcess, stdin: AsyncFile | null, stdout: AsyncFile | null, stderr: AsyncFile | null) {
    this.child = child;
    this.pid = child.pid!;
    this.stdin = stdin;
    this.stdout = stdout;
    this.stderr = stderr;
    const fd = native.pidfdOpen(this.pid);
    if (fd >= 0) this._pidfd = fd;
    child.once('exit', (code, signal) => {
      this.status ??= { code, signal };
      this.exitWait.exited();
    });
    child.on('error', () => {
      // Errors after a successful spawn (a kill() that failed) are reported by the call itself.
    });
  }

  /**
   * Starts `cmd` with `args`. A command that is not found or not executable is a SystemError
   * (`'ENOENT'`, `'EACCES'`) at the call.
   *
   * @example
   * ```ts
   * const p = AsyncPipe.spawn('ls', ['-l'], { cwd: '/tmp', stderr: 'inherit' });
   * ```
   */
  static spawn(cmd: string, args: readonly string[] = [], options: PipeSpawnOptions = {}): AsyncPipe {
    if (typeof cmd !== 'string' || cmd === '') throw new TypeError('AsyncPipe.spawn: cmd must be a non-empty string');
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new TypeError('AsyncPipe.spawn: args must be an array of strings');
    const env = options.env ?? process.env;
    findCommand(cmd, env, options.cwd);
    const ours: (AsyncFile | null)[] = [null, null, null];
    const theirs: number[] = [];
    const stdio: ('ignore' | 'inherit' | number)[] = [];
    const specs = [options.stdin ?? 'pipe', options.stdout ?? 'pipe', options.stderr ?? 'pipe'];
    try {
      for (let i = 0; i < 3; i++) {
        const spec = specs[i]!;
        if (spec === 'pipe') {
          const [r, w] = AsyncFile.pipe();
          const [mine, child] = i === 0 ? [w, r] : [r, w];
          ours[i] = mine;
          // The child's end is blocking, as programs expect of their stdio: only our end is not.
          const fd = child._handOver();
          native.setNonBlocking(fd, false);
          theirs.push(fd);
          stdio.push(fd);
        } else if (spec instanceof AsyncFile) {
          const fd = spec._handOver();
          native.setNonBlocking(fd, false);
          theirs.push(fd);
          stdio.push(fd);
        } else if (spec === 'ignore' || spec === 'inherit') {
          stdio.push(spec);
        } else if (typeof spec === 'number' && Number.isInteger(spec) && spec >= 0) {
          stdio.push(spec);
        } else {
          throw new TypeError(`AsyncPipe.spawn: stdio must be 'pipe', 'ignore', 'inherit', an AsyncFile or an fd, got ${String(spec)}`);
        }
      }
      const child = spawnChild(cmd, [...args], { cwd: options.cwd, env, stdio });
      if (child.pid === undefined) {
        // Checked above, so this is a race with the file system or a resource limit (EAGAIN,
        // EMFILE): Node reports it on the next tick; it is thrown here without waiting.
        child.on('error', () => {});
        throw new SystemError(`spawn ${cmd}`, -(native.errno['EAGAIN'] ?? 11));
      }
      return new AsyncPipe(child, ours[0], ours[1], ours[2]);
    } catch (e) {
      for (const f of ours) f?.close();
      throw e;
    } finally {
      for (const fd of theirs) native.close(fd);
    }
  }

  /**
   * Starts a pipeline, each process's stdout feeding the next one's stdin through a kernel pipe
   * (the data never passes through JavaScript). The first process's stdin and the last one's
   * stdout are pipes of ours unless `options` say otherwise; stderr goes as `options.stderr`
   * (default `'inherit'`).
   *
   * @example
   * ```ts
   * const ps = AsyncPipe.pipeline([['cat', ['/etc/services']], ['grep', ['tcp']], ['wc', ['-l']]]);
   * const n = Number(yield* ps.at(-1)!.readline());
   * ```
   */
  static pipeline(
    commands: readonly (readonly [cmd: string, args?: readonly string[]])[],
    options: Omit<PipeSpawnOptions, 'stdout'> & { stdout?: StdioOption } = {},
  ): AsyncPipe[] {
    if (!Array.isArray(commands) || commands.length === 0) throw new TypeError('AsyncPipe.pipeline: commands must be a non-empty array of [cmd, args]');
    const out: AsyncPipe[] = [];
    try {
      for (let i = 0; i < commands.length; i++) {
        const [cmd, args] = commands[i]!;
        const last = i === commands.length - 1;
        out.push(
          AsyncPipe.spawn(cmd, args ?? [], {
            ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
            ...(options.env !== undefined ? { env: options.env } : {}),
            stdin: i === 0 ? (options.stdin ?? 'pipe') : out[i - 1]!.stdout!,
            stdout: last ? (options.stdout ?? 'pipe') : 'pipe',
            stderr: options.stderr ?? 'inherit',
          }),
        );
      }
    } catch (e) {
      for (const p of out) {
        p.kill('SIGKILL');
        p.close();
      }
      throw e;
    }
    return out;
  }

  /** Reads up to `n` bytes of the child's stdout; empty at EOF. */
  read(n: number, opts?: FileOpOptions): Op<Buffer> {
    return this.need(this.stdout, 'stdout').read(n, opts);
  }

  /** Reads one line of the child's stdout (see {@link AsyncFile.readline}); `''` at EOF. */
  readline(opts?: FileOpOptions): Op<string> {
    return this.need(this.stdout, 'stdout').readline(opts);
  }

  /** Writes all of `data` to the child's stdin. */
  write(data: Uint8Array | string, opts?: FileOpOptions): Op<number> {
    return this.need(this.stdin, 'stdin').write(data, opts);
  }

  /** Closes our end of the child's stdin: the child reads EOF. */
  closeStdin(): void {
    this.stdin?.close();
  }

  private need(f: AsyncFile | null, which: string): AsyncFile {
    if (f === null) throw new FileClosedError(`the child's ${which} is not a pipe`);
    return f;
  }

  /**
   * Sends `input` (if any) to the child's stdin and closes it, reads its stdout and stderr to the
   * end, all at once, and waits for it to exit. A child that exits without reading its input is
   * not an error. With `timeout`, a {@link TimeoutError} after that many ms (the child is left
   * running: kill it if need be).
   *
   * @example
   * ```ts
   * const { stdout, stderr, code } = yield* AsyncPipe.spawn('tr', ['a-z', 'A-Z']).communicate('shout');
   * ```
   */
  *communicate(input?: Uint8Array | string, opts?: FileOpOptions): Generator<unknown, Communicated, unknown> {
    const timeout = checkOpts(opts);
    currentCoro('communicate');
    const self = this;
    const worker = spawn(function* communicate(): Generator<unknown, Communicated, unknown> {
      const helpers: Coro<unknown>[] = [];
      try {
        const stdin = self.stdin;
        if (stdin !== null && !stdin.isClosed) {
          if (input === undefined) stdin.close();
          else {
            helpers.push(
              spawn(function* feed() {
                try {
                  yield* stdin.write(input);
                } catch (e) {
                  if (!(e instanceof SystemError && e.code === 'EPIPE')) throw e;
                } finally {
                  stdin.close();
                }
              }),
            );
          }
        }
        const stderr = self.stderr;
        const errReader = stderr !== null && !stderr.isClosed ? spawn(function* drain() { return yield* stderr.readAll(); }) : null;
        if (errReader !== null) helpers.push(errReader);
        const stdout = self.stdout !== null && !self.stdout.isClosed ? yield* self.stdout.readAll() : EMPTY;
        const errOut = errReader !== null ? ((yield* errReader.finish()) as Buffer) : EMPTY;
        for (const h of helpers) yield* h.finish();
        const status = yield* self.wait();
        return { stdout, stderr: errOut, code: status.code, signal: status.signal };
      } finally {
        for (const h of helpers) h.terminate();
      }
    });
    try {
      return yield* worker.finish(timeout);
    } catch (e) {
      worker.terminate();
      if (e instanceof TimeoutError) throw new TimeoutError(`communicate with process ${this.pid}`, timeout!);
      throw e;
    }
  }

  /**
   * The exit status if the child has exited, else null; never waits.
   *
   * @example
   * ```ts
   * if (p.poll() === null) p.kill();
   * ```
   */
  poll(): ExitStatus | null {
    if (this.status === null) {
      const v = native.exitStatus(this.pid);
      if (v >= 512) this.status = { code: null, signal: SIGNAL_NAMES[v - 512] ?? null };
      else if (v >= 256) this.status = { code: v - 256, signal: null };
      else if (v < 0 && v !== -ECHILD) throw new SystemError('waitid', v);
      // -ECHILD: Node has reaped the child; its exit event has then run, or is about to.
    }
    if (this.status !== null) this.releasePidfd();
    return this.status;
  }

  /**
   * Waits for the child to exit and returns how it ended; a {@link TimeoutError} after `timeout` ms.
   *
   * @example
   * ```ts
   * const { code, signal } = yield* p.wait();
   * ```
   */
  *wait(timeout?: number): Generator<unknown, ExitStatus, unknown> {
    if (timeout !== undefined && !(timeout >= 0)) throw new RangeError(`timeout must be a number >= 0, got ${timeout}`);
    const c = currentCoro('wait');
    const deadline = timeout !== undefined ? c._s.clock.now() + timeout : Infinity;
    for (;;) {
      const st = this.poll();
      if (st !== null) return st;
      const op = this.exitWait;
      if (op.waiter !== null && op.waiter._pendingOp() === op) throw new TypeError(`process ${this.pid} already has ${String(op.waiter)} waiting for it`);
      op.limit = timeout ?? 0;
      op.timeout = timeout !== undefined ? Math.max(0, deadline - c._s.clock.now()) : undefined;
      if (this._pidfd >= 0) this.pidfdSched = c._s;
      yield* op;
    }
  }

  /** Sends `signal` (default SIGTERM) to the child; false if it has already exited. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.status !== null) return false;
    return this.child.kill(signal);
  }

  /** Whether the child has exited (as far as known without waiting). */
  get exited(): boolean {
    return this.poll() !== null;
  }

  /** Closes our ends of the child's pipes (the child is not killed). */
  close(): void {
    this.stdin?.close();
    this.stdout?.close();
    this.stderr?.close();
    if (this.status !== null) this.releasePidfd();
  }

  private releasePidfd(): void {
    const fd = this._pidfd;
    if (fd < 0) return;
    const w = this.exitWait.waiter;
    if (w !== null && w._pendingOp() === this.exitWait) return; // still watched: released after it wakes
    this._pidfd = -1;
    this.pidfdSched?._forgetFd(fd);
    this.pidfdSched = null;
    native.close(fd);
  }

  toString(): string {
    return `AsyncPipe(pid ${this.pid}${this.status !== null ? ', exited' : ''})`;
  }
}
