import Fastify from 'fastify';
import { NexoError } from '../errors.js';
import { sendError } from './errors.js';
import { registerMetrics } from './routes/metrics.js';
import type { GatewayNode } from './types.js';

export interface MetricsServer {
  address(): { host: string; port: number };
  close(): Promise<void>;
}

/**
 * `--metrics-port`: `GET /metrics` (and `/healthz`) on a port of their own, plain HTTP, so a firewall can open
 * it to the Prometheus server alone. The HTTP gateway then serves no `/metrics`. The token, when set, is
 * asked for here too.
 */
export async function startMetricsServer(node: GatewayNode, port: number): Promise<MetricsServer> {
  const host = node.options.http.host;
  const app = Fastify({ logger: false, return503OnClosing: false });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-nexo-node', node.nodeId);
  });
  app.get('/healthz', async () => ({ status: 'ok', node: node.nodeId }));
  registerMetrics(app, node);
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new NexoError(
        'NOT_FOUND',
        `the metrics port serves GET /metrics only, not ${request.method} ${request.url}`,
      ),
    ),
  );
  await app.listen({ host, port, listenTextResolver: () => '' }).catch((err: unknown) => {
    const code = (err as { code?: string }).code;
    const why =
      code === 'EADDRINUSE'
        ? 'the port is already in use; choose another with --metrics-port'
        : (err as Error).message;
    throw new Error(`cannot listen for metrics on ${host}:${port}: ${why}`, { cause: err });
  });
  const bound = app.server.address();
  const address =
    typeof bound === 'object' && bound !== null ? { host: bound.address, port: bound.port } : { host, port };
  return { address: () => address, close: () => app.close() };
}
