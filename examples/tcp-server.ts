/**
 * The seed's TCP server, in asyncoro for Node: a coroutine per connection, each reading exactly
 * four bytes of length and then the request, and answering, while the others keep running.
 *
 *   npx tsx examples/tcp-server.ts [port]      then: npx tsx examples/echo-client.ts [port]
 */
import { AsyncSocket, SocketClosedError, spawn } from '../lib/index.js';

const port = Number(process.argv[2] ?? 3456);

function* serve(conn: AsyncSocket) {
  const peer = conn.remoteAddress;
  try {
    for (;;) {
      // recvMsg reads exactly one length-prefixed request; other coroutines run meanwhile.
      const request = yield* conn.recvMsg({ timeout: 60_000 });
      yield* conn.sendMsg(Buffer.concat([Buffer.from('echo: '), request]));
    }
  } catch (e) {
    if (!(e instanceof SocketClosedError) && (e as { code?: string }).code !== 'ERR_EOF') {
      console.error(`${JSON.stringify(peer)}: ${(e as Error).message}`);
    }
  } finally {
    conn.close();
  }
}

spawn(function* () {
  const server = AsyncSocket.tcp({ family: 4 }).setReuseAddress();
  yield* server.bind({ host: '127.0.0.1', port });
  server.listen(128);
  console.log(`tcp-server: listening on 127.0.0.1:${(server.localAddress as { port: number }).port}`);
  for (;;) {
    const conn = yield* server.accept();
    spawn(serve, conn);
  }
});
