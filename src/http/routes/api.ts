import type { FastifyReply } from 'fastify';
import { NexoError } from '../../errors.js';
import { sendError } from '../errors.js';
import type { RestContext } from '../types.js';

interface MethodParams {
  service: string;
  method: string;
}

/**
 * The generic part of the REST API: `GET /api` describes it, `POST /api/<service>/<method>` with the args as
 * a JSON body (or no body for none) calls any method that answers once. The JSON result is the method's
 * result, exactly as the protocol's RESPONSE carries it.
 */
export function registerApi(context: RestContext): void {
  const { app, node } = context;

  app.get('/api', async () => ({
    node: node.nodeId,
    protocol: { websocket: '/ws', docs: 'docs/http.md' },
    services: node.dispatcher.services.map((service) => ({
      name: service.name,
      description: service.description,
      methods: Object.entries(service.methods).map(([name, m]) => ({
        name,
        description: m.description,
        http:
          m.input === 'chunks' || m.longLived === true
            ? 'protocol only (WebSocket /ws or TCP)'
            : `POST /api/${service.name}/${name}`,
      })),
    })),
  }));

  app.post<{ Params: MethodParams }>('/api/:service/:method', async (request, reply) => {
    const args = request.body === undefined ? null : request.body;
    const result = await context.call(request, request.params.service, request.params.method, args);
    return sendJson(reply, result);
  });

  // A GET on a method path has no args to give: say how to call it instead of a bare 404.
  app.get<{ Params: MethodParams }>('/api/:service/:method', async (request, reply) => {
    const { service, method } = request.params;
    const known = node.dispatcher.catalog()[service]?.includes(method) === true;
    if (!known) {
      return sendError(
        reply,
        new NexoError('NOT_FOUND', `no route GET ${request.url}; GET /api lists the API`),
      );
    }
    return sendError(
      reply.header('allow', 'POST'),
      new NexoError(
        'METHOD_NOT_ALLOWED',
        `call ${service}.${method} with POST /api/${service}/${method} and its args as a JSON body`,
      ),
    );
  });
}

/**
 * Results are MessagePack values: they may hold 64-bit integers (bigint) or raw bytes, which JSON has no
 * form for. Integers become strings when they do not fit a double (as §4.5.3 allows), bytes become base64.
 */
export function sendJson(reply: FastifyReply, value: unknown): FastifyReply {
  const body = JSON.stringify(
    value === undefined ? null : value,
    function (this: Record<string, unknown>, key: string, v: unknown) {
      // `this[key]` is the value before toJSON ran (a Buffer would otherwise arrive as {type, data}).
      const original = this[key];
      if (original instanceof Uint8Array) {
        return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64');
      }
      if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
      return v;
    },
  );
  return reply.type('application/json; charset=utf-8').send(body);
}
