import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { FrameType, PREFACE } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { packValue, unpackValue } from '../../src/protocol/payload.js';
import { startNode, textSession } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';

let node: (NexoNode & { port: number }) | undefined;
afterEach(() => node?.close({ timeoutMs: 1000 }));

function hold(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => {
      socket.write('ping\n'); // a text session, held open
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe('connections per client address on the protocol port (§7.6.1)', () => {
  it('refuses one connection over the cap in its mode, counts it, and frees the place on close', async () => {
    node = await startNode({ maxConnectionsPerAddress: 3, maxClients: 4 });
    const port = node.port;
    const held = await Promise.all([1, 2, 3].map(() => hold(port, '127.0.0.2')));
    await new Promise((r) => setTimeout(r, 100));
    // Text mode: one line with the code, then the node closes.
    const over = await new Promise<string>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => s.write('ping\n'));
      let out = '';
      s.on('data', (d) => (out += d));
      s.on('close', () => resolve(out));
      s.on('error', () => {});
    });
    expect(over).toMatch(
      /^error: this address already has 3 connections open .* \(TOO_MANY_CONNECTIONS\)\n$/,
    );
    // Binary: preface and ERROR id 0 TOO_MANY_CONNECTIONS.
    const raw = await new Promise<net.Socket>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => resolve(s));
    });
    const peer = await RawPeer.connect(async () => raw);
    peer.write(PREFACE);
    peer.write(encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1] })));
    const frames = await peer.closedByServer(3000);
    const error = frames.find((f) => f.type === FrameType.ERROR);
    expect(error?.id).toBe(0);
    expect(unpackValue(error!.payload as Uint8Array)).toMatchObject({
      code: 'TOO_MANY_CONNECTIONS',
      details: { limit: 3 },
    });
    expect(node.stats.limits.connections_per_address).toBe(2);
    // The refused ones held no client slot: the fourth slot is free for a client from another address.
    expect(await textSession(port, 'ping\n', { until: /pong\n/ })).toBe('pong\n');
    // One of the three leaves: the address may connect again.
    held[0]!.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const again = await hold(port, '127.0.0.2');
    const reply = await new Promise<string>((resolve) => again.once('data', (d) => resolve(String(d))));
    expect(reply).toBe('pong\n');
    for (const s of [...held, again]) s.destroy();
  });

  it('0 means no limit', async () => {
    node = await startNode({ maxConnectionsPerAddress: 0 });
    const held = await Promise.all(Array.from({ length: 20 }, () => hold(node!.port, '127.0.0.3')));
    await new Promise((r) => setTimeout(r, 100));
    expect(node.stats.limits.connections_per_address).toBeUndefined();
    for (const s of held) s.destroy();
  });
});
