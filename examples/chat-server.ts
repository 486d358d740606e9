/**
 * A line-based chat room over a Channel: every line a client types goes to every other client.
 * One coroutine reads from each client and sends its lines to the room channel; one coroutine
 * per client is subscribed to the channel and writes what arrives to its client, so a slow
 * client never holds up the others.
 *
 *   npx tsx examples/chat-server.ts [port]     then connect with: nc 127.0.0.1 <port>
 */
import { AsyncSocket, Channel, SocketClosedError, SystemError, receive, self, spawn } from '../lib/index.js';

const port = Number(process.argv[2] ?? 4567);

interface Line {
  from: string;
  text: string;
}

const room = new Channel('room').register();

function* writer(conn: AsyncSocket, name: string) {
  room.subscribe(self());
  try {
    for (;;) {
      const msg = yield* receive<Line | null>();
      if (msg === null) return;
      if (msg.from !== name) yield* conn.sendall(msg.text);
    }
  } catch (e) {
    // The client went away (or its socket was closed by its reader): this writer just ends.
    if (!(e instanceof SocketClosedError) && !(e instanceof SystemError)) throw e;
  } finally {
    room.unsubscribe(self());
  }
}

function* reader(conn: AsyncSocket, name: string) {
  const out = spawn(writer, conn, name);
  room.send({ from: name, text: `* ${name} joined\n` });
  let pending = '';
  try {
    for (;;) {
      const data = yield* conn.recv(4096);
      if (data.length === 0) break;
      pending += data.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        room.send({ from: name, text: `${name}: ${pending.slice(0, nl + 1)}` });
        pending = pending.slice(nl + 1);
      }
    }
  } catch {
    // A client that vanishes ends its own coroutines only.
  } finally {
    out.send(null);
    conn.close();
    room.send({ from: name, text: `* ${name} left\n` });
  }
}

spawn(function* () {
  const server = AsyncSocket.tcp({ family: 4 }).setReuseAddress();
  yield* server.bind({ host: '127.0.0.1', port });
  server.listen();
  console.log(`chat-server: listening on 127.0.0.1:${(server.localAddress as { port: number }).port}`);
  for (let n = 1; ; n++) {
    const conn = yield* server.accept();
    spawn(reader, conn, `guest${n}`);
  }
});
