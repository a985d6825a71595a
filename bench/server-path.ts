/**
 * Diagnostic, not a suite of `npm run bench`: the server's own cost per request, without sockets. A real
 * NexoNode accepts an in-memory duplex stream, which is fed batches of 64 pre-encoded REQUEST frames; the
 * replies are counted as they are written. Loopback round trips on these machines vary by ±30% from run to
 * run; this number moves by a few percent, so it is the one to watch while changing the request path.
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/server-path.js [echo|calc] [--profile]
 *
 * (add `--cpu-prof` to node for a profile of exactly this path).
 */
import { Duplex } from 'node:stream';
import { NexoNode } from '../src/node/node.js';
import { FrameType, HEADER_SIZE, PREFACE } from '../src/protocol/constants.js';
import { encodeFrame } from '../src/protocol/encoder.js';
import { packValue } from '../src/protocol/payload.js';

const BATCH = 64;
const CASES: Record<string, { request: unknown[]; reply: unknown }> = {
  echo: { request: ['echo', 'echo', 'hello, nexo bench'], reply: 'hello, nexo bench' },
  calc: { request: ['calc', 'eval', { expr: '2*(3+4)' }], reply: { value: '14' } },
};

const name = process.argv[2] ?? 'echo';
const test = CASES[name];
if (test === undefined) {
  console.error(`usage: server-path.js ${Object.keys(CASES).join('|')}`);
  process.exit(2);
}

const node = new NexoNode({ host: '127.0.0.1', port: 0, log: { level: 'warn' }, http: { enabled: false } });
await node.start();
let written = 0;
let wake: () => void = () => {};
const stream = new Duplex({
  read() {},
  write(chunk: Buffer, _encoding, done) {
    written += chunk.length;
    wake();
    done();
  },
});
node.accept({ stream, peer: { transport: 'tcp', address: '127.0.0.1', port: 1, secure: false } });
stream.push(Buffer.concat([PREFACE, encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1] }))]));
await new Promise((r) => setTimeout(r, 50));

const payload = packValue(test.request);
const frameSize = HEADER_SIZE + payload.length;
const batch = Buffer.alloc(BATCH * frameSize);
for (let i = 0; i < BATCH; i++) {
  const at = i * frameSize;
  batch.writeUInt32BE(payload.length, at);
  batch[at + 4] = FrameType.REQUEST;
  batch.writeUInt32BE(i + 1, at + 6);
  batch.set(payload, at + HEADER_SIZE);
}
const replySize = HEADER_SIZE + packValue(test.reply).length;

/** µs per request over `batches` batches, each fed as a fresh Buffer (as a socket read gives). */
async function run(batches: number): Promise<number> {
  const want = written + batches * BATCH * replySize;
  const started = performance.now();
  for (let k = 0; k < batches; k++) {
    stream.push(Buffer.from(batch));
    await new Promise<void>((resolve) => {
      wake = resolve;
      setImmediate(resolve);
    });
  }
  if (written !== want) throw new Error(`${want - written} reply bytes missing: a request failed`);
  return ((performance.now() - started) * 1000) / (batches * BATCH);
}

await run(5000); // warm up: let the JIT settle
const runs: number[] = [];
for (let i = 0; i < 7; i++) runs.push(await run(10_000));
runs.sort((a, b) => a - b);
console.log(
  `${name}: ${runs[3]!.toFixed(3)} µs per request (median of 7 runs of ${10_000 * BATCH}; best ${runs[0]!.toFixed(3)})`,
);
stream.destroy();
await node.close();
