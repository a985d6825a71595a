import { type Static, Type } from '@sinclair/typebox';
import { parseDuration, parseSize } from '../util/units.js';
import { CORE_DEFAULTS } from './core.js';
import type { UnitReader } from './problems.js';
import { Duration, HostName, Port, Size } from './values.js';

/** The HTTP gateway: REST API, WebSocket transport (/ws), dashboard, health checks, metrics. */

export const HttpSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    host: Type.Optional(HostName),
    port: Type.Optional(Port),
    bodyLimit: Type.Optional(Size),
    requestTimeout: Type.Optional(Duration),
    maxConnectionsPerIp: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    wsMaxMessage: Type.Optional(Size),
    metricsToken: Type.Optional(Type.String()),
    metricsPort: Type.Optional(Port),
    metrics: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/** The HTTP gateway: REST API, WebSocket transport (/ws), dashboard, health checks. */
export interface HttpOptions {
  enabled: boolean;
  host: string;
  port: number;
  /** Largest JSON request body. */
  bodyLimit: number;
  /** Time for a client to send a whole request (headers and body). */
  requestTimeoutMs: number;
  /** Open TCP connections one address may hold on the HTTP port (WebSocket included); 0 = no limit. */
  maxConnectionsPerIp: number;
  /** Largest WebSocket message accepted on /ws. */
  wsMaxMessage: number;
  /** When set, GET /metrics needs `Authorization: Bearer <this>` (401 without it). */
  metricsToken: string | undefined;
  /**
   * When set, /metrics is served on this port of `host` (plain HTTP, its own listener) and no longer on the
   * HTTP gateway's port; 0 picks a free one. Works with the gateway off too.
   */
  metricsPort: number | undefined;
  /** Serve /metrics and time every request (latency histograms); false: neither (`--no-metrics`). */
  metrics: boolean;
}

export const HTTP_DEFAULTS = {
  enabled: true,
  port: 8080,
  bodyLimit: '1MiB',
  requestTimeout: '30s',
  maxConnectionsPerIp: 256,
  wsMaxMessage: '4MiB',
} as const;

/** `host` is the node's own (the gateway listens there unless told otherwise). */
export function resolveHttp(
  o: Static<typeof HttpSchema> | undefined,
  host: string | undefined,
  unit: UnitReader,
): HttpOptions {
  const d = HTTP_DEFAULTS;
  return {
    enabled: o?.enabled ?? d.enabled,
    host: o?.host ?? host ?? CORE_DEFAULTS.host,
    port: o?.port ?? d.port,
    bodyLimit: unit('http.bodyLimit', parseSize, o?.bodyLimit ?? d.bodyLimit),
    requestTimeoutMs: unit('http.requestTimeout', parseDuration, o?.requestTimeout ?? d.requestTimeout),
    maxConnectionsPerIp: o?.maxConnectionsPerIp ?? d.maxConnectionsPerIp,
    wsMaxMessage: unit('http.wsMaxMessage', parseSize, o?.wsMaxMessage ?? d.wsMaxMessage),
    metricsToken: o?.metricsToken,
    metricsPort: o?.metricsPort,
    metrics: o?.metrics ?? true,
  };
}

/** Bounds of the parsed sizes, the metrics token's form, and ports the gateway and metrics may not share. */
export function httpProblems(h: HttpOptions, node: { host: string; port: number }): string[] {
  const problems: string[] = [];
  if (h.bodyLimit < 1024 || h.bodyLimit > 1024 ** 3) {
    problems.push(`http.bodyLimit: must be between 1KiB and 1GiB (got ${h.bodyLimit} bytes)`);
  }
  if (h.requestTimeoutMs < 100) problems.push('http.requestTimeout: must be at least 100ms');
  if (h.metricsToken !== undefined && !/^[\x21-\x7e]{16,4096}$/.test(h.metricsToken)) {
    problems.push(
      'http.metricsToken: must be 16 to 4096 printable characters without spaces (it is sent as "Authorization: Bearer <token>")',
    );
  }
  if (h.wsMaxMessage < 64 * 1024 || h.wsMaxMessage > 1024 ** 3) {
    problems.push(`http.wsMaxMessage: must be between 64KiB and 1GiB (got ${h.wsMaxMessage} bytes)`);
  }
  if (h.enabled && h.port !== 0 && h.port === node.port && h.host === node.host) {
    problems.push(
      `http.port: ${h.port} is also the nexo TCP port; give HTTP its own (e.g. --http-port 8080)`,
    );
  }
  if (!h.metrics && (h.metricsPort !== undefined || h.metricsToken !== undefined)) {
    problems.push('http.metrics: false (--no-metrics) leaves nothing for --metrics-port or --metrics-token');
  }
  if (h.metricsPort !== undefined && h.metricsPort !== 0) {
    if (h.metricsPort === node.port && h.host === node.host) {
      problems.push(
        `http.metricsPort: ${h.metricsPort} is also the nexo TCP port; give metrics their own (e.g. --metrics-port 9464)`,
      );
    }
    if (h.enabled && h.metricsPort === h.port) {
      problems.push(
        `http.metricsPort: ${h.metricsPort} is also the HTTP port; without --metrics-port, /metrics is served there already`,
      );
    }
  }
  return problems;
}
