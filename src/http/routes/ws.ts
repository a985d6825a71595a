import type { FastifyInstance } from 'fastify';
import { NexoError } from '../../errors.js';
import { webSocketConduit } from '../../transport/websocket.js';
import { sendError } from '../errors.js';
import { type GatewayNode, secureSide } from '../types.js';

/** RFC 6455 close code 1001: the server is going away. */
const GOING_AWAY = 1001;

/**
 * `/ws`: the nexo protocol over WebSocket (spec §2.3). The socket becomes a byte stream handed to the node,
 * which from there treats it like a TCP connection: mode sniffing, handshake, slots, backpressure.
 */
export function registerWebSocket(app: FastifyInstance, node: GatewayNode): void {
  app.route({
    method: 'GET',
    url: '/ws',
    handler: (_request, reply) =>
      sendError(
        reply.header('upgrade', 'websocket'),
        new NexoError(
          'UPGRADE_REQUIRED',
          '/ws speaks the nexo protocol over WebSocket; connect with a WebSocket client (binary messages)',
        ),
      ),
    wsHandler: (socket, request) => {
      if (node.draining) {
        socket.close(GOING_AWAY, 'the node is shutting down');
        return;
      }
      node.accept(
        webSocketConduit(socket, {
          address: request.socket.remoteAddress ?? 'unknown',
          port: request.socket.remotePort ?? 0,
          ...secureSide(request),
        }),
      );
    },
  });
}
