import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { CallContext, NodeStats } from '../contract/service.js';
import type { ServerOptions } from '../options/options.js';
import type { DirectCall } from '../server/direct-call.js';
import type { Dispatcher } from '../server/dispatcher.js';
import type { EngineHealth } from '../storage/health.js';
import { type TlsContextMaterial, verifiedCertificate } from '../transport/tls.js';
import type { Conduit, PeerCertificate, PeerInfo } from '../transport/types.js';

/** What the HTTP gateway needs from the node it fronts. */
export interface GatewayNode {
  readonly nodeId: string;
  /** The node's counters (limits count refusals and cuts here). */
  readonly stats: NodeStats;
  readonly options: ServerOptions;
  readonly log: Logger;
  readonly dispatcher: Dispatcher;
  /** True once the node drains: /readyz turns 503 and new API calls are refused. */
  readonly draining: boolean;
  /** Each shared engine's health; /readyz is 503 while one is down. */
  engineHealth(): EngineHealth[];
  /** Hands a WebSocket's byte stream to the node, like any other transport. */
  accept(conduit: Conduit): void;
  /** The TLS certificate and key the node serves (HTTPS), when it has one. */
  tlsMaterial(): TlsContextMaterial | undefined;
  /** Prometheus metrics (GET /metrics). */
  readonly metrics: { readonly contentType: string; text(): Promise<string> };
  /** Runs one method call for an HTTP request, through the same checks as the protocol. */
  invoke(call: DirectCall): Promise<unknown>;
}

/** What a REST route module gets: the app to add routes to and a way to call the node's methods. */
export interface RestContext {
  readonly app: FastifyInstance;
  readonly node: GatewayNode;
  /** Calls `service.method(args)` as the request's caller (its bearer token, its address). */
  call(request: FastifyRequest, service: string, method: string, args: unknown): Promise<unknown>;
  /**
   * Runs `handler` as the request's caller under the node's checks for `service.method` (draining, token,
   * role), in place of that method's own handler: for routes that feed a service in-process (uploads).
   */
  run(
    request: FastifyRequest,
    service: string,
    method: string,
    handler: (ctx: CallContext) => Promise<unknown>,
  ): Promise<unknown>;
}

/**
 * A service's explicit HTTP routes (beyond the generic `POST /api/<service>/<method>`): where HTTP semantics
 * matter (GET with a query string, CSV, uploads, downloads with Range). Registered only when the node runs
 * the service.
 */
export interface RestModule {
  readonly service: string;
  register(context: RestContext): void;
}

/** The peer of an HTTP request, as services see it. */
export function peerOf(request: FastifyRequest): PeerInfo {
  const secure = secureSide(request);
  return {
    transport: secure.secure ? 'tls' : 'tcp',
    address: request.socket.remoteAddress ?? 'unknown',
    port: request.socket.remotePort ?? 0,
    ...secure,
  };
}

/** Whether the request came over HTTPS (WSS), and its verified client certificate, if any (§5.1.6). */
export function secureSide(request: FastifyRequest): { secure: boolean; certificate?: PeerCertificate } {
  const socket = request.socket as TLSSocket;
  if (socket.encrypted !== true) return { secure: false };
  const certificate = verifiedCertificate(socket);
  return certificate === undefined ? { secure: true } : { secure: true, certificate };
}
