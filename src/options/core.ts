import path from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { parseDuration, parseSize } from '../util/units.js';
import type { UnitReader } from './problems.js';
import { Duration, HostName, Port, Size } from './values.js';

/** The node's own address and name, and the limits and timeouts of its protocol connections. */

export const CoreSchema = Type.Object({
  host: Type.Optional(HostName),
  port: Type.Optional(Port),
  nodeId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$' })),
  trace: Type.Optional(Type.Boolean()),
  dataDir: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  maxClients: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  maxQueue: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  maxConnectionsPerAddress: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  requestRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9 })),
  requestBurst: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9 })),
  queueTimeout: Type.Optional(Duration),
  maxFrame: Type.Optional(Size),
  maxInFlight: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
  maxLine: Type.Optional(Size),
  maxOutbound: Type.Optional(Size),
  handshakeTimeout: Type.Optional(Duration),
  idleTimeout: Type.Optional(Duration),
  heartbeat: Type.Optional(Duration),
  slowPeerTimeout: Type.Optional(Duration),
  shutdownTimeout: Type.Optional(Duration),
});

export interface CoreOptions {
  host: string;
  port: number;
  /** Names this node in WELCOME, logs and HTTP headers. Default: `<hostname>:<port>`. */
  nodeId: string | undefined;
  /**
   * Log every frame of binary connections (direction, type, id, flags, payload length; a REQUEST's service
   * and method), never a payload: no chunk's bytes, no token (`--trace`).
   */
  trace: boolean;
  /** Where services keep their embedded stores (SQLite files, uploaded files). Resolved to an absolute path. */
  dataDir: string;
  /** Connections served at once; 0 = no limit. 1 gives the seeds' sequential server. */
  maxClients: number;
  /** Connections allowed to wait for a slot; beyond it they get SERVER_BUSY. */
  maxQueue: number;
  /** Open connections one client address may hold on the protocol and TLS ports (§7.6.1); 0 = no limit. */
  maxConnectionsPerAddress: number;
  /** Requests per second one stored token may make on average, over all its sessions (§5.4.4); 0 = no limit. */
  requestRate: number;
  /** Requests one token may make at once above its rate. */
  requestBurst: number;
  /** How long a connection may wait in the queue; 0 = no limit. */
  queueTimeoutMs: number;
  maxFrame: number;
  maxInFlight: number;
  maxLine: number;
  /** Bytes of replies a peer may leave unread before it is dropped as a slow consumer. */
  maxOutbound: number;
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  heartbeatMs: number;
  slowPeerTimeoutMs: number;
  shutdownTimeoutMs: number;
}

export const DEFAULT_PORT = 5000;

export const CORE_DEFAULTS = {
  host: '0.0.0.0',
  port: DEFAULT_PORT,
  dataDir: './nexo-data',
  maxClients: 0,
  maxQueue: 1024,
  maxConnectionsPerAddress: 256,
  requestRate: 0,
  queueTimeout: 0,
  maxFrame: '1MiB',
  maxInFlight: 256,
  maxLine: '8KiB',
  maxOutbound: '8MiB',
  handshakeTimeout: '10s',
  idleTimeout: '5m',
  heartbeat: '30s',
  slowPeerTimeout: '15s',
  shutdownTimeout: '10s',
} as const;

export function resolveCore(o: Static<typeof CoreSchema>, unit: UnitReader): CoreOptions {
  const d = CORE_DEFAULTS;
  return {
    host: o.host ?? d.host,
    port: o.port ?? d.port,
    nodeId: o.nodeId,
    trace: o.trace ?? false,
    dataDir: path.resolve(o.dataDir ?? d.dataDir),
    maxClients: o.maxClients ?? d.maxClients,
    maxQueue: o.maxQueue ?? d.maxQueue,
    maxConnectionsPerAddress: o.maxConnectionsPerAddress ?? d.maxConnectionsPerAddress,
    requestRate: o.requestRate ?? d.requestRate,
    requestBurst: o.requestBurst ?? Math.max(1, Math.ceil(2 * (o.requestRate ?? d.requestRate))),
    queueTimeoutMs: unit('queueTimeout', parseDuration, o.queueTimeout ?? d.queueTimeout),
    maxFrame: unit('maxFrame', parseSize, o.maxFrame ?? d.maxFrame),
    maxInFlight: o.maxInFlight ?? d.maxInFlight,
    maxLine: unit('maxLine', parseSize, o.maxLine ?? d.maxLine),
    maxOutbound: unit('maxOutbound', parseSize, o.maxOutbound ?? d.maxOutbound),
    handshakeTimeoutMs: unit('handshakeTimeout', parseDuration, o.handshakeTimeout ?? d.handshakeTimeout),
    idleTimeoutMs: unit('idleTimeout', parseDuration, o.idleTimeout ?? d.idleTimeout),
    heartbeatMs: unit('heartbeat', parseDuration, o.heartbeat ?? d.heartbeat),
    slowPeerTimeoutMs: unit('slowPeerTimeout', parseDuration, o.slowPeerTimeout ?? d.slowPeerTimeout),
    shutdownTimeoutMs: unit('shutdownTimeout', parseDuration, o.shutdownTimeout ?? d.shutdownTimeout),
  };
}

/** Frame, line and outbound sizes, which the schema cannot bound once parsed from strings. */
export function sizeProblems(o: CoreOptions): string[] {
  const problems: string[] = [];
  if (o.maxFrame < 1024 || o.maxFrame > 64 * 1024 * 1024) {
    problems.push(`maxFrame: must be between 1KiB and 64MiB (got ${o.maxFrame} bytes)`);
  }
  if (o.maxLine < 64 || o.maxLine > 1024 * 1024) {
    problems.push(`maxLine: must be between 64 bytes and 1MiB (got ${o.maxLine} bytes)`);
  }
  if (o.maxOutbound < o.maxFrame) {
    problems.push(`maxOutbound: must be at least maxFrame (${o.maxFrame} bytes)`);
  }
  return problems;
}

/** Timeouts that may not be 0, and the request burst. */
export function timingProblems(o: CoreOptions): string[] {
  const problems: string[] = [];
  if (o.handshakeTimeoutMs === 0) problems.push('handshakeTimeout: must be more than 0');
  if (o.requestRate > 0 && o.requestBurst < 1) problems.push('requestBurst: must be at least 1');
  if (o.slowPeerTimeoutMs === 0) problems.push('slowPeerTimeout: must be more than 0');
  return problems;
}
