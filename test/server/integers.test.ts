import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { FrameType } from '../../src/protocol/constants.js';
import { unpackValue } from '../../src/protocol/payload.js';
import { startNode } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';

let node: NexoNode & { port: number };
beforeAll(async () => {
  node = await startNode();
});
afterAll(() => node.close({ timeoutMs: 2000 }));

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A REQUEST frame's payload written by hand: [service, method, args] with args as given bytes. */
function request(service: string, method: string, args: Buffer): Buffer {
  const str = (s: string) => Buffer.concat([Buffer.of(0xa0 | s.length), Buffer.from(s)]);
  return Buffer.concat([Buffer.of(0x93), str(service), str(method), args]);
}

describe('§4.5.5 integers over a real socket', () => {
  it('the node sends integers beyond 32 bits as int 64, never float64, in fast-path and msgpackr replies', async () => {
    const peer = await RawPeer.open(node.port);
    try {
      // A small reply (small-values.ts writes it) and a bigger one (msgpackr writes it).
      const small = peer.request('echo', 'echo', { t: 2 ** 40 });
      const big = peer.request('echo', 'echo', {
        t: 2 ** 40,
        list: Array.from({ length: 20 }, (_, i) => 2 ** 33 + i),
      });
      const frames = [];
      while (frames.length < 2) frames.push(await peer.next());
      const byId = new Map(frames.map((f) => [f.id, Buffer.from(f.payload)]));
      expect(byId.get(small)!.toString('hex')).toBe('81a174d30000010000000000');
      const bigBytes = byId.get(big)!;
      expect(bigBytes.includes(hex('d3 00 00 01 00 00 00 00 00'))).toBe(true);
      expect(bigBytes.includes(Buffer.of(0xcb))).toBe(false); // no float64 anywhere
      expect((unpackValue(bigBytes) as { list: number[] }).list[19]).toBe(2 ** 33 + 19);
      // The node reads every integer form a client may send: int 64, uint 64, and float64 holding one.
      for (const [bytes, value] of [
        ['d3 0000010000000000', 2 ** 40],
        ['cf 0000010000000000', 2 ** 40],
        ['cb 4270000000000000', 2 ** 40],
      ] as const) {
        const id = 100 + bytes.length;
        peer.send(FrameType.REQUEST, 0, id, request('echo', 'echo', hex(bytes)));
        const reply = await peer.reply(id);
        expect(reply.type).toBe(FrameType.RESPONSE);
        expect(reply.value).toBe(value);
      }
    } finally {
      peer.close();
    }
  });

  it('extension type 0 (a library encoding undefined) in a REQUEST is BAD_REQUEST, not a silent nil (§4.5.2)', async () => {
    const peer = await RawPeer.open(node.port);
    try {
      for (const [id, args] of [
        [7, 'd4 00 00'],
        [8, '81 a1 61 d4 00 00'],
        [9, 'c7 01 00 ff'],
      ] as const) {
        peer.send(FrameType.REQUEST, 0, id, request('echo', 'echo', hex(args)));
        const reply = await peer.reply(id);
        expect(reply.type).toBe(FrameType.ERROR);
        expect((reply.value as { code: string }).code).toBe('BAD_REQUEST');
      }
      // The connection goes on.
      const ok = await peer.reply(peer.request('echo', 'echo', 1));
      expect(ok.value).toBe(1);
    } finally {
      peer.close();
    }
  });
});
