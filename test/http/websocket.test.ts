import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { NexoClient } from '../../src/client/client.js';
import { nodeWebSocketFactory } from '../../src/client/ws-node.js';
import type { NexoNode } from '../../src/node/node.js';
import { FrameType, PREFACE } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { packValue } from '../../src/protocol/payload.js';
import { rawHttp } from '../helpers/http.js';
import { freePort, startNode } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { clientOver, dialWebSocket, httpPort, ws, wsUrl } from '../helpers/transports.js';

/**
 * What is particular to the WebSocket transport (spec §2.3): binary messages only, message limits, the
 * upgrade itself, the subprotocol, and the client library over it. The protocol rules themselves are checked
 * over WebSocket by the shared suites (test/server/*.test.ts run once per transport).
 */
let node: NexoNode & { port: number };

beforeAll(async () => {
  node = await startNode({
    nodeId: 'ws-node',
    http: { port: 0, wsMaxMessage: '64KiB', maxConnectionsPerIp: 30 },
  });
});
afterAll(() => node.close({ timeoutMs: 2000 }));

/** Opens a raw `ws` socket and resolves with how it closed. */
function closeOf(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
}

function opened(url: string, protocols?: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('WebSocket transport (/ws)', () => {
  it('carries the protocol in binary messages whatever their boundaries: a whole session in one message', async () => {
    const socket = await opened(wsUrl(node));
    const frames = Buffer.concat([
      PREFACE,
      encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1] })),
      encodeFrame(FrameType.REQUEST, 0, 1, packValue(['calc', 'eval', { expr: '6*7' }])),
    ]);
    const received: Buffer[] = [];
    socket.on('message', (data) => received.push(data as Buffer));
    socket.send(frames);
    await expect.poll(() => Buffer.concat(received).includes(Buffer.from('42'))).toBe(true);
    socket.close();
  });

  it('closes with 1003 when a text message arrives', async () => {
    const socket = await opened(wsUrl(node));
    const closed = closeOf(socket);
    socket.send('calc 1+1\n');
    expect(await closed).toEqual({ code: 1003, reason: 'nexo over WebSocket uses binary messages only' });
  });

  it('closes with 1009 when a message exceeds http.wsMaxMessage, and the node goes on', async () => {
    const socket = await opened(wsUrl(node));
    const closed = closeOf(socket);
    socket.send(randomBytes(65 * 1024));
    expect((await closed).code).toBe(1009);
    const client = await clientOver(ws, node);
    expect(await client.echo.echo('fine')).toBe('fine');
    await client.close();
  });

  it('answers garbage in binary messages like garbage on TCP: NOT_NEXO, then closes', async () => {
    const peer = await RawPeer.connect(() => dialWebSocket(wsUrl(node)));
    peer.write(Uint8Array.of(0x8e, 0x00, 0x01, 0x02, 0x03));
    const frames = await peer.closedByServer();
    expect(frames.some((f) => f.type === FrameType.ERROR && f.id === 0)).toBe(true);
  });

  it('refuses a plain GET (426) and upgrades that are not WebSocket handshakes, without crashing', async () => {
    const plain = await rawHttp(httpPort(node), 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(plain.status).toBe(426);
    expect(JSON.parse(plain.body)).toMatchObject({ error: { code: 'UPGRADE_REQUIRED' } });
    expect(plain.headers['x-nexo-node']).toBe('ws-node');
    const badVersion = await rawHttp(
      httpPort(node),
      'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 7\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(badVersion.status).toBeGreaterThanOrEqual(400);
    const noKey = await rawHttp(
      httpPort(node),
      'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    expect(noKey.status).toBeGreaterThanOrEqual(400);
    // An upgrade on a path that is not /ws is refused before it happens.
    await expect(opened(`ws://127.0.0.1:${httpPort(node)}/api`)).rejects.toThrow(/404/);
    await expect(opened(`ws://127.0.0.1:${httpPort(node)}/healthz`)).rejects.toThrow(/404/);
    const client = await clientOver(ws, node);
    expect(await client.calc.eval('1+1')).toEqual({ value: '2' });
    await client.close();
  });

  it('names the node in the upgrade response', async () => {
    const socket = new WebSocket(wsUrl(node));
    const headers = await new Promise<Record<string, string | string[] | undefined>>((resolve) =>
      socket.once('upgrade', (response) => resolve(response.headers)),
    );
    expect(headers['x-nexo-node']).toBe('ws-node');
    socket.close();
  });

  it('selects the `nexo` subprotocol when offered and refuses a list without it', async () => {
    const withNexo = await opened(wsUrl(node), ['chat', 'nexo']);
    expect(withNexo.protocol).toBe('nexo');
    withNexo.close();
    const none = await opened(wsUrl(node));
    expect(none.protocol).toBe('');
    none.close();
    await expect(opened(wsUrl(node), ['mqtt'])).rejects.toThrow();
  });

  it('counts WebSocket connections against the per-address cap', async () => {
    const held = await Promise.all(Array.from({ length: 30 }, () => opened(wsUrl(node))));
    try {
      await new Promise((r) => setTimeout(r, 50));
      await expect(opened(wsUrl(node))).rejects.toThrow(/429/);
    } finally {
      for (const socket of held) socket.terminate();
    }
    // The node sees the sockets go a moment later.
    await expect
      .poll(() => {
        const open = node.openConnections();
        return (open.ws ?? 0) + (open.http ?? 0);
      })
      .toBe(0);
  });

  it('shows WebSocket connections under their transport in node.stats', async () => {
    const client = await clientOver(ws, node);
    const stats = await client.node.stats();
    expect(stats.connections.ws).toBeGreaterThanOrEqual(1);
    expect(stats.connections.total).toBeGreaterThanOrEqual(1);
    await client.close();
  });

  it('streams 8 MiB up and back through echo.stream over the client library, byte for byte', async () => {
    const client = await clientOver(ws, node);
    const data = randomBytes(8 * 1024 * 1024);
    const received: Buffer[] = [];
    const call = await client.call('echo', 'stream', null, {
      onChunk: (bytes) => received.push(Buffer.from(bytes)),
    });
    const chunk = 256 * 1024;
    for (let at = 0; at < data.length; at += chunk) await call.write(data.subarray(at, at + chunk));
    await call.end();
    expect(await call.result).toEqual({ bytes: data.length, chunks: data.length / chunk });
    expect(Buffer.concat(received).equals(data)).toBe(true);
    await client.close();
  });
});

describe('the client library over WebSocket', () => {
  it('reconnects by itself when the node restarts on the same address', async () => {
    const port = await freePort();
    let first: (NexoNode & { port: number }) | undefined = await startNode({
      nodeId: 'first',
      http: { port },
    });
    const client = new NexoClient({
      endpoints: [`127.0.0.1:${port}`],
      socketFactory: nodeWebSocketFactory(),
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    const states: string[] = [];
    client.on('connect', ({ welcome }) => states.push(`connect ${welcome.node}`));
    client.on('reconnecting', () => states.push('reconnecting'));
    await client.connect();
    expect((await client.node.info()).node).toBe('first');
    await first.close({ timeoutMs: 1000 });
    first = undefined;
    await expect.poll(() => states.includes('reconnecting')).toBe(true);
    const second = await startNode({ nodeId: 'second', http: { port } });
    try {
      await expect.poll(() => states.at(-1), { timeout: 5000 }).toBe('connect second');
      expect((await client.node.info()).node).toBe('second');
    } finally {
      client.destroy();
      await second.close({ timeoutMs: 1000 });
    }
  });

  it('explains a refused connection the same way as over TCP', async () => {
    const port = await freePort();
    const client = new NexoClient({
      endpoints: [`127.0.0.1:${port}`],
      socketFactory: nodeWebSocketFactory(),
      reconnect: false,
    });
    await expect(client.connect()).rejects.toMatchObject({ code: 'CONNECTION_REFUSED' });
  });

  it('is told GOAWAY when the node drains; subscriptions end with SHUTTING_DOWN', async () => {
    const draining = await startNode({ http: { port: 0 } });
    const client = await clientOver(ws, draining);
    const goaway = new Promise((resolve) => client.on('goaway', resolve));
    let first: () => void = () => {};
    const watching = new Promise<void>((resolve) => {
      first = resolve;
    });
    const watch = await client.node.watch(() => first(), { intervalMs: 200 });
    await watching; // the node has the subscription (before that, closing would just lose the request)
    const closed = draining.close({ timeoutMs: 2000 });
    expect(await goaway).toMatchObject({ code: 'SHUTTING_DOWN' });
    await expect(watch.result).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await closed;
    client.destroy();
  });
});
