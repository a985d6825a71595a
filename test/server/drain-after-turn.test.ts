import { Duplex } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { FrameType, PREFACE } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { packValue } from '../../src/protocol/payload.js';
import { startNode } from '../helpers/node.js';

let node: NexoNode & { port: number };
beforeAll(async () => {
  node = await startNode({ maxInFlight: 256 });
});
afterAll(() => node.close({ timeoutMs: 1000 }));

/**
 * §7.3 / §7.4.3 A client that sends its last requests, GOAWAY and a half-close while its connection waits for
 * its turn: the node answers them and ends its side. It used to keep the connection open for ever (the
 * half-close came while the connection waited, and the turn that read the GOAWAY never looked again), and
 * `nexo chat` with piped input hung after its last line one time in six on a loaded machine.
 */
it('ends the connection after a GOAWAY and half-close that arrive while it waits for its turn', async () => {
  let ended = false;
  const replies = new FrameDecoder({ maxPayload: 1 << 20, preface: true });
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      replies.push(chunk);
      done();
    },
    final(done) {
      ended = true;
      done();
    },
  });
  node.accept({ stream, peer: { transport: 'tcp', address: '127.0.0.1', port: 1, secure: false } });
  stream.push(Buffer.concat([PREFACE, encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1] }))]));
  // Enough cheap requests in one read to spend a turn (0.25 ms), so the connection waits for its next one…
  const requests: Uint8Array[] = [];
  for (let i = 1; i <= 4000; i++) {
    requests.push(encodeFrame(FrameType.REQUEST, 0, i, packValue(['echo', 'echo', `n${i}`])));
  }
  stream.push(Buffer.concat(requests));
  // …and, before it gets it, the last request, GOAWAY and the half-close.
  stream.push(
    Buffer.concat([
      encodeFrame(FrameType.REQUEST, 0, 4001, packValue(['echo', 'echo', 'last'])),
      encodeFrame(FrameType.GOAWAY, 0, 0, packValue({ code: 'SHUTTING_DOWN', message: 'client closing' })),
    ]),
  );
  stream.push(null);
  await expect.poll(() => ended, { timeout: 5000 }).toBe(true);
  // Every request was answered before the node ended its side.
  const answered = new Set<number>();
  for (let f = replies.next(); f !== undefined; f = replies.next()) {
    if (f.type === FrameType.RESPONSE) answered.add(f.id);
  }
  expect([...Array(4001).keys()].map((i) => i + 1).filter((id) => !answered.has(id))).toEqual([]);
});
