import type { Duplex } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { FrameType, PREFACE } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { packValue } from '../../src/protocol/payload.js';
import { startNode } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { clientOver, TRANSPORTS, type Transport } from '../helpers/transports.js';

let node: NexoNode & { port: number };

beforeAll(async () => {
  node = await startNode({
    handshakeTimeout: 500,
    slowPeerTimeout: 500,
    maxOutbound: '2MiB',
    maxFrame: '64KiB',
    http: { port: 0 },
  });
});
afterAll(() => node.close({ timeoutMs: 2000 }));

/** A well-behaved client that must keep working while others misbehave. */
async function healthy(transport: Transport): Promise<() => Promise<number>> {
  const client = await clientOver(transport, node);
  return async () => {
    const started = performance.now();
    expect(await client.echo.echo('ok')).toBe('ok');
    return performance.now() - started;
  };
}

describe.each(TRANSPORTS)('hostile peers (§4.4, §7.4) over $name', (transport) => {
  const dial = () => transport.dial(node);

  it('decodes a session written one byte per write', async () => {
    const stream = Buffer.concat([
      PREFACE,
      encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1] })),
      encodeFrame(FrameType.REQUEST, 0, 1, packValue(['calc', 'eval', { expr: '2*(3+4)' }])),
    ]);
    const peer = await RawPeer.connect(dial);
    for (const byte of stream) {
      peer.write(Uint8Array.of(byte));
      await new Promise((r) => setImmediate(r));
    }
    expect((await peer.next()).type).toBe(FrameType.WELCOME);
    expect((await peer.reply(1)).value).toEqual({ value: '14' });
    peer.close();
  });

  it('decodes many frames coalesced into one write', async () => {
    const frames = [PREFACE, encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1] }))];
    for (let i = 1; i <= 200; i++)
      frames.push(encodeFrame(FrameType.REQUEST, 0, i, packValue(['echo', 'echo', i])));
    const peer = await RawPeer.connect(dial);
    peer.write(Buffer.concat(frames));
    expect((await peer.next()).type).toBe(FrameType.WELCOME);
    for (let i = 1; i <= 200; i++) expect((await peer.reply(i)).value).toBe(i);
    peer.close();
  });

  it('closes a connection that sends garbage after the handshake with PROTOCOL_ERROR; others are unaffected', async () => {
    const check = await healthy(transport);
    const peer = await RawPeer.open(dial);
    peer.write(Buffer.from('this is not a frame at all, just some text\n'.repeat(10)));
    const frames = await peer.closedByServer();
    expect(frames.some((f) => f.type === FrameType.ERROR && f.id === 0)).toBe(true);
    await check();
  });

  it('drops a client that never reads its replies once its buffer stays full, without stalling others', async () => {
    const check = await healthy(transport);
    const socket = await dial();
    socket.pause(); // never read
    socket.on('error', () => {});
    const closed = new Promise((r) => socket.once('close', r));
    socket.write(Buffer.concat([PREFACE, encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1] }))]));
    const big = 'x'.repeat(60_000);
    let id = 1;
    // It keeps sending while its own socket takes bytes, and never reads a reply.
    const pump = setInterval(() => {
      if (socket.destroyed || socket.writableNeedDrain) return;
      const burst = [];
      for (let i = 0; i < 20; i++)
        burst.push(encodeFrame(FrameType.REQUEST, 0, id++, packValue(['echo', 'echo', big])));
      socket.write(Buffer.concat(burst));
    }, 5);
    // A healthy client keeps asking, one request after another, for as long as the attack lasts.
    const latencies: number[] = [];
    let attacking = true;
    const watcher = (async () => {
      while (attacking) latencies.push(await check());
    })();
    await closed;
    attacking = false;
    clearInterval(pump);
    await watcher;
    latencies.push(await check());
    expect(latencies.length).toBeGreaterThan(1);
    expect(Math.max(...latencies)).toBeLessThan(250);
  });

  it('slowloris: idle sockets are closed at the handshake deadline while a healthy client is served', async () => {
    const check = await healthy(transport);
    const before = node.connectionCount;
    const sockets: Duplex[] = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const s = await dial();
        s.on('error', () => {});
        s.resume();
        return s;
      }),
    );
    // Half send a partial preface, half nothing.
    for (const s of sockets.slice(0, 25)) s.write(Uint8Array.of(0x8e, 0x4e));
    await check();
    const started = Date.now();
    await Promise.all(sockets.map((s) => new Promise((r) => (s.destroyed ? r(null) : s.once('close', r)))));
    expect(Date.now() - started).toBeLessThan(2000);
    // The server sees each close a moment after the client does.
    for (let i = 0; i < 100 && node.connectionCount > before; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(node.connectionCount).toBe(before);
    await check();
  });

  it('property: random bytes after a valid handshake never crash the node', async () => {
    const check = await healthy(transport);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 5 }),
        async (chunks) => {
          const peer = await RawPeer.open(dial);
          for (const c of chunks) peer.write(c);
          await new Promise((r) => setTimeout(r, 5));
          peer.close();
        },
      ),
      { numRuns: 60 },
    );
    await check();
  });
});
