import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { CallContext } from '../contract/service.js';
import { NexoError, REQUEST_ID } from '../errors.js';
import { countLimit } from '../server/host.js';
import { type TlsContextMaterial, tlsServerOptions } from '../transport/tls.js';
import { clip } from '../util/clip.js';
import { registerBodyTimeouts } from './body-timeout.js';
import { ConnectionLimit } from './connection-limit.js';
import { clientError, fromFrameworkError, rawErrorResponse, sendError } from './errors.js';
import { headerLimitError, MAX_HEADER_BYTES } from './header-limit.js';
import { PipelineGuard } from './pipelining.js';
import { registerApi } from './routes/api.js';
import { registerHealth } from './routes/health.js';
import { BUILTIN_REST_MODULES } from './routes/index.js';
import { registerMetrics } from './routes/metrics.js';
import { registerStatic } from './routes/static.js';
import { registerWebSocket } from './routes/ws.js';
import { type GatewayNode, peerOf, type RestContext, type RestModule } from './types.js';

export interface HttpGateway {
  address(): { host: string; port: number };
  /** Open TCP connections on the HTTP port (plain HTTP and WebSocket). */
  readonly openConnections: number;
  /** Whether it serves HTTPS and WSS. */
  readonly secure: boolean;
  /** HTTPS: new handshakes use this certificate; open connections keep theirs (SIGHUP). */
  setTlsMaterial(material: TlsContextMaterial): void;
  /** Stops listening, lets in-flight requests finish for up to `timeoutMs`, then cuts what is left. */
  close(timeoutMs: number): Promise<void>;
}

/** Headers on every response: which node answered, and a strict policy for the dashboard's pages. */
const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
};

/**
 * The node's HTTP face (docs/http.md): the nexo protocol over WebSocket at /ws, a REST API for curl users
 * under /api, /healthz and /readyz, and the dashboard's files. Every response names the node
 * (`x-nexo-node`); every error is `{error: {code, message, details}}` with the code's HTTP status.
 */
export async function startHttpGateway(
  node: GatewayNode,
  modules: readonly RestModule[] = BUILTIN_REST_MODULES,
): Promise<HttpGateway> {
  const o = node.options.http;
  const limit = new ConnectionLimit(
    o.maxConnectionsPerIp,
    () => node.nodeId,
    () => countLimit(node.stats, 'http_connections_per_address'),
  );
  const pipelines = new PipelineGuard({
    maxOutbound: node.options.maxOutbound,
    slowPeerTimeoutMs: node.options.slowPeerTimeoutMs,
    onCut: (why) => countLimit(node.stats, why === 'pipelined' ? 'http_pipelined' : 'slow_consumer'),
  });
  const material = node.options.tls.https ? node.tlsMaterial() : undefined;
  const app = Fastify({
    serverFactory: (handler) => {
      const guarded = pipelines.wrap(handler);
      const create = (options: http.ServerOptions) =>
        material === undefined
          ? http.createServer(options, guarded)
          : https.createServer(
              { ...options, ...tlsServerOptions(material, node.options.tls.clientAuth) },
              guarded,
            );
      const server = create({
        // Slow requests (slowloris): Node times the headers; bodies are timed by registerBodyTimeouts, since
        // Node's requestTimeout would also cut an upload that is simply large.
        requestTimeout: 0,
        headersTimeout: Math.min(o.requestTimeoutMs, 60_000),
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(o.requestTimeoutMs / 4))),
        // Node counts names and values only; onRequest below counts the whole head (header-limit.ts).
        maxHeaderSize: MAX_HEADER_BYTES,
        keepAliveTimeout: 5000,
      });
      server.maxHeadersCount = 0; // every header reaches rawHeaders, so headerLimitError sees them all
      limit.attach(server);
      pipelines.attach(server);
      return server;
    },
    bodyLimit: o.bodyLimit,
    logger: false,
    return503OnClosing: true,
    // Requests too slow or too malformed to parse still get the usual JSON error, with the node's name.
    clientErrorHandler: (err, socket) => {
      if ((err as { code?: string }).code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.write(rawErrorResponse(clientError(err, o.requestTimeoutMs), node.nodeId));
      socket.destroy();
    },
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-nexo-node', node.nodeId);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    const tooLarge = headerLimitError(request.raw);
    if (tooLarge !== undefined) {
      // Like Node's own 431: the rest of this connection's input is not read.
      const socket = request.raw.socket;
      reply.raw.once('finish', () => socket.destroySoon());
      reply.header('connection', 'close');
      return sendError(reply, tooLarge);
    }
    // While draining, nobody should keep a connection to this node.
    if (node.draining && !request.url.startsWith('/ws')) reply.header('connection', 'close');
    // Refused before the upgrade, with a status the client can read (not an open-then-closed socket).
    if (request.headers.upgrade !== undefined && request.routeOptions.url !== '/ws') {
      // Nobody reads an upgrade request's socket after the answer: close it, or it would linger forever.
      const socket = request.raw.socket;
      reply.raw.once('finish', () => socket.destroySoon());
      reply.header('connection', 'close');
      return sendError(reply, new NexoError('NOT_FOUND', 'WebSocket upgrades are accepted at /ws only'));
    }
  });
  registerBodyTimeouts(app, o.requestTimeoutMs, () => node.nodeId);
  app.setErrorHandler((err, _request, reply) => {
    const error = fromFrameworkError(err, o.bodyLimit);
    if (error.code === 'INTERNAL_ERROR') node.log.error({ err }, 'HTTP request failed');
    return sendError(reply, error);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new NexoError(
        'NOT_FOUND',
        request.url.startsWith('/api')
          ? `no route ${request.method} ${clip(request.url, 100)}; GET /api lists the API`
          : `nothing at ${clip(request.url, 100)}`,
      ),
    ),
  );
  // Arguments are JSON; anything else is refused with 415 instead of being guessed at.
  app.removeContentTypeParser('text/plain');

  await app.register(fastifyWebsocket, {
    options: {
      maxPayload: o.wsMaxMessage,
      perMessageDeflate: false,
      // §2.3.1 The subprotocol is optional; when the client offers some, `nexo` must be one of them.
      handleProtocols: (protocols) => (protocols.has('nexo') ? 'nexo' : false),
    },
  });

  // The 101 Switching Protocols answer names the node too (WELCOME does as well, once the protocol starts).
  app.websocketServer.on('headers', (headers: string[]) => {
    headers.push(`x-nexo-node: ${node.nodeId.replace(/[^\x21-\x7e]/g, '')}`);
  });

  const context: RestContext = {
    app,
    node,
    call: (request, service, method, args) => callFor(node, request, service, method, args),
    run: (request, service, method, handler) => callFor(node, request, service, method, null, handler),
  };
  registerHealth(app, node);
  // With --metrics-port, /metrics lives on its own listener (metrics-server.ts), not here.
  if (node.options.http.metrics && node.options.http.metricsPort === undefined) registerMetrics(app, node);
  registerWebSocket(app, node);
  const running = new Set(node.dispatcher.services.map((s) => s.name));
  for (const module of modules) if (running.has(module.service)) module.register(context);
  registerApi(context);
  await registerStatic(app);

  await app.listen({ host: o.host, port: o.port, listenTextResolver: () => '' }).catch((err: unknown) => {
    throw describeListenError(err, o.host, o.port);
  });
  const bound = app.server.address() as AddressInfo;
  return {
    address: () => ({ host: bound.address, port: bound.port }),
    get openConnections() {
      return limit.total;
    },
    secure: material !== undefined,
    setTlsMaterial: (next) => {
      if (material === undefined) return;
      (app.server as unknown as https.Server).setSecureContext(
        tlsServerOptions(next, node.options.tls.clientAuth),
      );
    },
    close: (timeoutMs) => {
      pipelines.close();
      return closeGateway(app, timeoutMs);
    },
  };
}

/** Runs a method for an HTTP request: its bearer token, its address, aborted if the client goes away. */
async function callFor(
  node: GatewayNode,
  request: FastifyRequest,
  service: string,
  method: string,
  args: unknown,
  run?: (ctx: CallContext) => Promise<unknown>,
): Promise<unknown> {
  const controller = new AbortController();
  // The client hung up before its answer: stop the work (handlers see ctx.signal aborted).
  const socket = request.raw.socket;
  const onClose = () => controller.abort();
  socket.once('close', onClose);
  try {
    return await node.invoke({
      service,
      method,
      args,
      requestId: requestIdHeader(request.headers['x-request-id']),
      token: bearerToken(request.headers.authorization),
      peer: peerOf(request),
      signal: controller.signal,
      run,
    });
  } finally {
    socket.off('close', onClose);
  }
}

/** §6.1.4 `x-request-id`: the client's id for the call, in an error's details; a malformed one is refused. */
function requestIdHeader(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !REQUEST_ID.test(header)) {
    throw new NexoError(
      'BAD_REQUEST',
      'x-request-id must be one header of 1 to 64 printable ASCII characters without spaces',
    );
  }
  return header;
}

/** `Authorization: Bearer <token>`; no header means anonymous, anything else is refused. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  const match = /^Bearer[ \t]+([\x21-\x7e]{1,4096})[ \t]*$/i.exec(header);
  if (match === null) {
    throw new NexoError('AUTH_FAILED', 'the Authorization header must be "Bearer <token>"');
  }
  return match[1];
}

async function closeGateway(app: FastifyInstance, timeoutMs: number): Promise<void> {
  // Requests still running at the deadline are cut, like connections are on the protocol port.
  const cut = setTimeout(() => app.server.closeAllConnections(), Math.max(0, timeoutMs));
  try {
    await app.close();
  } finally {
    clearTimeout(cut);
  }
}

function describeListenError(err: unknown, host: string, port: number): Error {
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE') {
    return new Error(
      `HTTP port ${port} on ${host} is already in use (another nexo node?); choose another with --http-port, or --no-http`,
    );
  }
  if (code === 'EACCES') {
    return new Error(`not allowed to listen on HTTP port ${port}; use a port above 1023 (--http-port)`);
  }
  return err instanceof Error ? err : new Error(String(err));
}
