/**
 * Diagnostic: the node's own cost per request, without sockets. A real NexoNode accepts an in-memory duplex
 * stream, which is fed batches of 64 pre-encoded REQUEST frames; the replies are counted as they are
 * written. The figure is CPU time per request (process.cpuUsage), which other work on the machine inflates
 * far less than the wall-clock time printed beside it; loopback round trips on these VMs vary by ±30% from
 * run to run, this by a few percent, so it is the number to watch while changing the request path.
 * `npm run bench -- paths` runs it beside bench/client-path.ts (the client library's side).
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/server-path.js [echo|calc] [--count N]
 *
 * (add `--cpu-prof` to node for a profile of exactly this path; `--count N` runs N batches once, for
 * instruction counts under callgrind, see in-process.ts).
 */
import { Duplex } from 'node:stream';
import { NexoNode } from '../src/node/node.js';
import { FrameType, HEADER_SIZE, PREFACE } from '../src/protocol/constants.js';
import { encodeFrame } from '../src/protocol/encoder.js';
import { packValue } from '../src/protocol/payload.js';
import { measureOpened, type Path, type PathResult, pathMain } from './in-process.js';

const BATCH = 64;
export const PATH_CASES: Record<string, { request: [string, string, unknown]; reply: unknown }> = {
  echo: { request: ['echo', 'echo', 'hello, nexo bench'], reply: 'hello, nexo bench' },
  calc: { request: ['calc', 'eval', { expr: '2*(3+4)' }], reply: { value: '14' } },
};

/** A node on an in-memory stream; `run(batches)` feeds it batches of requests and checks the reply bytes. */
async function serverPath(name: string): Promise<Path> {
  const test = PATH_CASES[name];
  if (test === undefined) throw new Error(`unknown case ${name}`);
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

  /** Each batch is fed as a fresh Buffer (as a socket read gives). */
  async function run(batches: number): Promise<void> {
    const want = written + batches * BATCH * replySize;
    for (let k = 0; k < batches; k++) {
      stream.push(Buffer.from(batch));
      await new Promise<void>((resolve) => {
        wake = resolve;
        setImmediate(resolve);
      });
    }
    // §7.4.3 A connection whose work held the loop 0.25 ms waits its turn: the last replies may come later.
    const waitUntil = performance.now() + 2000;
    while (written < want && performance.now() < waitUntil) await new Promise((r) => setImmediate(r));
    if (written !== want) throw new Error(`${want - written} reply bytes missing: a request failed`);
  }
  return {
    run,
    close: async () => {
      stream.destroy();
      await node.close();
    },
  };
}

/** CPU µs per request on the node's side for one case. */
export async function measureServerPath(name: string): Promise<PathResult> {
  return measureOpened(await serverPath(name), BATCH);
}

await pathMain(import.meta.url, 'node', Object.keys(PATH_CASES), serverPath, BATCH);
