/**
 * Type tests: compiled by `npm run typecheck` (tsc includes test/), never run. Each
 * `@ts-expect-error` line must be an error, or tsc fails with "Unused '@ts-expect-error'", so
 * misuse that starts compiling breaks the build.
 */
import {
  Coro,
  Event,
  Lock,
  Queue,
  receive,
  self,
  sleep,
  spawn,
  suspend,
  waitReadable,
  type Op,
} from '../../lib/index.js';

declare const bufferOp: Op<Buffer>;

export function* typed(): Generator<unknown, number, unknown> {
  // yield* gives the operation's result type.
  const b: Buffer = yield* bufferOp;
  const n: number = yield* receive<number>();
  const ok: boolean = yield* new Lock().acquire(10);
  const set: boolean = yield* new Event().wait();
  const item: string = yield* new Queue<string>().get();
  const bits: number = yield* waitReadable(0);
  const s: string | undefined = yield* suspend(10, 'alarm');
  const me: Coro = self();
  // A plain yield works and is untyped.
  const anything = yield bufferOp;
  void [b, ok, set, item, bits, s, me, anything];
  return n;
}

export function* misuse(): Generator<unknown, void, unknown> {
  // @ts-expect-error an Op<Buffer> is not a string
  const s: string = yield* bufferOp;
  // @ts-expect-error acquire() answers a boolean
  const n: number = yield* new Lock().acquire();
  // @ts-expect-error a Queue<number> gives numbers
  const t: string = yield* new Queue<number>().get();
  // @ts-expect-error a Queue<number> takes numbers
  yield* new Queue<number>().put('x');
  // @ts-expect-error a number is not an operation
  yield* 5;
  // @ts-expect-error sleep needs a duration
  yield* sleep();
  void [s, n, t];
}

// spawn() types arguments and the result.
export function spawnTypes(): void {
  const c: Coro<string> = spawn(function* (a: number, b: string) {
    yield* sleep(a);
    return b;
  }, 1, 'x');
  const p: Promise<string> = c.value();
  spawn(
    function* (a: number, b: string) {
      return a + b;
    },
    // @ts-expect-error the second argument must be a string
    1, 2,
  );
  // @ts-expect-error the result is a string, not a number
  const q: Promise<number> = c.value();
  // @ts-expect-error a plain function is not a generator function
  spawn(() => 5);
  // finish() inside a coroutine is typed too.
  spawn(function* () {
    const r: string = yield* c.finish(100);
    // @ts-expect-error finish() of a Coro<string> gives a string
    const bad: number = yield* c.finish();
    void [r, bad];
  });
  void [p, q];
}
