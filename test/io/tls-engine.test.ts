/**
 * Which TLS engine runs, and why: the addon's OpenSSL check, `ASYNCORO_TLS`, the
 * `NODE_DEBUG=asyncoro` notice, and the proof that the addon brings no OpenSSL of its own (its
 * OpenSSL references are weak and it needs no libssl).
 */
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native, nativeFile } from '../../lib/native/binding.js';
import { certs } from '../helpers/tls.js';

const fixture = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'tls-engine.ts');

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function child(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fixture, certs().dir], {
      env: { ...process.env, ASYNCORO_TLS: '', NODE_DEBUG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const killer = setTimeout(() => p.kill('SIGKILL'), 30000);
    p.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, out, err });
    });
  });
}

function hasObjdump(): boolean {
  return spawnSync('objdump', ['--version']).status === 0;
}

describe('io/tls: the engine choice', function () {
  this.timeout(60000);
  // The three child processes run at once.
  let runs: { plain: Run; node: Run; bogus: Run };
  before(async () => {
    const [plain, node, bogus] = await Promise.all([
      child({ NODE_DEBUG: 'asyncoro' }),
      child({ ASYNCORO_TLS: 'node', NODE_DEBUG: 'asyncoro' }),
      child({ ASYNCORO_TLS: 'openssl' }),
    ]);
    runs = { plain, node, bogus };
  });

  it("the addon finds the running Node's OpenSSL 3 and uses it", () => {
    const o = native.tls.openssl;
    expect(o.available).to.equal(true);
    expect(o.versionNumber! >>> 28).to.equal(3);
    // The library the addon calls is the one Node reports, not another copy.
    expect(o.version).to.contain(process.versions.openssl!.replace(/\+.*$/, ''));
    expect(o.headerVersion).to.match(/^OpenSSL 3\./);
  });

  it('links no OpenSSL of its own: every OpenSSL reference is weak, and no libssl is needed', function () {
    if (!hasObjdump()) this.skip();
    const dyn = execFileSync('objdump', ['-T', nativeFile], { encoding: 'utf8' });
    const refs = dyn.split('\n').filter((l) => /\*UND\*/.test(l) && /\s(SSL_|BIO_|X509|ERR_|PEM_|OpenSSL_|TLS_|EVP_|i2d_|d2i_)/.test(l));
    expect(refs.length).to.be.above(50);
    for (const l of refs) expect(l, l).to.match(/^\S+\s+w\s/);
    const needed = execFileSync('objdump', ['-p', nativeFile], { encoding: 'utf8' });
    expect(needed).to.not.match(/NEEDED\s+lib(ssl|crypto)/);
  });

  it('by default a child process uses the native engine and says so under NODE_DEBUG=asyncoro', () => {
    const r = runs.plain;
    expect(r.code, r.err + r.out).to.equal(0);
    expect(r.out).to.contain('default native');
    expect(r.out).to.contain('client native server native');
    expect(r.err).to.match(/ASYNCORO \d+: TLS: native, OpenSSL 3\./);
  });

  it("ASYNCORO_TLS=node forces Node's tls, with a notice", () => {
    const r = runs.node;
    expect(r.code, r.err + r.out).to.equal(0);
    expect(r.out).to.contain('default node');
    expect(r.out).to.contain('client node server node');
    expect(r.err).to.match(/TLS: Node's tls over a Duplex of the socket \(ASYNCORO_TLS=node\)/);
  });

  it('an ASYNCORO_TLS value that means nothing is a typed error', () => {
    const r = runs.bogus;
    expect(r.code).to.equal(1);
    expect(r.out.trim()).to.equal('error ERR_TLS_UNAVAILABLE');
  });
});
