import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { NexoError } from '../../errors.js';
import { sendError } from '../errors.js';
import type { GatewayNode } from '../types.js';

/**
 * `GET /metrics`: Prometheus's text format, every value read from the node's counters now (docs/http.md).
 * With `http.metricsToken`, only a scraper presenting it as a bearer token gets them: 401 otherwise.
 */
export function registerMetrics(app: FastifyInstance, node: GatewayNode): void {
  const token = node.options.http.metricsToken;
  const expected = token === undefined ? undefined : Buffer.from(`Bearer ${token}`);
  app.get('/metrics', async (request, reply) => {
    if (expected !== undefined && !matches(request.headers.authorization, expected)) {
      reply.header('www-authenticate', 'Bearer realm="nexo metrics"');
      return sendError(
        reply,
        new NexoError('AUTH_FAILED', '/metrics needs "Authorization: Bearer <the --metrics-token>"'),
      );
    }
    const text = await node.metrics.text();
    return reply.header('content-type', node.metrics.contentType).send(text);
  });
}

/** Constant-time comparison, so the token cannot be guessed a byte at a time from response times. */
function matches(header: string | undefined, expected: Buffer): boolean {
  if (header === undefined) return false;
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
