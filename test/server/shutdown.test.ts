import { describe, expect, it } from 'vitest';
import { FrameType } from '../../src/protocol/constants.js';
import { unpackValue } from '../../src/protocol/payload.js';
import { spawnServer } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';

describe('graceful shutdown (spec §7.3)', () => {
  it('SIGTERM under load: in-flight requests complete, clients get GOAWAY, the process exits 0 in time', async () => {
    const server = await spawnServer(['--shutdown-timeout', '5s']);
    const peers = await Promise.all(Array.from({ length: 8 }, () => RawPeer.open(server.port)));
    const sent = new Map<RawPeer, number[]>();
    for (const [i, peer] of peers.entries()) {
      const ids: number[] = [];
      // A batch of worker-bound expressions is still running when the signal lands.
      ids.push(
        peer.request('calc', 'batch', {
          exprs: Array.from({ length: 40 }, (_, k) => `sin(1e${90 + i + k})`),
        }),
      );
      for (let k = 0; k < 50; k++) ids.push(peer.request('echo', 'echo', k));
      sent.set(peer, ids);
    }
    // Every request was read (the echoes are answered) while the batches still run: a fixed sleep was not
    // enough on a loaded machine, where the node had not read them all when the signal landed (§7.4.3).
    const deadline = Date.now() + 10_000;
    while (!peers.every((p) => p.frames.some((f) => f.id === sent.get(p)!.at(-1))) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    const exit = server.stop('SIGTERM');
    const outcomes = await Promise.all(peers.map((peer) => peer.closedByServer(8000)));
    expect(await exit).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    for (const [peer, frames] of peers.map((p, i) => [p, outcomes[i]!] as const)) {
      expect(frames.some((f) => f.type === FrameType.GOAWAY)).toBe(true);
      const goAway = frames.find((f) => f.type === FrameType.GOAWAY)!;
      expect(unpackValue(goAway.payload!)).toMatchObject({ code: 'SHUTTING_DOWN' });
      for (const id of sent.get(peer)!) {
        const final = frames.find(
          (f) => f.id === id && (f.type === FrameType.RESPONSE || f.type === FrameType.ERROR),
        );
        expect(final, `request ${id} got no reply`).toBeDefined();
        expect(final!.type, JSON.stringify(unpackValue(final!.payload!))).toBe(FrameType.RESPONSE);
      }
    }
    expect(server.output()).not.toMatch(/unhandled|uncaught/i);
  });

  it('cuts connections still open at the deadline and still exits 0', async () => {
    const server = await spawnServer(['--shutdown-timeout', '300ms']);
    const peer = await RawPeer.open(server.port);
    // About ten seconds of worker-bound expressions.
    peer.request('calc', 'batch', {
      exprs: Array.from({ length: 1000 }, (_, k) => `sin(1e${100 + (k % 200)})`),
    });
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(Date.now() - started).toBeLessThan(2000);
    await peer.closedByServer();
  });
});
