import { afterEach, describe, expect, it } from 'vitest';
import { NexoClient } from '../../src/client/client.js';
import { tcpSocketFactory } from '../../src/client/tcp.js';
import type { NexoNode } from '../../src/node/node.js';
import { FrameType, PREFACE } from '../../src/protocol/constants.js';
import { packValue, unpackValue } from '../../src/protocol/payload.js';
import { startNode, textSession } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';

let node: (NexoNode & { port: number }) | undefined;
afterEach(() => node?.close({ timeoutMs: 1000 }));

describe('client slots and the wait queue (spec §7.1)', () => {
  it('--max-clients 1 serves one client at a time; the next is told it waits, then served', async () => {
    node = await startNode({ maxClients: 1 });
    const first = new NexoClient({ endpoints: [`127.0.0.1:${node.port}`], socketFactory: tcpSocketFactory });
    await first.connect();

    const second = new NexoClient({ endpoints: [`127.0.0.1:${node.port}`], socketFactory: tcpSocketFactory });
    const positions: number[] = [];
    second.on('queued', (p) => positions.push(p));
    let connected = false;
    const secondReady = second.connect().then(() => {
      connected = true;
    });

    await new Promise((r) => setTimeout(r, 200));
    expect(positions).toEqual([1]);
    expect(connected).toBe(false);
    // A person typing is told too, in words.
    const text = textSession(node.port, 'calc 1+1\nfim\n', { timeoutMs: 8000 });
    await new Promise((r) => setTimeout(r, 100));
    expect(await first.calc.eval('2+2')).toEqual({ value: '4' });

    await first.close(); // frees the slot: the second client is admitted
    await secondReady;
    expect(await second.calc.eval('3+3')).toEqual({ value: '6' });
    await second.close();

    expect(await text).toBe(
      'nexo: all client slots are busy; you are number 2 in line. Your input will be answered when a slot frees.\n2\n',
    );
  });

  it('refuses with SERVER_BUSY when the queue is full', async () => {
    node = await startNode({ maxClients: 1, maxQueue: 0 });
    const first = await RawPeer.open(node.port);
    const second = await RawPeer.connect(node.port);
    second.write(PREFACE);
    second.send(FrameType.HELLO, 0, 0, packValue({ versions: [1] }));
    const frames = await second.closedByServer();
    expect(unpackValue(frames.find((f) => f.type === FrameType.ERROR)!.payload!)).toMatchObject({
      code: 'SERVER_BUSY',
    });
    first.close();
  });

  it('refuses a client that waited longer than --queue-timeout', async () => {
    node = await startNode({ maxClients: 1, queueTimeout: 200 });
    const first = await RawPeer.open(node.port);
    const out = await textSession(node.port, 'calc 1\n', { timeoutMs: 3000 });
    expect(out).toMatch(
      /number 1 in line[\s\S]*error: no client slot became free within 200 ms \(SERVER_BUSY\)\n$/,
    );
    first.close();
  });
});
