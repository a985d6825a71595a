import type { Logger } from 'pino';
import type { NodeStats } from '../contract/service.js';
import { ERRORS } from '../errors.js';
import type { ServerOptions } from '../options/options.js';
import type { Authenticator } from './auth.js';
import type { Dispatcher } from './dispatcher.js';

/** A fresh set of counters. */
export function newNodeStats(): NodeStats {
  return {
    requests: 0,
    errors: 0,
    connectionsTotal: 0,
    bytesIn: 0,
    bytesOut: 0,
    framesIn: 0,
    framesOut: 0,
    errorsByCode: Object.create(null) as Record<string, number>,
    limits: Object.create(null) as Record<string, number>,
  };
}

/**
 * Why a limit refused or cut a client (the `reason` of nexo_limited_total; docs/configuration.md "Limits").
 * The code the client sees is in docs/protocol.md §7.6.
 */
export type LimitReason =
  /** Over maxConnectionsPerAddress on the protocol (TCP) or TLS port; HTTP's own cap (http.maxConnectionsPerIp). */
  | 'connections_per_address'
  | 'http_connections_per_address'
  /** Over the per-token request rate (RATE_LIMITED). */
  | 'request_rate'
  /** Replies left unread (outbound limit or slow-peer timeout), on any port. */
  | 'slow_consumer'
  /** An HTTP connection pipelined more requests than it may have waiting. */
  | 'http_pipelined'
  /** A text session that sent nothing but errors, or error replies withheld by the rate limit. */
  | 'text_errors_closed'
  | 'text_errors_withheld'
  /** A secure UDP handshake refused: the node holds udp.maxSessions sessions. */
  | 'udp_sessions'
  /**
   * Handshakes that never completed within handshakeTimeout: a TLS handshake; a connection that sent no
   * first byte (no mode, §3.2); a binary session with no HELLO or a text session with no complete first
   * line (§8.6); a secure UDP handshake within udp.handshakeTimeout (§13.3.8, counted in metrics.ts).
   */
  | 'tls_handshake_timeout'
  | 'mode_timeout'
  | 'hello_timeout'
  | 'udp_handshake_timeout';

/** Counts one refusal or cut by a limit. */
export function countLimit(stats: NodeStats, reason: LimitReason): void {
  stats.limits[reason] = (stats.limits[reason] ?? 0) + 1;
}

/** Counts one error reply under its code (the total and the per-code counter). */
export function countError(stats: NodeStats, code: string): void {
  stats.errors++;
  // Codes outside the registry (a plug-in's own) share one key, so the map stays bounded.
  const key = Object.hasOwn(ERRORS, code) ? code : 'OTHER';
  stats.errorsByCode[key] = (stats.errorsByCode[key] ?? 0) + 1;
}

/** What the node gives each connection. */
export interface ConnectionHost {
  readonly options: ServerOptions;
  readonly dispatcher: Dispatcher;
  readonly auth: Authenticator;
  readonly log: Logger;
  readonly stats: NodeStats;
  nodeId(): string;
  /** A clock refreshed by the node's sweeper; precise enough for timeouts, free to read per frame. */
  now(): number;
  /** The connection ended; release its slot. */
  closed(connection: { readonly session: { readonly id: number } }): void;
}
