import type { FastifyInstance } from 'fastify';
import { NexoError } from '../../errors.js';
import { sendError } from '../errors.js';
import type { GatewayNode } from '../types.js';

/**
 * `/healthz`: the process is alive and serving HTTP. `/readyz`: it takes new traffic; 503 while it drains,
 * so a load balancer stops sending new clients before the node stops.
 */
export function registerHealth(app: FastifyInstance, node: GatewayNode): void {
  app.get('/healthz', async () => ({ status: 'ok', node: node.nodeId }));
  app.get('/readyz', async (_request, reply) => {
    if (node.draining) {
      return sendError(
        reply,
        new NexoError('SHUTTING_DOWN', 'the node is draining and takes no new traffic', {
          node: node.nodeId,
        }),
      );
    }
    return { status: 'ready', node: node.nodeId };
  });
}
