import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { Flags, FrameType, PREFACE } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { packValue, unpackValue } from '../../src/protocol/payload.js';
import { builtinServices } from '../../src/services/index.js';
import { startNode } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { slowService } from '../helpers/slow-service.js';
import { clientOver, TRANSPORTS } from '../helpers/transports.js';

let node: NexoNode & { port: number };

beforeAll(async () => {
  node = await startNode(
    { maxFrame: 4096, maxInFlight: 8, http: { port: 0 } },
    { services: [...builtinServices(), slowService] },
  );
});
afterAll(() => node.close({ timeoutMs: 2000 }));

describe.each(TRANSPORTS)('requests (spec §6) over $name', (transport) => {
  const dial = () => transport.dial(node);

  it('200 concurrent clients each pipelining 100 mixed calc/greet requests get every reply, correctly matched', async () => {
    const big = await startNode({ http: { port: 0 } });
    try {
      const clients = await Promise.all(
        Array.from({ length: 200 }, (_, c) => clientOver(transport, big, `load-${c}`)),
      );
      const results = await Promise.all(
        clients.map((client, c) =>
          Promise.all(
            Array.from({ length: 100 }, (_, i) =>
              i % 2 === 0
                ? client.calc
                    .eval(`${c} * 1000 + ${i} + 0.5`)
                    .then((r) => ({ got: r.value, want: String(c * 1000 + i + 0.5) }))
                : client.greet
                    .hello([`n${c}-${i}`], 'en')
                    .then((r) => ({ got: r.greetings[0], want: `Hello, n${c}-${i}!` })),
            ),
          ),
        ),
      );
      const flat = results.flat();
      expect(flat).toHaveLength(20_000);
      expect(flat.filter((r) => r.got !== r.want)).toEqual([]);
      await Promise.all(clients.map((c) => c.close()));
    } finally {
      await big.close({ timeoutMs: 2000 });
    }
  });

  it('answers out of order: a slow request does not hold back a fast one behind it', async () => {
    const peer = await RawPeer.open(dial);
    // In one write, so the node reads all three at once: written one by one, the last could be read after
    // the worker pool had answered the second (seen under load in the full suite).
    const [slow, heavy, fast] = peer.requests([
      ['slow', 'sleep', { ms: 200 }],
      ['calc', 'eval', { expr: 'sin(1e100)' }], // runs in the worker pool
      ['echo', 'echo', 'quick'],
    ]) as [number, number, number];
    expect((await peer.next()).id).toBe(fast);
    expect(await peer.reply(heavy)).toMatchObject({ type: FrameType.RESPONSE });
    expect(await peer.reply(slow)).toMatchObject({ type: FrameType.RESPONSE, value: { slept: 200 } });
    peer.close();
  });

  it('reports bad requests on their own id and keeps the connection', async () => {
    const peer = await RawPeer.open(dial);
    const cases: [Uint8Array, string][] = [
      [packValue(['nope', 'x', null]), 'UNKNOWN_SERVICE'],
      [packValue(['calc', 'nope', null]), 'UNKNOWN_METHOD'],
      [packValue(['calc', 'eval', { expr: 42 }]), 'INVALID_ARGS'],
      [packValue(['calc', 'eval', { expr: '1', extra: true }]), 'INVALID_ARGS'],
      [packValue({ service: 'calc' }), 'BAD_REQUEST'],
      [packValue([1, 2, 3]), 'BAD_REQUEST'],
      [Uint8Array.of(0x93, 0xa4), 'BAD_REQUEST'], // truncated MessagePack
      [Uint8Array.of(0xc1), 'BAD_REQUEST'], // never-used byte
      [packValue(['calc', 'eval', { expr: '1+' }]), 'CALC_SYNTAX'],
    ];
    let id = 100;
    for (const [payload, code] of cases) {
      peer.send(FrameType.REQUEST, 0, ++id, payload);
      const reply = await peer.reply(id);
      expect(reply.type, code).toBe(FrameType.ERROR);
      expect(reply.value).toMatchObject({ code });
    }
    const ok = peer.request('echo', 'echo', 'still here');
    expect((await peer.reply(ok)).value).toBe('still here');
    peer.close();
  });

  it('rejects an oversize REQUEST from its header, finishes the requests before it, then GOAWAY and close', async () => {
    const peer = await RawPeer.open(dial);
    const before = peer.request('slow', 'sleep', { ms: 100 });
    peer.send(FrameType.REQUEST, 0, 9, packValue(['echo', 'echo', 'x'.repeat(10_000)]));
    const after = peer.request('echo', 'echo', 'never read');
    const reply = await peer.reply(9);
    expect(reply.type).toBe(FrameType.ERROR);
    expect(reply.value).toMatchObject({
      code: 'FRAME_TOO_LARGE',
      details: { limit: 4096, length: expect.any(Number) },
    });
    expect(await peer.reply(before)).toMatchObject({ type: FrameType.RESPONSE, value: { slept: 100 } });
    const frames = await peer.closedByServer();
    expect(frames.some((f) => f.type === FrameType.GOAWAY)).toBe(true);
    expect(frames.some((f) => f.id === after)).toBe(false); // never processed: safe to send again (§7.3.2)
  });

  it('the client library refuses an oversize request itself and keeps its connection', async () => {
    const client = await clientOver(transport, node);
    await expect(client.echo.echo('x'.repeat(10_000))).rejects.toMatchObject({ code: 'FRAME_TOO_LARGE' });
    expect(await client.echo.echo('fine')).toBe('fine');
    await client.close();
  });

  it('treats a reused open id as a protocol error', async () => {
    const peer = await RawPeer.open(dial);
    peer.request('slow', 'sleep', { ms: 2000 }, 5);
    peer.request('echo', 'echo', 1, 5);
    const frames = await peer.closedByServer();
    const fatal = frames.find((f) => f.type === FrameType.ERROR && f.id === 0);
    expect(unpackValue(fatal!.payload!)).toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('cancels a request: ERROR CANCELLED at once, no late RESPONSE', async () => {
    const peer = await RawPeer.open(dial);
    const id = peer.request('slow', 'sleep', { ms: 5000 });
    peer.send(FrameType.CANCEL, 0, id);
    const reply = await peer.reply(id);
    expect(reply.value).toMatchObject({ code: 'CANCELLED' });
    const ok = peer.request('echo', 'echo', 'next');
    expect((await peer.reply(ok)).value).toBe('next');
    await new Promise((r) => setTimeout(r, 300));
    expect(peer.frames.filter((f) => f.id === id)).toEqual([]);
    peer.close();
  });

  it('ends a subscription on CANCEL: progress, events, then a final reply (§6.3, §6.5)', async () => {
    const peer = await RawPeer.open(dial);
    const id = peer.request('slow', 'watch', { every: 10 });
    const progress = await peer.next();
    expect(progress).toMatchObject({ type: FrameType.RESPONSE, flags: Flags.MORE, id });
    // Events every 10 ms: CANCEL once three have come (a fixed 60 ms saw only two on a loaded machine).
    const events = () => peer.frames.filter((f) => f.id === id && f.type === FrameType.EVENT).length;
    for (const deadline = Date.now() + 5000; events() < 3 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    peer.send(FrameType.CANCEL, 0, id);
    const reply = await peer.reply(id);
    expect(reply.value).toMatchObject({ code: 'CANCELLED' });
    expect(reply.others.filter((f) => f.type === FrameType.EVENT).length).toBeGreaterThanOrEqual(3);
    peer.close();
  });

  it.each([
    ['node', 'watch', { intervalMs: 200 }],
    ['chat', 'join', { room: 'cancel-room', nick: 'ana' }],
    ['telemetry', 'watch', { sensors: ['cancel-sensor'] }],
  ])(
    'CANCEL of %s.%s ends it with ERROR CANCELLED and no RESPONSE (§6.6.1)',
    async (service, method, args) => {
      const peer = await RawPeer.open(dial);
      const id = peer.request(service, method, args);
      await new Promise((r) => setTimeout(r, 100));
      peer.send(FrameType.CANCEL, 0, id);
      const reply = await peer.reply(id);
      expect(reply.type).toBe(FrameType.ERROR);
      expect(reply.value).toMatchObject({ code: 'CANCELLED' });
      await new Promise((r) => setTimeout(r, 200));
      const late = peer.frames.filter(
        (f) => f.id === id && f.type === FrameType.RESPONSE && !(f.flags & Flags.MORE),
      );
      expect(late).toEqual([]);
      peer.close();
    },
  );

  it('a client ERROR id 0 sent with HELLO still gets the preface and WELCOME, then a close (§7.5.2)', async () => {
    const peer = await RawPeer.connect(dial);
    peer.write(
      Buffer.concat([
        PREFACE,
        encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1], client: 'raw-test' })),
        encodeFrame(FrameType.ERROR, 0, 0, packValue({ code: 'PROTOCOL_ERROR', message: 'bye' })),
      ]),
    );
    const frames = await peer.closedByServer();
    expect(frames.map((f) => f.type)).toEqual([FrameType.WELCOME]);
  });

  it('a client ERROR id 0 abandons its open requests and closes; the node sends no ERROR (§7.5.2)', async () => {
    const peer = await RawPeer.open(dial);
    const id = peer.request('slow', 'sleep', { ms: 5000 });
    peer.send(FrameType.ERROR, 0, 0, packValue({ code: 'PROTOCOL_ERROR', message: 'cannot decode' }));
    const frames = await peer.closedByServer();
    expect(frames.filter((f) => f.id === id || f.type === FrameType.ERROR)).toEqual([]);
  });

  it('a client ERROR on a request id is a fatal PROTOCOL_ERROR (§4.2.1)', async () => {
    const peer = await RawPeer.open(dial);
    const id = peer.request('slow', 'sleep', { ms: 5000 });
    peer.send(FrameType.ERROR, 0, id, packValue({ code: 'INTERNAL', message: 'x' }));
    const frames = await peer.closedByServer();
    const fatal = frames.find((f) => f.type === FrameType.ERROR && f.id === 0);
    expect(unpackValue(fatal!.payload!)).toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('answers PING with PONG carrying the same payload', async () => {
    const peer = await RawPeer.open(dial);
    peer.send(FrameType.PING, 0, 0, Uint8Array.of(1, 2, 3));
    const pong = await peer.next();
    expect(pong.type).toBe(FrameType.PONG);
    expect([...pong.payload]).toEqual([1, 2, 3]);
    peer.close();
  });

  it('streams chunks both ways (echo.stream, §6.4)', async () => {
    const peer = await RawPeer.open(dial);
    const id = peer.request('echo', 'stream', null);
    const sent: number[] = [];
    for (let i = 0; i < 50; i++) {
      const chunk = new Uint8Array(1000).fill(i);
      sent.push(...chunk);
      peer.send(FrameType.CHUNK, i === 49 ? Flags.END : 0, id, chunk);
    }
    const reply = await peer.reply(id);
    expect(reply.value).toEqual({ bytes: 50_000, chunks: 50 });
    const chunks = reply.others.filter((f) => f.type === FrameType.CHUNK);
    expect(chunks.at(-1)!.flags & Flags.END).toBe(Flags.END);
    expect(Buffer.concat(chunks.map((c) => c.payload))).toEqual(Buffer.from(sent));
    peer.close();
  });

  it('stops reading past maxInFlight busy requests instead of buffering them, then answers them all', async () => {
    const peer = await RawPeer.open(dial);
    const started = Date.now();
    const ids = Array.from({ length: 40 }, () => peer.request('slow', 'sleep', { ms: 50 }));
    const replies = await Promise.all(ids.map((id) => peer.reply(id, 20_000)));
    expect(replies.every((r) => r.type === FrameType.RESPONSE)).toBe(true);
    // 8 at a time (maxInFlight), never 40 at once: five rounds of 50 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    peer.close();
  });
});
