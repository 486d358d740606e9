/**
 * UDP ping: a responder coroutine answers each datagram with "pong <n>", and a pinger sends ten
 * pings, timing each round trip, with a timeout for a lost one.
 *
 *   npx tsx examples/udp-ping.ts
 */
import { AsyncSocket, TimeoutError, spawn } from '../lib/index.js';

spawn(function* () {
  const responder = AsyncSocket.udp({ family: 4 });
  yield* responder.bind({ host: '127.0.0.1', port: 0 });
  const port = (responder.localAddress as { port: number }).port;
  const server = spawn(function* () {
    for (let i = 0; i < 10; i++) {
      const { data, address } = yield* responder.recvfrom(1500);
      if (address.family === 'unix') continue;
      yield* responder.sendto(`pong ${data.toString().split(' ')[1]}`, { host: address.host, port: address.port });
    }
  });

  const pinger = AsyncSocket.udp({ family: 4 });
  yield* pinger.bind({ host: '127.0.0.1', port: 0 });
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    yield* pinger.sendto(`ping ${i}`, { host: '127.0.0.1', port });
    try {
      const { data } = yield* pinger.recvfrom(1500, { timeout: 1000 });
      console.log(`${data.toString()}: ${((performance.now() - t0) * 1000).toFixed(0)} µs`);
    } catch (e) {
      if (!(e instanceof TimeoutError)) throw e;
      console.log(`ping ${i}: lost (no answer within 1 s)`);
    }
  }
  yield* server.finish();
  pinger.close();
  responder.close();
});
