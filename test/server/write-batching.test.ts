import { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { FrameType, HEADER_SIZE, PREFACE } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { packValue, unpackValue } from '../../src/protocol/payload.js';
import { FRAMES_PER_WRITE } from '../../src/server/binary-connection.js';
import { startNode } from '../helpers/node.js';

let node: NexoNode & { port: number };
beforeAll(async () => {
  node = await startNode({ maxInFlight: 256 });
});
afterAll(() => node.close({ timeoutMs: 1000 }));

/** A node's connection over an in-memory stream, so each write() the server makes is seen as it is. */
function memoryPeer(highWaterMark = 16 * 1024) {
  const writes: Buffer[] = [];
  let onWrite: (() => void) | undefined;
  const pendingCallbacks: (() => void)[] = [];
  let holding = false;
  const stream = new Duplex({
    writableHighWaterMark: highWaterMark,
    read() {},
    write(chunk: Buffer, _encoding, done) {
      writes.push(Buffer.from(chunk));
      onWrite?.();
      // A peer that stops reading: the server's writes stay unacknowledged.
      if (holding) pendingCallbacks.push(done);
      else done();
    },
  });
  node.accept({ stream, peer: { transport: 'tcp', address: '127.0.0.1', port: 1, secure: false } });
  stream.push(Buffer.concat([PREFACE, encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1] }))]));
  return {
    stream,
    writes,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const done of pendingCallbacks.splice(0)) done();
    },
    /** Resolves once `n` frames (WELCOME included) have been written. */
    async frames(n: number) {
      for (;;) {
        const decoder = new FrameDecoder({ maxPayload: 1 << 20, preface: true });
        for (const w of writes) decoder.push(w);
        const out = [];
        for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f);
        if (out.length >= n) return out;
        await new Promise<void>((resolve) => {
          onWrite = resolve;
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

function requests(count: number, firstId = 1): Buffer {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    frames.push(encodeFrame(FrameType.REQUEST, 0, firstId + i, packValue(['echo', 'echo', `n${i}`])));
  }
  return Buffer.concat(frames);
}

describe('write batching (spec §7.4.1)', () => {
  it('answers 100 pipelined requests from one read in writes of at most FRAMES_PER_WRITE (16) replies, in order', async () => {
    const peer = memoryPeer();
    await peer.frames(1); // WELCOME
    const before = peer.writes.length;
    peer.stream.push(requests(100));
    const frames = (await peer.frames(101)).slice(1);
    expect(frames.map((f) => f.id)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(frames.map((f) => unpackValue(f.payload!))).toEqual(
      Array.from({ length: 100 }, (_, i) => `n${i}`),
    );
    // 16 × 6 + 4: the first replies leave while the rest are being handled.
    const sizes = peer.writes.slice(before).map((w) => {
      let n = 0;
      for (let at = 0; at < w.length; at += HEADER_SIZE + w.readUInt32BE(at)) n++;
      return n;
    });
    expect(FRAMES_PER_WRITE).toBe(16);
    expect(sizes).toEqual([16, 16, 16, 16, 16, 16, 4]);
    peer.stream.destroy();
  });

  it('stops decoding in the middle of a read when a write is refused, and goes on once the peer reads', async () => {
    const peer = memoryPeer(64); // a tiny buffer: the first batch of replies already fills it
    await peer.frames(1);
    peer.hold();
    peer.stream.push(requests(100, 1000));
    await new Promise((r) => setTimeout(r, 50));
    // Only the first batch was handled: the rest of the read waits, unread, while the peer does not read.
    expect((await peer.frames(1)).length).toBe(1 + FRAMES_PER_WRITE);
    peer.release();
    const frames = (await peer.frames(101)).slice(1);
    expect(frames.map((f) => f.id)).toEqual(Array.from({ length: 100 }, (_, i) => 1000 + i));
    peer.stream.destroy();
  });
});
