/**
 * A line-based chat server: every line a client types goes to every other client. One coroutine
 * reads from each client; one coroutine writes to each, fed through its mailbox, so a slow client
 * never holds up the others.
 *
 *   npx tsx examples/chat-server.ts [port]     then connect with: nc 127.0.0.1 <port>
 */
import { AsyncSocket, Coro, SocketClosedError, SystemError, receive, spawn } from '../lib/index.js';

const port = Number(process.argv[2] ?? 4567);
const writers = new Set<Coro>();

function broadcast(from: Coro | null, line: string): void {
  for (const w of writers) if (w !== from) w.send(line);
}

function* writer(conn: AsyncSocket) {
  try {
    for (;;) {
      const line = yield* receive<string | null>();
      if (line === null) return;
      yield* conn.sendall(line);
    }
  } catch (e) {
    // The client went away (or its socket was closed by its reader): this writer just ends.
    if (!(e instanceof SocketClosedError) && !(e instanceof SystemError)) throw e;
  }
}

function* reader(conn: AsyncSocket, name: string) {
  const out = spawn(writer, conn);
  writers.add(out);
  broadcast(out, `* ${name} joined\n`);
  let pending = '';
  try {
    for (;;) {
      const data = yield* conn.recv(4096);
      if (data.length === 0) break;
      pending += data.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        broadcast(out, `${name}: ${pending.slice(0, nl + 1)}`);
        pending = pending.slice(nl + 1);
      }
    }
  } catch {
    // A client that vanishes ends its own coroutines only.
  } finally {
    writers.delete(out);
    out.send(null);
    conn.close();
    broadcast(null, `* ${name} left\n`);
  }
}

spawn(function* () {
  const server = AsyncSocket.tcp({ family: 4 }).setReuseAddress();
  yield* server.bind({ host: '127.0.0.1', port });
  server.listen();
  console.log(`chat-server: listening on 127.0.0.1:${port}`);
  for (let n = 1; ; n++) {
    const conn = yield* server.accept();
    spawn(reader, conn, `guest${n}`);
  }
});
