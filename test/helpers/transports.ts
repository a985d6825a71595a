import net from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { createWebSocketStream } from 'ws';
import { NexoClient } from '../../src/client/client.js';
import type { SocketFactory } from '../../src/client/socket.js';
import { tcpSocketFactory } from '../../src/client/tcp.js';
import { nodeWebSocketFactory } from '../../src/client/ws-node.js';
import type { NexoNode } from '../../src/node/node.js';

type TestNode = NexoNode & { port: number };

/**
 * A transport the protocol runs over (spec §2). The frame-level suites (handshake, requests, robustness) run
 * once per transport, so TCP and WebSocket are held to the same rules. Nodes under test must start with the
 * HTTP gateway on (`http: { port: 0 }`).
 */
export interface Transport {
  readonly name: 'tcp' | 'ws';
  /** A raw byte stream to the node: exactly the bytes a client would send and receive. */
  dial(node: TestNode): Promise<Duplex>;
  /** Where the client library connects, and with which sockets. */
  endpoint(node: TestNode): string;
  readonly socketFactory: SocketFactory;
}

export const tcp: Transport = {
  name: 'tcp',
  dial: (node) =>
    new Promise((resolve, reject) => {
      const socket = net.connect({ port: node.port, host: '127.0.0.1', noDelay: true }, () =>
        resolve(socket),
      );
      socket.once('error', reject);
    }),
  endpoint: (node) => `127.0.0.1:${node.port}`,
  socketFactory: tcpSocketFactory,
};

export const ws: Transport = {
  name: 'ws',
  dial: (node) => dialWebSocket(wsUrl(node)),
  endpoint: (node) => `127.0.0.1:${httpPort(node)}`,
  socketFactory: nodeWebSocketFactory(),
};

export const TRANSPORTS: readonly Transport[] = [tcp, ws];

export function httpPort(node: NexoNode): number {
  const address = node.httpAddress();
  if (address === undefined) throw new Error('start the node with http: { port: 0 } for WebSocket tests');
  return address.port;
}

export function wsUrl(node: NexoNode, path = '/ws'): string {
  return `ws://127.0.0.1:${httpPort(node)}${path}`;
}

/** A WebSocket to `url` as a byte stream (binary messages both ways), once it is open. */
export function dialWebSocket(url: string, protocols?: string[]): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols);
    socket.once('open', () => {
      const stream = createWebSocketStream(socket);
      stream.on('error', () => {});
      // Like a TCP socket, the stream closes when the connection does, even if nobody read its end.
      socket.once('close', () => setImmediate(() => stream.destroy()));
      resolve(stream);
    });
    socket.once('error', reject);
  });
}

/** A connected client library instance over the transport. */
export async function clientOver(transport: Transport, node: TestNode, name = 'test'): Promise<NexoClient> {
  const client = new NexoClient({
    endpoints: [transport.endpoint(node)],
    socketFactory: transport.socketFactory,
    name,
    reconnect: false,
  });
  await client.connect();
  return client;
}
