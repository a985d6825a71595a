import type { FastifyInstance } from 'fastify';
import { NexoError } from '../../errors.js';
import { sendError } from '../errors.js';
import type { GatewayNode } from '../types.js';

/**
 * `/healthz`: the process is alive and serving HTTP. `/readyz`: it takes new traffic; 503 while it drains,
 * so a load balancer stops sending new clients before the node stops, and 503 while a shared engine
 * (PostgreSQL, NATS) is unreachable, so clients go to a node that can serve them; 200 again by itself when
 * the engine is back (each connection probes or reconnects on its own).
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
    const engines = node.engineHealth();
    const down = engines.filter((e) => !e.up);
    if (down.length > 0) {
      return sendError(
        reply,
        new NexoError(
          'STORAGE_UNAVAILABLE',
          `not ready: ${down.map((e) => `${e.engine} at ${e.url} is unreachable (${e.error ?? 'down'})`).join('; ')}`,
          { node: node.nodeId, engines },
        ),
      );
    }
    return engines.length === 0
      ? { status: 'ready', node: node.nodeId }
      : { status: 'ready', node: node.nodeId, engines };
  });
}
