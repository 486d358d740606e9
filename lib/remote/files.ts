/**
 * Files between peers: `sendFile(location, path, {dir, overwrite, timeout})` streams a file to a
 * peer, which writes it under its `destPath`; `delFile` removes one there.
 *
 * The receiver confines every file to its destination directory with a real path check: the
 * name is a single path component (no separator, not `.` or `..`), `dir` is relative, each
 * directory on the way is checked (lstat) as it is walked and made, and the real path of the
 * final directory (symlinks resolved) must still be inside the real destination directory. The
 * file is written to a fresh temporary name (created exclusively, never through a symlink) and
 * linked or renamed into place at the end, so a transfer that fails or is cut off leaves nothing
 * behind. The declared size and every chunk are checked against `maxFileSize`.
 *
 * File system calls here are synchronous (they are short: a stat, one write of a 64 KiB chunk).
 *
 * @module
 */
import { closeSync, constants, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readSync, realpathSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, isAbsolute, join, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkTimeout } from '../core/coro.js';
import { TimeoutError } from '../core/errors.js';
import { F } from './wire.js';
import { FileRefusedError } from './errors.js';
import { currentNetwork, type LocationLike, type Network } from './network.js';
import type { Peer } from './peer.js';

const CHUNK = 64 * 1024;

/** Options of {@link sendFile}. */
export interface SendFileOptions {
  /** A directory under the receiver's `destPath` (relative; made if missing). Default: `destPath` itself. */
  dir?: string;
  /** Replace a file of the same name there; default false (the transfer fails with `ERR_FILE_EXISTS`). */
  overwrite?: boolean;
  /** Milliseconds for the whole transfer. */
  timeout?: number;
}

interface Incoming {
  peer: Peer;
  fd: number;
  tmp: string;
  final: string;
  size: number;
  got: number;
  overwrite: boolean;
  error: FileRefusedError | null;
}

const transfers = new Map<number, Incoming>();
let nextTransfer = 0;

function refuse(msg: string, code: 'ERR_PATH_ESCAPE' | 'ERR_FILE_TOO_LARGE' | 'ERR_FILE_EXISTS' | 'ERR_FILE'): never {
  throw new FileRefusedError(msg, code);
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * The real directory for `dir` under the network's destination directory, made if missing, and
 * the checked file name. Throws FileRefusedError for anything that would leave it.
 */
function place(net: Network, dir: unknown, name: unknown, make: boolean): { dir: string; file: string } {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0')) {
    refuse(`bad file name ${JSON.stringify(name)}: a file name is one path component`, 'ERR_PATH_ESCAPE');
  }
  if (typeof dir !== 'string' || dir.includes('\0') || isAbsolute(dir) || dir.includes('\\')) {
    refuse(`bad directory ${JSON.stringify(dir)}: it must be relative to the destination directory`, 'ERR_PATH_ESCAPE');
  }
  const root = realpathSync(net.options.destPath);
  let at = root;
  for (const part of dir.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') refuse(`directory ${JSON.stringify(dir)} leaves the destination directory`, 'ERR_PATH_ESCAPE');
    const next = join(at, part);
    let st;
    try {
      st = lstatSync(next);
    } catch {
      st = undefined;
    }
    if (st === undefined) {
      if (!make) return { dir: next, file: join(next, name) };
      mkdirSync(next);
      at = next;
      continue;
    }
    if (st.isSymbolicLink()) {
      let real: string;
      try {
        real = realpathSync(next);
      } catch {
        refuse(`directory ${JSON.stringify(dir)} goes through a symlink that leads nowhere`, 'ERR_PATH_ESCAPE');
      }
      if (!inside(root, real)) refuse(`directory ${JSON.stringify(dir)} leads outside the destination directory (through a symlink)`, 'ERR_PATH_ESCAPE');
      at = real;
      continue;
    }
    if (!st.isDirectory()) refuse(`${JSON.stringify(part)} in ${JSON.stringify(dir)} is not a directory`, 'ERR_PATH_ESCAPE');
    at = next;
  }
  const real = realpathSync(at);
  if (!inside(root, real)) refuse(`directory ${JSON.stringify(dir)} leads outside the destination directory`, 'ERR_PATH_ESCAPE');
  const file = join(real, name);
  let st;
  try {
    st = lstatSync(file);
  } catch {
    st = undefined;
  }
  if (st !== undefined && !st.isFile()) refuse(`${JSON.stringify(name)} exists there and is not a regular file`, 'ERR_PATH_ESCAPE');
  return { dir: real, file };
}

function abort(id: number, t: Incoming): void {
  transfers.delete(id);
  try {
    closeSync(t.fd);
  } catch {
    // Closed already.
  }
  try {
    unlinkSync(t.tmp);
  } catch {
    // Gone already.
  }
}

/** @internal [FBEGIN, req, name, dir, size, overwrite]: answers with a transfer id. */
export function fileBegin(net: Network, p: Peer, req: number, name: unknown, dir: unknown, size: unknown, overwrite: unknown): void {
  try {
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) refuse('bad file size', 'ERR_FILE');
    if (size > net.options.maxFileSize) refuse(`a file of ${size} bytes is over the limit of ${net.options.maxFileSize}`, 'ERR_FILE_TOO_LARGE');
    const { dir: d, file } = place(net, dir, name, true);
    if (overwrite !== true) {
      let exists = true;
      try {
        lstatSync(file);
      } catch {
        exists = false;
      }
      if (exists) refuse(`${JSON.stringify(name)} exists (pass overwrite: true to replace it)`, 'ERR_FILE_EXISTS');
    }
    const tmp = join(d, `.${basename(file)}.${randomBytes(6).toString('hex')}.part`);
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    const id = (nextTransfer = (nextTransfer + 1) & 0x3fffffff || 1);
    transfers.set(id, { peer: p, fd, tmp, final: file, size, got: 0, overwrite: overwrite === true, error: null });
    p.reply(req, id);
  } catch (e) {
    p.fail(req, e);
  }
}

/** @internal [FDATA, id, chunk]. */
export function fileData(net: Network, p: Peer, id: number, chunk: Uint8Array): void {
  const t = transfers.get(id);
  if (t === undefined || t.peer !== p || t.error !== null) return;
  t.got += chunk.length;
  if (t.got > t.size || t.got > net.options.maxFileSize) {
    t.error = new FileRefusedError(`the file grew past its declared size of ${t.size} bytes`, 'ERR_FILE_TOO_LARGE');
    try {
      closeSync(t.fd);
      unlinkSync(t.tmp);
    } catch {
      // Nothing left to clean.
    }
    return;
  }
  try {
    let off = 0;
    while (off < chunk.length) off += writeSync(t.fd, chunk, off, chunk.length - off);
  } catch (e) {
    t.error = new FileRefusedError(`writing the file failed: ${(e as Error).message}`, 'ERR_FILE');
  }
}

/** @internal [FEND, req, id]: answers with the size written. */
export function fileEnd(_net: Network, p: Peer, req: number, id: number): void {
  const t = transfers.get(id);
  if (t === undefined || t.peer !== p) {
    p.fail(req, new FileRefusedError('no such transfer', 'ERR_FILE'));
    return;
  }
  if (t.error !== null) {
    abort(id, t);
    p.fail(req, t.error);
    return;
  }
  transfers.delete(id);
  try {
    if (t.got !== t.size) refuse(`the file ended after ${t.got} of ${t.size} bytes`, 'ERR_FILE');
    closeSync(t.fd);
    if (t.overwrite) renameSync(t.tmp, t.final);
    else {
      // link() fails if the name was taken meanwhile: no file is ever replaced without overwrite.
      try {
        linkSync(t.tmp, t.final);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') refuse(`${JSON.stringify(basename(t.final))} exists`, 'ERR_FILE_EXISTS');
        throw e;
      }
      unlinkSync(t.tmp);
    }
    p.reply(req, t.got);
  } catch (e) {
    try {
      closeSync(t.fd);
    } catch {
      // Closed above.
    }
    try {
      unlinkSync(t.tmp);
    } catch {
      // Renamed or gone.
    }
    p.fail(req, e);
  }
}

/** @internal [FDEL, req, name, dir]: answers whether a file was removed. */
export function fileDelete(net: Network, p: Peer, req: number, name: unknown, dir: unknown): void {
  try {
    const { file } = place(net, dir, name, false);
    try {
      unlinkSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        p.reply(req, false);
        return;
      }
      throw e;
    }
    p.reply(req, true);
  } catch (e) {
    p.fail(req, e);
  }
}

/** @internal A peer went offline: its unfinished transfers leave nothing behind. */
export function peerGoneFiles(_net: Network, p: Peer): void {
  for (const [id, t] of transfers) if (t.peer === p) abort(id, t);
}

/**
 * Sends the file at `path` to the peer at `location`, which stores it as `basename(path)` under
 * its destination directory (in `dir`, if given). Returns the number of bytes stored. The peer's
 * refusals are {@link FileRefusedError}s (`ERR_PATH_ESCAPE`, `ERR_FILE_TOO_LARGE`,
 * `ERR_FILE_EXISTS`); a peer lost meanwhile is a {@link PeerLostError}.
 *
 * @example
 * ```ts
 * const n = yield* sendFile('10.0.0.2:9705', './data.csv', { dir: 'inputs', overwrite: true, timeout: 60_000 });
 * ```
 */
export function* sendFile(location: LocationLike, path: string, options: SendFileOptions = {}): Generator<unknown, number, unknown> {
  if (typeof path !== 'string' || path === '') throw new TypeError('sendFile needs a file path');
  checkTimeout(options.timeout);
  const dir = options.dir ?? '';
  if (typeof dir !== 'string') throw new TypeError('dir must be a string');
  const net = currentNetwork('sendFile');
  const clock = net.sched.clock;
  const deadline = options.timeout === undefined ? Infinity : clock.now() + options.timeout;
  const left = (): number | undefined => {
    if (deadline === Infinity) return undefined;
    const l = deadline - clock.now();
    if (l <= 0) throw new TimeoutError(`sendFile ${path}`, options.timeout!);
    return l;
  };
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const peer = yield* net.peerFor(location, 'sendFile');
    const what = `sendFile ${path} to ${peer.location}`;
    const id = (yield* peer.request([F.FBEGIN, 0, basename(path), dir, size, options.overwrite === true], left(), what)) as number;
    let pos = 0;
    while (pos < size) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
      const n = readSync(fd, chunk, 0, chunk.length, pos);
      if (n === 0) break;
      pos += n;
      peer.post([F.FDATA, id, n === chunk.length ? chunk : chunk.subarray(0, n)]);
      if (peer.queued() >= peer.lowWater) yield* peer.drain(left());
    }
    return (yield* peer.request([F.FEND, 0, id], left(), what)) as number;
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes the file `name` (in `dir`) from the destination directory of the peer at `location`.
 * Returns whether there was one. The same confinement as {@link sendFile} applies.
 *
 * @example
 * ```ts
 * yield* delFile('10.0.0.2:9705', 'data.csv', { dir: 'inputs' });
 * ```
 */
export function* delFile(location: LocationLike, name: string, options: { dir?: string; timeout?: number } = {}): Generator<unknown, boolean, unknown> {
  if (typeof name !== 'string' || name === '') throw new TypeError('delFile needs a file name');
  checkTimeout(options.timeout);
  const net = currentNetwork('delFile');
  const peer = yield* net.peerFor(location, 'delFile');
  return (yield* peer.request([F.FDEL, 0, name, options.dir ?? ''], options.timeout, `delFile ${name} at ${peer.location}`)) as boolean;
}
