import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { FrameType } from '../../src/protocol/constants.js';
import { unpackValue } from '../../src/protocol/payload.js';
import { builtinServices } from '../../src/services/index.js';
import { startNode, textSession } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { slowService } from '../helpers/slow-service.js';

let node: NexoNode & { port: number };

beforeAll(async () => {
  node = await startNode({ idleTimeout: 300, heartbeat: 150 });
});
afterAll(() => node.close({ timeoutMs: 500 }));

describe('idle timeout and heartbeat (spec §7.2, §7.3.3)', () => {
  it('sends GOAWAY IDLE_TIMEOUT to a binary client with nothing open, then closes; PONGs do not count', async () => {
    // The node counts from the session's start, before its WELCOME reaches us: start the clock before
    // connecting, or a slow handshake on a loaded machine shortens what we measure (seen: 231 ms).
    const started = Date.now();
    const peer = await RawPeer.open(node.port);
    // Answer every PING so the heartbeat is satisfied: only requests count as activity.
    const answering = setInterval(() => {
      for (const f of peer.frames.splice(0)) {
        if (f.type === FrameType.PING) peer.send(FrameType.PONG, 0, 0, f.payload!);
        else peer.frames.push(f);
      }
    }, 10);
    const frames = await peer.closedByServer(3000);
    clearInterval(answering);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    const goAway = frames.find((f) => f.type === FrameType.GOAWAY);
    expect(goAway).toBeDefined();
    expect(unpackValue(goAway!.payload!)).toMatchObject({ code: 'IDLE_TIMEOUT' });
  });

  it('keeps a connection with a request in flight open past the idle timeout', async () => {
    // Heartbeat off: this is about the idle timeout only, and must not depend on the test's own timing.
    const busy = await startNode(
      { idleTimeout: 300, heartbeat: 0 },
      { services: [...builtinServices(), slowService] },
    );
    const peer = await RawPeer.open(busy.port);
    const id = peer.request('slow', 'sleep', { ms: 600 });
    expect(await peer.reply(id, 5000)).toMatchObject({ type: FrameType.RESPONSE, value: { slept: 600 } });
    // Now nothing is open: the idle timeout applies again.
    const frames = await peer.closedByServer(3000);
    expect(unpackValue(frames.find((f) => f.type === FrameType.GOAWAY)!.payload!)).toMatchObject({
      code: 'IDLE_TIMEOUT',
    });
    await busy.close({ timeoutMs: 500 });
  });

  it('PINGs a quiet client and drops it when it never answers, with ERROR id 0 HEARTBEAT_TIMEOUT (§7.2.2)', async () => {
    // No idle timeout here: its GOAWAY would race the heartbeat's ERROR.
    const beating = await startNode({ idleTimeout: 0, heartbeat: 150 });
    const peer = await RawPeer.open(beating.port);
    const frames = await peer.closedByServer(3000);
    await beating.close({ timeoutMs: 500 });
    expect(frames.some((f) => f.type === FrameType.PING)).toBe(true);
    const last = frames.at(-1)!;
    expect([last.type, last.id]).toEqual([FrameType.ERROR, 0]);
    expect(unpackValue(last.payload!)).toMatchObject({ code: 'HEARTBEAT_TIMEOUT' });
  });

  it('closes a text session whose first line never ends at the handshake timeout, not the idle timeout (§8.6)', async () => {
    const quick = await startNode({ handshakeTimeout: 300, idleTimeout: '1m' });
    try {
      const started = Date.now();
      const out = await textSession(quick.port, 'calc 1+', { timeoutMs: 5000 });
      expect(out).toBe('nexo: no complete line within 300 ms; closing (HANDSHAKE_TIMEOUT)\n');
      expect(Date.now() - started).toBeLessThan(3000);
      // A first line in time: the session then lives by the idle timeout.
      const ok = await textSession(quick.port, 'calc 1+1\n', { until: /2\n/, timeoutMs: 3000 });
      expect(ok).toBe('2\n');
    } finally {
      await quick.close({ timeoutMs: 500 });
    }
  });

  it('tells a quiet text-mode user why the connection closes', async () => {
    const out = await textSession(node.port, 'calc 1+1\n', { timeoutMs: 3000 });
    expect(out).toBe('2\nnexo: no input for 300 ms; closing the connection\n');
  });
});
