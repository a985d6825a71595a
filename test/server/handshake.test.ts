import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { FrameType, PREFACE } from '../../src/protocol/constants.js';
import { packValue, parseWelcome, unpackValue } from '../../src/protocol/payload.js';
import { startNode } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { TRANSPORTS } from '../helpers/transports.js';

let node: NexoNode & { port: number };

beforeAll(async () => {
  node = await startNode({
    handshakeTimeout: 300,
    auth: { tokens: { 'sekrit-token-1': 'admin' } },
    nodeId: 'hs-node',
    http: { port: 0 },
  });
});
afterAll(() => node.close({ timeoutMs: 1000 }));

describe.each(TRANSPORTS)('handshake (spec §5) over $name', (transport) => {
  const dial = () => transport.dial(node);

  it('answers preface + HELLO with the preface and a WELCOME that announces limits and services', async () => {
    const peer = await RawPeer.connect(dial);
    peer.write(PREFACE);
    peer.send(FrameType.HELLO, 0, 0, packValue({ versions: [1], client: 'test' }));
    const frame = await peer.next();
    expect(frame.type).toBe(FrameType.WELCOME);
    const welcome = parseWelcome(frame);
    expect(welcome).toMatchObject({ version: 1, node: 'hs-node', role: 'anonymous' });
    expect(welcome.limits).toEqual({
      maxFrame: 1 << 20,
      maxInFlight: 256,
      heartbeatMs: 30_000,
      idleTimeoutMs: 300_000,
    });
    expect(welcome.services.calc).toContain('eval');
    expect(welcome.services.greet).toContain('hello');
    peer.close();
  });

  it('chooses the highest common version and ignores versions it does not know', async () => {
    const peer = await RawPeer.open(dial, { versions: [7, 1, 3] });
    peer.close();
  });

  it('gives the role of a known token, refuses an unknown one with AUTH_FAILED', async () => {
    const admin = await RawPeer.connect(dial);
    admin.write(PREFACE);
    admin.send(FrameType.HELLO, 0, 0, packValue({ versions: [1], token: 'sekrit-token-1' }));
    expect(parseWelcome(await admin.next()).role).toBe('admin');
    admin.close();

    const stranger = await RawPeer.connect(dial);
    stranger.write(PREFACE);
    stranger.send(FrameType.HELLO, 0, 0, packValue({ versions: [1], token: 'wrong-token' }));
    const frame = await stranger.next();
    expect(frame).toMatchObject({ type: FrameType.ERROR, id: 0 });
    expect(unpackValue(frame.payload)).toMatchObject({ code: 'AUTH_FAILED' });
    await stranger.closedByServer();
  });

  const refusals: [string, (p: RawPeer) => void, string][] = [
    [
      'no common version',
      (p) => p.send(FrameType.HELLO, 0, 0, packValue({ versions: [2, 9] })),
      'UNSUPPORTED_VERSION',
    ],
    ['HELLO that is not a map', (p) => p.send(FrameType.HELLO, 0, 0, packValue([1, 2])), 'PROTOCOL_ERROR'],
    [
      'HELLO that is not MessagePack',
      (p) => p.send(FrameType.HELLO, 0, 0, Uint8Array.of(0xc1)),
      'PROTOCOL_ERROR',
    ],
    [
      'a REQUEST before HELLO',
      (p) => p.send(FrameType.REQUEST, 0, 1, packValue(['echo', 'echo', 1])),
      'PROTOCOL_ERROR',
    ],
    [
      'an unknown frame type',
      (p) => p.write(Uint8Array.of(0, 0, 0, 0, 0x7f, 0, 0, 0, 0, 0)),
      'PROTOCOL_ERROR',
    ],
    [
      'a HELLO over the 64 KiB handshake limit',
      (p) => p.send(FrameType.HELLO, 0, 0, new Uint8Array(70_000)),
      'FRAME_TOO_LARGE',
    ],
  ];
  for (const [what, send, code] of refusals) {
    it(`refuses ${what} with ${code} and closes`, async () => {
      const peer = await RawPeer.connect(dial);
      peer.write(PREFACE);
      send(peer);
      const frames = await peer.closedByServer();
      const error = frames.find((f) => f.type === FrameType.ERROR && f.id === 0);
      expect(error, `frames: ${JSON.stringify(frames.map((f) => f.type))}`).toBeDefined();
      expect(unpackValue(error!.payload!)).toMatchObject({ code });
    });
  }

  it('drops a client whose preface is wrong after the magic byte (NOT_NEXO)', async () => {
    const peer = await RawPeer.connect(dial);
    peer.write(Uint8Array.of(0x8e, 0x41, 0x42, 0x43, 0x44));
    const frames = await peer.closedByServer();
    expect(unpackValue(frames.at(-1)!.payload!)).toMatchObject({ code: 'NOT_NEXO' });
  });

  it('closes a connection that sends the preface but no HELLO within the deadline (HANDSHAKE_TIMEOUT)', async () => {
    const peer = await RawPeer.connect(dial);
    peer.write(PREFACE);
    const started = Date.now();
    const frames = await peer.closedByServer(3000);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(unpackValue(frames.at(-1)!.payload!)).toMatchObject({ code: 'HANDSHAKE_TIMEOUT' });
  });

  it('closes a connection that sends nothing at all (slowloris) after the deadline', async () => {
    const peer = await RawPeer.connect(dial);
    const started = Date.now();
    await peer.closedByServer(3000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});
