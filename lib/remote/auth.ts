/**
 * Authentication of a peer connection: a challenge-response over HMAC-SHA256 with the shared
 * secret, in both directions, before any byte of the peer is decoded as MessagePack.
 *
 * ```
 * client → server   "ACRO" 1 Nc                       Nc: 32 fresh random bytes
 * server → client   "ACRO" 1 Ns HMAC(k, "S" Nc Ns)    Ns: 32 fresh random bytes
 * client → server   HMAC(k, "C" Nc Ns)  hello-frame
 * server → client   answer-frame                      accepted (1) or refused (0), its identity
 * ```
 *
 * Each side proves it knows the secret over a nonce the other side just drew, so a recorded
 * exchange is worth nothing: replaying the client's proof meets a new Ns, replaying the server's
 * meets a new Nc. The "S"/"C" labels keep one side's proof from being reflected as the other's.
 * The hello and answer frames (MessagePack) are decoded only after the HMAC they follow checked
 * out. A server reads at most 37 + 32 + 4 + 4096 bytes from an unauthenticated peer, each read
 * with a deadline.
 *
 * What this does not do: encrypt, or sign each later frame. On a network where someone can
 * rewrite TCP streams, use TLS (the `tls` option) as well.
 *
 * @module
 * @internal
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Op } from '../core/op.js';
import { AsyncoroError } from '../core/errors.js';
import { EOFError } from '../io/errors.js';

/** What the transport needs of a connected stream: an AsyncSocket, or a TLS socket over one. */
export interface Stream {
  recvInto(buf: Uint8Array, offset?: number, length?: number, opts?: { timeout?: number }): Op<number>;
  recvall(n: number, opts?: { timeout?: number }): Op<Buffer>;
  sendall(data: Uint8Array | string, opts?: { timeout?: number }): Op<void>;
  close(): void;
  readonly isClosed: boolean;
}

const MAGIC = Buffer.from('ACRO');
const VERSION = 1;
const NONCE = 32;
const MAC = 32;
/** The largest hello or answer frame. */
export const MAX_HELLO = 4096;

/** The handshake failed; `code` says why (`'ERR_AUTH'`: wrong secret; `'ERR_PROTOCOL'`: not a peer). */
export class HandshakeError extends AsyncoroError {}

function mac(key: Buffer, label: string, nc: Buffer, ns: Buffer): Buffer {
  return createHmac('sha256', key).update(label).update(nc).update(ns).digest();
}

function checkHeader(b: Buffer): void {
  if (!b.subarray(0, 4).equals(MAGIC)) throw new HandshakeError('not an asyncoro peer (bad magic)', 'ERR_PROTOCOL');
  if (b[4] !== VERSION) throw new HandshakeError(`unsupported protocol version ${b[4]}`, 'ERR_PROTOCOL');
}

function* readHello(s: Stream, timeout: number): Generator<unknown, Buffer, unknown> {
  const len = (yield* s.recvall(4, { timeout })).readUInt32BE(0);
  if (len === 0 || len > MAX_HELLO) throw new HandshakeError(`hello frame of ${len} bytes`, 'ERR_PROTOCOL');
  return yield* s.recvall(len, { timeout });
}

function framed(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/**
 * The client's half, up to the server's answer: proves the secret, checks the server's proof,
 * sends `hello` (an encoded frame) and returns the server's answer frame (still encoded: the
 * caller decodes it, now that the server is authenticated).
 */
export function* clientHandshake(s: Stream, key: Buffer, hello: Buffer, timeout: number): Generator<unknown, Buffer, unknown> {
  const nc = randomBytes(NONCE);
  yield* s.sendall(Buffer.concat([MAGIC, Buffer.of(VERSION), nc]), { timeout });
  const b = yield* s.recvall(5 + NONCE + MAC, { timeout });
  checkHeader(b);
  const ns = b.subarray(5, 5 + NONCE);
  const proof = b.subarray(5 + NONCE);
  if (!timingSafeEqual(proof, mac(key, 'S', nc, ns))) throw new HandshakeError('the peer does not know the secret', 'ERR_AUTH');
  yield* s.sendall(Buffer.concat([mac(key, 'C', nc, ns), framed(hello)]), { timeout });
  return yield* readHello(s, timeout);
}

/**
 * The server's half, up to the client's hello: checks the client's proof and returns its hello
 * frame (encoded). The caller decodes it, decides, and sends its answer with {@link sendAnswer}.
 */
export function* serverHandshake(s: Stream, key: Buffer, timeout: number): Generator<unknown, Buffer, unknown> {
  const a = yield* s.recvall(5 + NONCE, { timeout });
  checkHeader(a);
  const nc = a.subarray(5);
  const ns = randomBytes(NONCE);
  yield* s.sendall(Buffer.concat([MAGIC, Buffer.of(VERSION), ns, mac(key, 'S', nc, ns)]), { timeout });
  let proof: Buffer;
  try {
    proof = yield* s.recvall(MAC, { timeout });
  } catch (e) {
    // A client with another secret finds our proof wrong and hangs up here, before it says
    // anything that could help guess the secret.
    if (e instanceof EOFError) throw new HandshakeError('the peer hung up instead of proving it knows the secret (a wrong secret)', 'ERR_AUTH');
    throw e;
  }
  if (!timingSafeEqual(proof, mac(key, 'C', nc, ns))) throw new HandshakeError('wrong secret', 'ERR_AUTH');
  return yield* readHello(s, timeout);
}

/** Sends the server's answer frame. */
export function* sendAnswer(s: Stream, answer: Buffer, timeout: number): Generator<unknown, void, unknown> {
  yield* s.sendall(framed(answer), { timeout });
}
