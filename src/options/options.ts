import os from 'node:os';
import path from 'node:path';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { redactUrl } from '../util/redact-url.js';
import { parseDuration, parseSize } from '../util/units.js';

/**
 * Every server setting, its default, and its validation, in one place. Flags, environment variables and the
 * config file all produce a `ServerOptionsInput`; `resolveOptions` validates it and fills in defaults.
 */

const Duration = Type.Union([Type.Number({ minimum: 0 }), Type.String({ minLength: 1, maxLength: 32 })], {
  description: 'milliseconds, or a string such as 250ms, 10s, 5m',
});
const Size = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1, maxLength: 32 })], {
  description: 'bytes, or a string such as 64KiB, 1MiB',
});
const Role = Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$' });
/** Who may call a group of methods: "anyone", or a list of roles (e.g. ["admin", "user"]). */
const Roles = Type.Union([Type.Literal('anyone'), Type.Array(Role, { minItems: 1, maxItems: 64 })]);

export const ServerOptionsSchema = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
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
    storage: Type.Optional(Type.Union([Type.Literal('embedded'), Type.Literal('postgres')])),
    postgres: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    nats: Type.Optional(
      Type.Union([
        Type.String({ minLength: 1, maxLength: 4096 }),
        Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { minItems: 1, maxItems: 32 }),
      ]),
    ),
    cluster: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    advertise: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    agent: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          host: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
        },
        { additionalProperties: false },
      ),
    ),
    auth: Type.Optional(
      Type.Object(
        {
          anonymous: Type.Optional(Type.Boolean()),
          tokens: Type.Optional(
            Type.Record(
              Type.String({ minLength: 8, maxLength: 4096 }),
              Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$' }),
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          cert: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
          key: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
          ca: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
          clientAuth: Type.Optional(
            Type.Union([Type.Literal('none'), Type.Literal('optional'), Type.Literal('require')]),
          ),
          https: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    calc: Type.Optional(
      Type.Object(
        {
          precision: Type.Optional(Type.Integer({ minimum: 8, maximum: 1000 })),
          timeout: Type.Optional(Duration),
          maxLength: Type.Optional(Type.Integer({ minimum: 16, maximum: 1 << 20 })),
          maxVariables: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
          maxBatch: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    http: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          host: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          bodyLimit: Type.Optional(Size),
          requestTimeout: Type.Optional(Duration),
          maxConnectionsPerIp: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
          wsMaxMessage: Type.Optional(Size),
          metricsToken: Type.Optional(Type.String()),
          metricsPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          metrics: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    udp: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          maxPending: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
          unverifiedBudget: Type.Optional(Size),
          maxSessions: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
          handshakeTimeout: Type.Optional(Duration),
          idleTimeout: Type.Optional(Duration),
        },
        { additionalProperties: false },
      ),
    ),
    chat: Type.Optional(
      Type.Object(
        {
          history: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
          maxMessage: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_536 })),
          queue: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
          rate: Type.Optional(Type.Number({ minimum: 0.1, maximum: 100_000 })),
          maxRooms: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    telemetry: Type.Optional(
      Type.Object(
        {
          retention: Type.Optional(Duration),
          rate: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9 })),
          burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9 })),
          maxQueued: Type.Optional(Type.Integer({ minimum: 1000, maximum: 10_000_000 })),
          maxSeries: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000 })),
          readers: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
          queryTimeout: Type.Optional(Duration),
          mqtt: Type.Optional(
            Type.Object(
              {
                url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
                topic: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
                clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    files: Type.Optional(
      Type.Object(
        {
          maxFileSize: Type.Optional(Size),
          quota: Type.Optional(Size),
          maxUploads: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          partialExpiry: Type.Optional(Duration),
          stallTimeout: Type.Optional(Duration),
          readRoles: Type.Optional(Roles),
          writeRoles: Type.Optional(Roles),
          deleteRoles: Type.Optional(Roles),
        },
        { additionalProperties: false },
      ),
    ),
    workers: Type.Optional(
      Type.Object(
        {
          threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
          maxMemoryMb: Type.Optional(Type.Integer({ minimum: 16, maximum: 16384 })),
        },
        { additionalProperties: false },
      ),
    ),
    log: Type.Optional(
      Type.Object(
        {
          level: Type.Optional(
            Type.Union(
              ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((l) => Type.Literal(l)),
            ),
          ),
          pretty: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type ServerOptionsInput = Static<typeof ServerOptionsSchema>;

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface ServerOptions {
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
  /**
   * Where services keep shared state: `embedded` (SQLite and files in dataDir, one node) or `postgres`
   * (PostgreSQL for records, NATS JetStream for the bus and shared contents; several nodes).
   */
  storage: StorageMode;
  /** PostgreSQL connection URL; required when storage is `postgres`. */
  postgres: string | undefined;
  /** NATS server URLs (a cluster's seeds); required when storage is `postgres`. */
  nats: string[];
  /** Prefix of this cluster's NATS subjects, streams and buckets, so clusters can share one NATS. */
  cluster: string;
  /**
   * The address other hosts reach this node at, as the cluster membership announces it. Default: `host`
   * unless that is a wildcard (0.0.0.0, ::), else the machine's first non-loopback IPv4 address.
   */
  advertise: string | undefined;
  /**
   * HAProxy's agent-check (docs/configuration.md): a TCP port answering each connection with one line, the
   * weight this node's load deserves (`up ready 75%`) or `drain` while it drains. On by default in cluster mode
   * (storage postgres), off in embedded mode unless a port is given.
   */
  agent: { enabled: boolean; host: string; port: number };
  auth: { anonymous: boolean; tokens: Record<string, string> };
  /** The TLS listener and HTTPS, on when `cert` and `key` are given (docs/configuration.md, protocol §2.4). */
  tls: TlsOptions;
  calc: { precision: number; timeoutMs: number; maxLength: number; maxVariables: number; maxBatch: number };
  /** The HTTP gateway: REST API, WebSocket transport (/ws), dashboard, health checks. */
  http: {
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
  };
  /** nexo over UDP (protocol §13): text datagrams and secure sensor sessions, on the same port number. */
  udp: UdpOptions;
  chat: {
    /** Messages kept per room (sent on join, survive restarts). */
    history: number;
    /** Longest message, in characters. */
    maxMessage: number;
    /** Events a slow member may fall behind before it is dropped from the room. */
    queue: number;
    /** Messages per second one member may send (bursts of twice that). */
    rate: number;
    /** Rooms the node keeps at once. */
    maxRooms: number;
  };
  telemetry: TelemetryOptions;
  files: FilesOptions;
  workers: { threads: number; maxMemoryMb: number };
  log: { level: LogLevel; pretty: boolean };
}

export interface TlsOptions {
  enabled: boolean;
  port: number;
  cert: string | undefined;
  key: string | undefined;
  ca: string | undefined;
  clientAuth: 'none' | 'optional' | 'require';
  /** The HTTP gateway serves HTTPS (and WSS) with the same certificate. */
  https: boolean;
}

export interface TelemetryOptions {
  /** Readings older than this are deleted in the background; 0 keeps them forever. */
  retentionMs: number;
  /** Readings per second each sensor may send on average; 0 = no limit. */
  rate: number;
  /** Readings a sensor may send at once above its rate (a reconnecting sensor's backlog). */
  burst: number;
  /** Readings waiting for the disk, node-wide, beyond which reports get RATE_LIMITED. */
  maxQueued: number;
  /** Series (sensor × metric) the node will track. */
  maxSeries: number;
  /** Threads that run queries. */
  readers: number;
  queryTimeoutMs: number;
  /** MQTT ingest: off unless `url` is set. */
  mqtt: { url: string | undefined; topic: string; clientId: string | undefined };
}

export interface UdpOptions {
  enabled: boolean;
  /** Default: the TCP port (the one bound, when port is 0). */
  port: number | undefined;
  /** Datagrams being handled at once; more are dropped and counted (§13.1.5). */
  maxPending: number;
  /** Bytes the node may send unverified addresses beyond what it received from them (§13.1.2). */
  unverifiedBudget: number;
  /** Secure sessions at once (§13.3.8); a handshake beyond it is refused. */
  maxSessions: number;
  /** A secure session must finish its handshake (WELCOME acknowledged) within this (§13.3.8). */
  handshakeTimeoutMs: number;
  /** A secure session that receives nothing this long is forgotten (§13.3.8). */
  idleTimeoutMs: number;
}

/** Who may call a group of methods: everybody, or sessions whose role is listed. */
export type RoleList = 'anyone' | readonly string[];

/** Settings of the files service (docs/configuration.md). */
export interface FilesOptions {
  /** Largest file accepted, bytes. */
  maxFileSize: number;
  /** Bytes all stored files (each content once) plus unfinished uploads may take; 0 = only the disk limits. */
  quota: number;
  /** Uploads receiving at once on this node. */
  maxUploads: number;
  /** Unfinished uploads untouched this long are deleted. */
  partialExpiryMs: number;
  /** An upload that receives no chunk this long fails (it stays resumable). */
  stallTimeoutMs: number;
  /** download, info, list, status */
  readRoles: RoleList;
  /** upload */
  writeRoles: RoleList;
  /** delete */
  deleteRoles: RoleList;
}

export type StorageMode = 'embedded' | 'postgres';

export const DEFAULT_PORT = 5000;
export const DEFAULT_TLS_PORT = 5443;
export const DEFAULT_AGENT_PORT = 5555;

export const DEFAULTS = {
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
  storage: 'embedded' as StorageMode,
  cluster: 'nexo',
  calc: { precision: 64, timeout: '1s', maxLength: 65536, maxVariables: 100, maxBatch: 1000 },
  http: {
    enabled: true,
    port: 8080,
    bodyLimit: '1MiB',
    requestTimeout: '30s',
    maxConnectionsPerIp: 256,
    wsMaxMessage: '4MiB',
  },
  udp: {
    enabled: true,
    maxPending: 1024,
    unverifiedBudget: '16KiB',
    maxSessions: 1000,
    handshakeTimeout: '10s',
    idleTimeout: '2m',
  },
  chat: { history: 100, maxMessage: 2000, queue: 1000, rate: 20, maxRooms: 10_000 },
  telemetry: {
    retention: 0,
    rate: 1000,
    burst: 10_000,
    maxQueued: 200_000,
    maxSeries: 1_000_000,
    readers: 2,
    queryTimeout: '10s',
    mqttTopic: 'sensors/+/+',
  },
  files: {
    maxFileSize: '64GiB',
    quota: 0,
    maxUploads: 16,
    partialExpiry: '24h',
    stallTimeout: '2m',
    readRoles: 'anyone' as RoleList,
    writeRoles: 'anyone' as RoleList,
    deleteRoles: ['admin'] as RoleList,
  },
  log: { level: 'info' as LogLevel },
} as const;

export class OptionsError extends Error {
  override readonly name = 'OptionsError';
  constructor(readonly problems: string[]) {
    super(`invalid server options:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Lists every problem in `input` against `schema` as `path: message (got value)`. */
export function describeProblems(schema: TSchema, input: unknown): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const error of Value.Errors(schema, input)) {
    const path = error.path.replace(/^\//, '').replaceAll('/', '.') || '(root)';
    if (seen.has(path)) continue; // a union reports once per branch; the first message is enough
    seen.add(path);
    const got = error.value === undefined ? '' : ` (got ${JSON.stringify(error.value)?.slice(0, 60)})`;
    const message =
      error.type === ValueErrorType.ObjectAdditionalProperties
        ? 'unknown option'
        : error.message.toLowerCase();
    problems.push(`${path}: ${message}${got}`);
  }
  return problems;
}

export function resolveOptions(input: ServerOptionsInput | Record<string, unknown> = {}): ServerOptions {
  const problems = describeProblems(ServerOptionsSchema, input);
  if (problems.length > 0) throw new OptionsError(problems);
  const o = input as ServerOptionsInput;
  const unit = (path: string, parse: (v: number | string) => number, value: number | string): number => {
    try {
      return parse(value);
    } catch (err) {
      problems.push(`${path}: ${(err as Error).message}`);
      return 0;
    }
  };
  const resolved: ServerOptions = {
    host: o.host ?? DEFAULTS.host,
    port: o.port ?? DEFAULTS.port,
    nodeId: o.nodeId,
    trace: o.trace ?? false,
    dataDir: path.resolve(o.dataDir ?? DEFAULTS.dataDir),
    maxClients: o.maxClients ?? DEFAULTS.maxClients,
    maxQueue: o.maxQueue ?? DEFAULTS.maxQueue,
    maxConnectionsPerAddress: o.maxConnectionsPerAddress ?? DEFAULTS.maxConnectionsPerAddress,
    requestRate: o.requestRate ?? DEFAULTS.requestRate,
    requestBurst: o.requestBurst ?? Math.max(1, Math.ceil(2 * (o.requestRate ?? DEFAULTS.requestRate))),
    queueTimeoutMs: unit('queueTimeout', parseDuration, o.queueTimeout ?? DEFAULTS.queueTimeout),
    maxFrame: unit('maxFrame', parseSize, o.maxFrame ?? DEFAULTS.maxFrame),
    maxInFlight: o.maxInFlight ?? DEFAULTS.maxInFlight,
    maxLine: unit('maxLine', parseSize, o.maxLine ?? DEFAULTS.maxLine),
    maxOutbound: unit('maxOutbound', parseSize, o.maxOutbound ?? DEFAULTS.maxOutbound),
    handshakeTimeoutMs: unit(
      'handshakeTimeout',
      parseDuration,
      o.handshakeTimeout ?? DEFAULTS.handshakeTimeout,
    ),
    idleTimeoutMs: unit('idleTimeout', parseDuration, o.idleTimeout ?? DEFAULTS.idleTimeout),
    heartbeatMs: unit('heartbeat', parseDuration, o.heartbeat ?? DEFAULTS.heartbeat),
    slowPeerTimeoutMs: unit('slowPeerTimeout', parseDuration, o.slowPeerTimeout ?? DEFAULTS.slowPeerTimeout),
    shutdownTimeoutMs: unit('shutdownTimeout', parseDuration, o.shutdownTimeout ?? DEFAULTS.shutdownTimeout),
    storage: o.storage ?? DEFAULTS.storage,
    postgres: o.postgres,
    nats: (typeof o.nats === 'string' ? o.nats.split(',') : (o.nats ?? []))
      .map((u) => u.trim())
      .filter((u) => u !== ''),
    cluster: o.cluster ?? DEFAULTS.cluster,
    advertise: o.advertise,
    agent: {
      enabled: o.agent?.enabled ?? (o.agent?.port !== undefined || o.storage === 'postgres'),
      host: o.agent?.host ?? o.host ?? DEFAULTS.host,
      port: o.agent?.port ?? DEFAULT_AGENT_PORT,
    },
    auth: { anonymous: o.auth?.anonymous ?? true, tokens: { ...(o.auth?.tokens ?? {}) } },
    tls: {
      enabled: o.tls?.cert !== undefined || o.tls?.key !== undefined,
      port: o.tls?.port ?? DEFAULT_TLS_PORT,
      cert: o.tls?.cert === undefined ? undefined : path.resolve(o.tls.cert),
      key: o.tls?.key === undefined ? undefined : path.resolve(o.tls.key),
      ca: o.tls?.ca === undefined ? undefined : path.resolve(o.tls.ca),
      clientAuth: o.tls?.clientAuth ?? 'none',
      https: o.tls?.https ?? true,
    },
    calc: {
      precision: o.calc?.precision ?? DEFAULTS.calc.precision,
      timeoutMs: unit('calc.timeout', parseDuration, o.calc?.timeout ?? DEFAULTS.calc.timeout),
      maxLength: o.calc?.maxLength ?? DEFAULTS.calc.maxLength,
      maxVariables: o.calc?.maxVariables ?? DEFAULTS.calc.maxVariables,
      maxBatch: o.calc?.maxBatch ?? DEFAULTS.calc.maxBatch,
    },
    http: {
      enabled: o.http?.enabled ?? DEFAULTS.http.enabled,
      host: o.http?.host ?? o.host ?? DEFAULTS.host,
      port: o.http?.port ?? DEFAULTS.http.port,
      bodyLimit: unit('http.bodyLimit', parseSize, o.http?.bodyLimit ?? DEFAULTS.http.bodyLimit),
      requestTimeoutMs: unit(
        'http.requestTimeout',
        parseDuration,
        o.http?.requestTimeout ?? DEFAULTS.http.requestTimeout,
      ),
      maxConnectionsPerIp: o.http?.maxConnectionsPerIp ?? DEFAULTS.http.maxConnectionsPerIp,
      wsMaxMessage: unit('http.wsMaxMessage', parseSize, o.http?.wsMaxMessage ?? DEFAULTS.http.wsMaxMessage),
      metricsToken: o.http?.metricsToken,
      metricsPort: o.http?.metricsPort,
      metrics: o.http?.metrics ?? true,
    },
    udp: {
      enabled: o.udp?.enabled ?? DEFAULTS.udp.enabled,
      port: o.udp?.port,
      maxPending: o.udp?.maxPending ?? DEFAULTS.udp.maxPending,
      unverifiedBudget: unit(
        'udp.unverifiedBudget',
        parseSize,
        o.udp?.unverifiedBudget ?? DEFAULTS.udp.unverifiedBudget,
      ),
      maxSessions: o.udp?.maxSessions ?? DEFAULTS.udp.maxSessions,
      handshakeTimeoutMs: unit(
        'udp.handshakeTimeout',
        parseDuration,
        o.udp?.handshakeTimeout ?? DEFAULTS.udp.handshakeTimeout,
      ),
      idleTimeoutMs: unit('udp.idleTimeout', parseDuration, o.udp?.idleTimeout ?? DEFAULTS.udp.idleTimeout),
    },
    chat: {
      history: o.chat?.history ?? DEFAULTS.chat.history,
      maxMessage: o.chat?.maxMessage ?? DEFAULTS.chat.maxMessage,
      queue: o.chat?.queue ?? DEFAULTS.chat.queue,
      rate: o.chat?.rate ?? DEFAULTS.chat.rate,
      maxRooms: o.chat?.maxRooms ?? DEFAULTS.chat.maxRooms,
    },
    telemetry: {
      retentionMs: unit(
        'telemetry.retention',
        parseDuration,
        o.telemetry?.retention ?? DEFAULTS.telemetry.retention,
      ),
      rate: o.telemetry?.rate ?? DEFAULTS.telemetry.rate,
      burst: o.telemetry?.burst ?? DEFAULTS.telemetry.burst,
      maxQueued: o.telemetry?.maxQueued ?? DEFAULTS.telemetry.maxQueued,
      maxSeries: o.telemetry?.maxSeries ?? DEFAULTS.telemetry.maxSeries,
      readers: o.telemetry?.readers ?? DEFAULTS.telemetry.readers,
      queryTimeoutMs: unit(
        'telemetry.queryTimeout',
        parseDuration,
        o.telemetry?.queryTimeout ?? DEFAULTS.telemetry.queryTimeout,
      ),
      mqtt: {
        url: o.telemetry?.mqtt?.url,
        topic: o.telemetry?.mqtt?.topic ?? DEFAULTS.telemetry.mqttTopic,
        clientId: o.telemetry?.mqtt?.clientId,
      },
    },
    files: {
      maxFileSize: unit('files.maxFileSize', parseSize, o.files?.maxFileSize ?? DEFAULTS.files.maxFileSize),
      quota: unit('files.quota', parseSize, o.files?.quota ?? DEFAULTS.files.quota),
      maxUploads: o.files?.maxUploads ?? DEFAULTS.files.maxUploads,
      partialExpiryMs: unit(
        'files.partialExpiry',
        parseDuration,
        o.files?.partialExpiry ?? DEFAULTS.files.partialExpiry,
      ),
      stallTimeoutMs: unit(
        'files.stallTimeout',
        parseDuration,
        o.files?.stallTimeout ?? DEFAULTS.files.stallTimeout,
      ),
      readRoles: o.files?.readRoles ?? DEFAULTS.files.readRoles,
      writeRoles: o.files?.writeRoles ?? DEFAULTS.files.writeRoles,
      deleteRoles: o.files?.deleteRoles ?? DEFAULTS.files.deleteRoles,
    },
    workers: {
      threads: o.workers?.threads ?? Math.max(1, os.availableParallelism() - 1),
      maxMemoryMb: o.workers?.maxMemoryMb ?? 128,
    },
    log: {
      level: (o.log?.level as LogLevel | undefined) ?? DEFAULTS.log.level,
      pretty: o.log?.pretty ?? false,
    },
  };
  // Rules that relate two values or bound a parsed unit.
  if (resolved.maxFrame < 1024 || resolved.maxFrame > 64 * 1024 * 1024) {
    problems.push(`maxFrame: must be between 1KiB and 64MiB (got ${resolved.maxFrame} bytes)`);
  }
  if (resolved.maxLine < 64 || resolved.maxLine > 1024 * 1024) {
    problems.push(`maxLine: must be between 64 bytes and 1MiB (got ${resolved.maxLine} bytes)`);
  }
  if (resolved.maxOutbound < resolved.maxFrame) {
    problems.push(`maxOutbound: must be at least maxFrame (${resolved.maxFrame} bytes)`);
  }
  problems.push(...clusterProblems(resolved));
  if (resolved.handshakeTimeoutMs === 0) problems.push('handshakeTimeout: must be more than 0');
  if (resolved.requestRate > 0 && resolved.requestBurst < 1)
    problems.push('requestBurst: must be at least 1');
  if (resolved.slowPeerTimeoutMs === 0) problems.push('slowPeerTimeout: must be more than 0');
  if (resolved.calc.timeoutMs === 0) problems.push('calc.timeout: must be more than 0');
  const h = resolved.http;
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
  if (h.enabled && h.port !== 0 && h.port === resolved.port && h.host === resolved.host) {
    problems.push(
      `http.port: ${h.port} is also the nexo TCP port; give HTTP its own (e.g. --http-port 8080)`,
    );
  }
  if (!h.metrics && (h.metricsPort !== undefined || h.metricsToken !== undefined)) {
    problems.push('http.metrics: false (--no-metrics) leaves nothing for --metrics-port or --metrics-token');
  }
  if (h.metricsPort !== undefined && h.metricsPort !== 0) {
    if (h.metricsPort === resolved.port && h.host === resolved.host) {
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
  const u = resolved.udp;
  if (u.unverifiedBudget < 1200 || u.unverifiedBudget > 64 * 1024 * 1024) {
    problems.push(
      `udp.unverifiedBudget: must be between 1200 bytes and 64MiB (got ${u.unverifiedBudget} bytes)`,
    );
  }
  if (u.handshakeTimeoutMs < 100) problems.push('udp.handshakeTimeout: must be at least 100ms');
  if (u.idleTimeoutMs < 1000) problems.push('udp.idleTimeout: must be at least 1s');
  const tlsOptions = resolved.tls;
  if (tlsOptions.enabled && (tlsOptions.cert === undefined || tlsOptions.key === undefined)) {
    problems.push('tls: a certificate needs its key: give both tls.cert and tls.key (--tls-cert, --tls-key)');
  }
  if (!tlsOptions.enabled && (tlsOptions.ca !== undefined || tlsOptions.clientAuth !== 'none')) {
    problems.push('tls: tls.ca and tls.clientAuth need a server certificate (--tls-cert, --tls-key)');
  }
  if (tlsOptions.clientAuth !== 'none' && tlsOptions.ca === undefined) {
    problems.push(
      `tls.clientAuth: '${tlsOptions.clientAuth}' checks client certificates against a CA: give tls.ca (--tls-ca)`,
    );
  }
  if (tlsOptions.enabled && tlsOptions.port !== 0) {
    if (tlsOptions.port === resolved.port)
      problems.push(`tls.port: ${tlsOptions.port} is also the nexo TCP port`);
    if (h.enabled && tlsOptions.port === h.port)
      problems.push(`tls.port: ${tlsOptions.port} is also the HTTP port`);
  }
  const t = resolved.telemetry;
  if (t.retentionMs > 0 && t.retentionMs < 60_000) {
    problems.push(`telemetry.retention: must be 0 (keep forever) or at least 1m (got ${t.retentionMs} ms)`);
  }
  if (t.queryTimeoutMs === 0) problems.push('telemetry.queryTimeout: must be more than 0');
  if (t.mqtt.url !== undefined && !/^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/.test(t.mqtt.url)) {
    problems.push(
      `telemetry.mqtt.url: expected a broker URL such as mqtt://127.0.0.1:1883 (got ${JSON.stringify(t.mqtt.url.slice(0, 60))})`,
    );
  }
  const levels = t.mqtt.topic.split('/');
  if (
    levels.length < 2 ||
    levels.some(
      (l, i) => (l.includes('#') && (l !== '#' || i !== levels.length - 1)) || (l.includes('+') && l !== '+'),
    )
  ) {
    problems.push(
      `telemetry.mqtt.topic: expected an MQTT topic filter whose last two levels are <sensor>/<metric>, such as sensors/+/+ (got ${JSON.stringify(t.mqtt.topic.slice(0, 60))})`,
    );
  }
  if (resolved.files.maxFileSize === 0) problems.push('files.maxFileSize: must be more than 0');
  if (resolved.files.partialExpiryMs < 1000) {
    problems.push(
      `files.partialExpiry: must be at least 1s, so an interrupted upload can be resumed (got ${resolved.files.partialExpiryMs} ms)`,
    );
  }
  if (resolved.files.stallTimeoutMs < 1000) {
    problems.push(`files.stallTimeout: must be at least 1s (got ${resolved.files.stallTimeoutMs} ms)`);
  }
  problems.push(...engineProblems(resolved));
  if (!resolved.auth.anonymous && Object.keys(resolved.auth.tokens).length === 0) {
    problems.push('auth: anonymous access is off but no tokens are configured, so nobody could connect');
  }
  if (problems.length > 0) throw new OptionsError(problems);
  return resolved;
}

/** The agent-check port and the advertised address. */
function clusterProblems(o: ServerOptions): string[] {
  const problems: string[] = [];
  const a = o.agent;
  if (a.enabled && a.port !== 0) {
    const clash = [
      ['port', o.port],
      ['http.port', o.http.enabled ? o.http.port : 0],
      ['tls.port', o.tls.enabled ? o.tls.port : 0],
    ].find(([, p]) => p === a.port);
    if (clash !== undefined && (a.host === o.host || a.host === '0.0.0.0' || o.host === '0.0.0.0')) {
      problems.push(
        `agent.port: ${a.port} is also ${clash[0]}; HAProxy's agent-check needs a port of its own (--agent-port, default ${DEFAULT_AGENT_PORT})`,
      );
    }
  }
  if (
    o.advertise !== undefined &&
    !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*|[0-9A-Fa-f:.]+)$/.test(o.advertise)
  ) {
    problems.push(
      `advertise: expected a host name or IP address other hosts reach this node at, without a port (got ${JSON.stringify(o.advertise.slice(0, 60))})`,
    );
  }
  if (o.advertise === '0.0.0.0' || o.advertise === '::') {
    problems.push("advertise: a wildcard address cannot be reached; give this host's own address");
  }
  return problems;
}

/** The shared-engine settings: both URLs in postgres mode, none in embedded mode, each well formed. */
function engineProblems(o: ServerOptions): string[] {
  const problems: string[] = [];
  if (o.postgres !== undefined && !/^postgres(ql)?:\/\/[^\s]+$/.test(o.postgres)) {
    problems.push(
      `postgres: expected a URL such as postgres://user@127.0.0.1:5432/nexo (got ${JSON.stringify(redactUrl(o.postgres).slice(0, 80))})`,
    );
  }
  for (const url of o.nats) {
    if (!/^((nats|tls|ws|wss):\/\/)?[^\s/,]+(:\d{1,5})?$/.test(url)) {
      problems.push(
        `nats: expected server URLs such as nats://127.0.0.1:4222, comma-separated (got ${JSON.stringify(redactUrl(url).slice(0, 80))})`,
      );
    }
  }
  // The cluster name is a NATS subject token and part of stream and bucket names, which allow only these.
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(o.cluster)) {
    problems.push(
      `cluster: expected 1 to 32 letters, digits, '-' or '_' (it prefixes NATS subjects and buckets; got ${JSON.stringify(o.cluster.slice(0, 40))})`,
    );
  }
  if (o.storage === 'postgres') {
    if (o.postgres === undefined) {
      problems.push(
        'postgres: storage is postgres but no PostgreSQL URL is set (--postgres URL or NEXO_POSTGRES)',
      );
    }
    if (o.nats.length === 0) {
      problems.push(
        'nats: storage is postgres but no NATS server is set (--nats URL[,URL] or NEXO_NATS); the nodes of a cluster talk through it',
      );
    }
  } else {
    if (o.postgres !== undefined) {
      problems.push('postgres: a PostgreSQL URL is set but storage is embedded; add --storage postgres');
    }
    if (o.nats.length > 0) {
      problems.push('nats: NATS servers are set but storage is embedded; add --storage postgres');
    }
  }
  return problems;
}
