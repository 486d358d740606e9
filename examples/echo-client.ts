/**
 * An echo client for examples/tcp-server.ts: a few hundred concurrent clients, each a coroutine
 * that sends framed requests and checks the answers, then a summary.
 *
 *   npx tsx examples/echo-client.ts [port] [clients] [requests]
 */
import { AsyncSocket, spawn } from '../lib/index.js';

const port = Number(process.argv[2] ?? 3456);
const clients = Number(process.argv[3] ?? 200);
const requests = Number(process.argv[4] ?? 50);

function* client(id: number) {
  const sock = AsyncSocket.tcp().setNoDelay();
  yield* sock.connect({ host: '127.0.0.1', port }, { timeout: 5000 });
  for (let i = 0; i < requests; i++) {
    const text = `client ${id} request ${i}`;
    yield* sock.sendMsg(text);
    const answer = (yield* sock.recvMsg({ timeout: 5000 })).toString();
    if (answer !== `echo: ${text}`) throw new Error(`client ${id}: unexpected answer ${answer}`);
  }
  sock.close();
  return requests;
}

spawn(function* () {
  const t0 = performance.now();
  const all = Array.from({ length: clients }, (_, i) => spawn(client, i));
  let total = 0;
  for (const c of all) total += yield* c.finish();
  const ms = performance.now() - t0;
  console.log(`echo-client: ${clients} clients, ${total} round trips in ${ms.toFixed(0)} ms (${Math.round((total / ms) * 1000)}/s)`);
});
