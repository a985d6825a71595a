import os from 'node:os';
import path from 'node:path';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
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
    dataDir: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    maxClients: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    maxQueue: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
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
  /** Where services keep their embedded stores (SQLite files, uploaded files). Resolved to an absolute path. */
  dataDir: string;
  /** Connections served at once; 0 = no limit. 1 gives the seeds' sequential server. */
  maxClients: number;
  /** Connections allowed to wait for a slot; beyond it they get SERVER_BUSY. */
  maxQueue: number;
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
  auth: { anonymous: boolean; tokens: Record<string, string> };
  calc: { precision: number; timeoutMs: number; maxLength: number; maxVariables: number; maxBatch: number };
  files: FilesOptions;
  workers: { threads: number; maxMemoryMb: number };
  log: { level: LogLevel; pretty: boolean };
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

export const DEFAULT_PORT = 5000;

export const DEFAULTS = {
  host: '0.0.0.0',
  port: DEFAULT_PORT,
  dataDir: './nexo-data',
  maxClients: 0,
  maxQueue: 1024,
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
  calc: { precision: 64, timeout: '1s', maxLength: 65536, maxVariables: 100, maxBatch: 1000 },
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
    dataDir: path.resolve(o.dataDir ?? DEFAULTS.dataDir),
    maxClients: o.maxClients ?? DEFAULTS.maxClients,
    maxQueue: o.maxQueue ?? DEFAULTS.maxQueue,
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
    auth: { anonymous: o.auth?.anonymous ?? true, tokens: { ...(o.auth?.tokens ?? {}) } },
    calc: {
      precision: o.calc?.precision ?? DEFAULTS.calc.precision,
      timeoutMs: unit('calc.timeout', parseDuration, o.calc?.timeout ?? DEFAULTS.calc.timeout),
      maxLength: o.calc?.maxLength ?? DEFAULTS.calc.maxLength,
      maxVariables: o.calc?.maxVariables ?? DEFAULTS.calc.maxVariables,
      maxBatch: o.calc?.maxBatch ?? DEFAULTS.calc.maxBatch,
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
  if (resolved.handshakeTimeoutMs === 0) problems.push('handshakeTimeout: must be more than 0');
  if (resolved.slowPeerTimeoutMs === 0) problems.push('slowPeerTimeout: must be more than 0');
  if (resolved.calc.timeoutMs === 0) problems.push('calc.timeout: must be more than 0');
  if (resolved.files.maxFileSize === 0) problems.push('files.maxFileSize: must be more than 0');
  if (resolved.files.partialExpiryMs < 1000) {
    problems.push(
      `files.partialExpiry: must be at least 1s, so an interrupted upload can be resumed (got ${resolved.files.partialExpiryMs} ms)`,
    );
  }
  if (resolved.files.stallTimeoutMs < 1000) {
    problems.push(`files.stallTimeout: must be at least 1s (got ${resolved.files.stallTimeoutMs} ms)`);
  }
  if (!resolved.auth.anonymous && Object.keys(resolved.auth.tokens).length === 0) {
    problems.push('auth: anonymous access is off but no tokens are configured, so nobody could connect');
  }
  if (problems.length > 0) throw new OptionsError(problems);
  return resolved;
}
