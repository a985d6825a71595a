import type { FastifyInstance } from 'fastify';
import { NexoError } from '../errors.js';
import { rawErrorResponse } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route streams its body into a service (an upload of any size): it has no deadline for the whole
     * body, only for silence (no byte for the request timeout).
     */
    streamingBody?: boolean;
  }
}

/**
 * Deadlines for request bodies. Node's own `requestTimeout` counts the whole request, which an upload of
 * gigabytes cannot meet, so Node only times the headers (`headersTimeout`) and this hook times bodies: a
 * body must arrive completely within `timeoutMs` (slowloris), except on `streamingBody` routes, where it must
 * only keep moving (no byte for `timeoutMs`). Either way the client gets 408 `REQUEST_TIMEOUT` (if nothing
 * was answered yet) and the connection is closed.
 */
export function registerBodyTimeouts(app: FastifyInstance, timeoutMs: number, nodeId: () => string): void {
  const every = Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4)));
  app.addHook('onRequest', async (request, reply) => {
    const raw = request.raw;
    // A WebSocket upgrade has no body; its socket belongs to the WebSocket from here on.
    if (raw.complete || request.headers.upgrade !== undefined) return;
    const socket = raw.socket;
    const streaming = request.routeOptions.config?.streamingBody === true;
    const started = Date.now();
    let lastBytes = socket.bytesRead;
    let lastProgress = started;
    const timer = setInterval(() => {
      if (raw.complete || socket.destroyed) return stop();
      const now = Date.now();
      if (socket.bytesRead !== lastBytes) {
        lastBytes = socket.bytesRead;
        lastProgress = now;
      }
      const late = streaming ? now - lastProgress >= timeoutMs : now - started >= timeoutMs;
      if (!late) return;
      stop();
      const error = new NexoError(
        'REQUEST_TIMEOUT',
        streaming
          ? `the request body stopped arriving for ${timeoutMs} ms (--http-request-timeout)`
          : `the request did not arrive completely within ${timeoutMs} ms (--http-request-timeout)`,
      );
      if (!reply.raw.headersSent && socket.writable) socket.write(rawErrorResponse(error, nodeId()));
      socket.destroy();
    }, every);
    timer.unref();
    const stop = () => {
      clearInterval(timer);
      raw.off('end', stop);
      reply.raw.off('close', stop);
    };
    raw.once('end', stop);
    reply.raw.once('close', stop);
  });
}
