/**
 * sendFile / delFile to a peer process: the file arrives whole; names and directories that try to
 * leave the destination directory (`..`, absolute paths, symlinks) are refused, and nothing lands
 * outside it; size limits hold even against a sender that lies about the size.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinNetwork, type Network } from '../../lib/remote/network.js';
import { delFile, sendFile } from '../../lib/remote/files.js';
import { FileRefusedError } from '../../lib/remote/errors.js';
import { F } from '../../lib/remote/wire.js';
import { closeSchedulers, makeScheduler, runCoro } from '../helpers/coro.js';
import { startPeer, stopPeers, type PeerProcess } from '../helpers/peers.js';

const SECRET = 'files-test-secret';

describe('remote/files', function () {
  this.timeout(60000);
  let work: string;
  let dest: string;
  let outside: string;
  let b: PeerProcess;

  beforeEach(async () => {
    work = mkdtempSync(join(tmpdir(), 'asyncoro-files-'));
    dest = join(work, 'dest');
    outside = join(work, 'outside');
    mkdirSync(outside);
    b = await startPeer({ name: 'b', secret: SECRET, discover: false, destPath: dest, maxFileSize: 100_000, symlink: [outside, 'link'] });
  });
  afterEach(async () => {
    closeSchedulers();
    await stopPeers();
    rmSync(work, { recursive: true, force: true });
  });

  function withNetwork<R>(body: (net: Network, loc: string) => Generator<unknown, R, unknown>): Promise<R> {
    const { sched } = makeScheduler();
    return runCoro(sched, function* () {
      const net = yield* joinNetwork({ secret: SECRET, log: () => {}, discover: false, name: 'a' });
      try {
        return yield* body(net, `127.0.0.1:${b.port}`);
      } finally {
        net.closeNow();
      }
    });
  }

  function* refusal(op: Generator<unknown, unknown, unknown>): Generator<unknown, string, unknown> {
    try {
      yield* op;
    } catch (e) {
      if (e instanceof FileRefusedError) return e.code;
      throw e;
    }
    return 'accepted';
  }

  it('sends a file into a directory under destPath, refuses to replace it unless asked, deletes it', async () => {
    const src = join(work, 'data.bin');
    const content = Buffer.alloc(90_000);
    for (let i = 0; i < content.length; i++) content[i] = (i * 7) & 255;
    writeFileSync(src, content);
    const r = await withNetwork(function* (_net, loc) {
      const n = yield* sendFile(loc, src, { dir: 'in/box', timeout: 10000 });
      const again = yield* refusal(sendFile(loc, src, { dir: 'in/box' }));
      const replaced = yield* sendFile(loc, src, { dir: 'in/box', overwrite: true });
      const deleted = yield* delFile(loc, 'data.bin', { dir: 'in/box' });
      const deletedAgain = yield* delFile(loc, 'data.bin', { dir: 'in/box' });
      return { n, again, replaced, deleted, deletedAgain };
    });
    expect(r.n).to.equal(90_000);
    expect(r.again).to.equal('ERR_FILE_EXISTS');
    expect(r.replaced).to.equal(90_000);
    expect(r.deleted).to.equal(true);
    expect(r.deletedAgain).to.equal(false);
    expect(readdirSync(join(dest, 'in', 'box'))).to.deep.equal([]);
  });

  it('a file that arrives is byte for byte the one sent', async () => {
    const src = join(work, 'exact.txt');
    writeFileSync(src, 'line one\nline two\n'.repeat(1000));
    await withNetwork(function* (_net, loc) {
      yield* sendFile(loc, src);
    });
    expect(readFileSync(join(dest, 'exact.txt'))).to.deep.equal(readFileSync(src));
  });

  it('directories that leave destPath (.., absolute, through a symlink) are refused and nothing lands outside', async () => {
    const src = join(work, 'x.txt');
    writeFileSync(src, 'escape attempt');
    const codes = await withNetwork(function* (_net, loc) {
      return [
        yield* refusal(sendFile(loc, src, { dir: '../outside' })),
        yield* refusal(sendFile(loc, src, { dir: 'a/../../outside' })),
        yield* refusal(sendFile(loc, src, { dir: outside })),
        yield* refusal(sendFile(loc, src, { dir: 'link' })),
        yield* refusal(sendFile(loc, src, { dir: 'link/deeper' })),
        yield* refusal(delFile(loc, 'x.txt', { dir: 'link' })),
        yield* refusal(delFile(loc, 'x.txt', { dir: '..' })),
      ];
    });
    expect(codes).to.deep.equal(Array(7).fill('ERR_PATH_ESCAPE'));
    expect(readdirSync(outside)).to.deep.equal([]);
    expect(existsSync(join(work, 'x.txt'))).to.equal(true);
  });

  it('names with a separator or dot-dot, sent by a client that bypasses sendFile, are refused', async () => {
    const codes = await withNetwork(function* (net, loc) {
      const peer = yield* net.peerFor(loc, 'test');
      const out: string[] = [];
      for (const name of ['../evil', '..', '.', 'a/b', '/etc/passwd', 'nul\0byte', '']) {
        out.push(yield* refusal(peer.request([F.FBEGIN, 0, name, '', 10, true], 5000, 'FBEGIN') as Generator<unknown, unknown, unknown>));
      }
      out.push(yield* refusal(peer.request([F.FDEL, 0, '../dest', ''], 5000, 'FDEL') as Generator<unknown, unknown, unknown>));
      return out;
    });
    expect(codes).to.deep.equal(Array(8).fill('ERR_PATH_ESCAPE'));
    expect(readdirSync(work).sort()).to.deep.equal(['dest', 'outside']);
    expect(readdirSync(outside)).to.deep.equal([]);
  });

  it('size limits: a file over maxFileSize is refused up front; a sender that sends more than it declared is cut off and leaves nothing', async () => {
    const big = join(work, 'big.bin');
    writeFileSync(big, Buffer.alloc(100_001));
    const r = await withNetwork(function* (net, loc) {
      const over = yield* refusal(sendFile(loc, big));
      const peer = yield* net.peerFor(loc, 'test');
      const id = (yield* peer.request([F.FBEGIN, 0, 'liar.bin', '', 10, false], 5000, 'FBEGIN') as Generator<unknown, unknown, unknown>) as number;
      peer.post([F.FDATA, id, Buffer.alloc(50_000)]);
      const lied = yield* refusal(peer.request([F.FEND, 0, id], 5000, 'FEND') as Generator<unknown, unknown, unknown>);
      return { over, lied };
    });
    expect(r.over).to.equal('ERR_FILE_TOO_LARGE');
    expect(r.lied).to.equal('ERR_FILE_TOO_LARGE');
    expect(readdirSync(dest).filter((f) => f !== 'link')).to.deep.equal([]);
  });
});
