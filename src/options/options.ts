import { type Static, Type } from '@sinclair/typebox';
import { CALC_DEFAULTS, type CalcOptions, CalcSchema, calcProblems, resolveCalc } from './calc.js';
import { CHAT_DEFAULTS, type ChatOptions, ChatSchema, resolveChat } from './chat.js';
import {
  CLUSTER_DEFAULTS,
  type ClusterOptions,
  ClusterSchema,
  clusterProblems,
  engineProblems,
  resolveCluster,
} from './cluster.js';
import {
  CORE_DEFAULTS,
  type CoreOptions,
  CoreSchema,
  resolveCore,
  sizeProblems,
  timingProblems,
} from './core.js';
import { FILES_DEFAULTS, type FilesOptions, FilesSchema, filesProblems, resolveFiles } from './files.js';
import { HTTP_DEFAULTS, type HttpOptions, HttpSchema, httpProblems, resolveHttp } from './http.js';
import { describeProblems, OptionsError, unitReader } from './problems.js';
import {
  LOG_DEFAULTS,
  type LogOptions,
  LogSchema,
  resolveLog,
  resolveWorkers,
  type WorkersOptions,
  WorkersSchema,
} from './process.js';
import {
  type AuthOptions,
  AuthSchema,
  authProblems,
  resolveAuth,
  resolveTls,
  type TlsOptions,
  TlsSchema,
  tlsProblems,
} from './security.js';
import {
  resolveTelemetry,
  TELEMETRY_DEFAULTS,
  type TelemetryOptions,
  TelemetrySchema,
  telemetryProblems,
} from './telemetry.js';
import { resolveUdp, UDP_DEFAULTS, type UdpOptions, UdpSchema, udpProblems } from './udp.js';

/**
 * Every server setting, its default, and its validation. Each group of settings has a module of its own
 * (schema, resolved type, defaults, checks); this one composes them. Flags, environment variables and the
 * config file all produce a `ServerOptionsInput`; `resolveOptions` validates it and fills in defaults.
 */

export type { CalcOptions } from './calc.js';
export type { ChatOptions } from './chat.js';
export { type ClusterOptions, DEFAULT_AGENT_PORT, type StorageMode } from './cluster.js';
export { type CoreOptions, DEFAULT_PORT } from './core.js';
export type { FilesOptions } from './files.js';
export type { HttpOptions } from './http.js';
export { describeProblems, OptionsError } from './problems.js';
export type { LogLevel, LogOptions, WorkersOptions } from './process.js';
export { type AuthOptions, DEFAULT_TLS_PORT, type TlsOptions } from './security.js';
export type { TelemetryOptions } from './telemetry.js';
export type { UdpOptions } from './udp.js';
export type { RoleList } from './values.js';

export const ServerOptionsSchema = Type.Object(
  {
    ...CoreSchema.properties,
    ...ClusterSchema.properties,
    auth: Type.Optional(AuthSchema),
    tls: Type.Optional(TlsSchema),
    calc: Type.Optional(CalcSchema),
    http: Type.Optional(HttpSchema),
    udp: Type.Optional(UdpSchema),
    chat: Type.Optional(ChatSchema),
    telemetry: Type.Optional(TelemetrySchema),
    files: Type.Optional(FilesSchema),
    workers: Type.Optional(WorkersSchema),
    log: Type.Optional(LogSchema),
  },
  { additionalProperties: false },
);

export type ServerOptionsInput = Static<typeof ServerOptionsSchema>;

export interface ServerOptions extends CoreOptions, ClusterOptions {
  auth: AuthOptions;
  /** The TLS listener and HTTPS, on when `cert` and `key` are given (docs/configuration.md, protocol §2.4). */
  tls: TlsOptions;
  calc: CalcOptions;
  /** The HTTP gateway: REST API, WebSocket transport (/ws), dashboard, health checks. */
  http: HttpOptions;
  /** nexo over UDP (protocol §13): text datagrams and secure sensor sessions, on the same port number. */
  udp: UdpOptions;
  chat: ChatOptions;
  telemetry: TelemetryOptions;
  files: FilesOptions;
  workers: WorkersOptions;
  log: LogOptions;
}

export const DEFAULTS = {
  ...CORE_DEFAULTS,
  ...CLUSTER_DEFAULTS,
  calc: CALC_DEFAULTS,
  http: HTTP_DEFAULTS,
  udp: UDP_DEFAULTS,
  chat: CHAT_DEFAULTS,
  telemetry: TELEMETRY_DEFAULTS,
  files: FILES_DEFAULTS,
  log: LOG_DEFAULTS,
} as const;

export function resolveOptions(input: ServerOptionsInput | Record<string, unknown> = {}): ServerOptions {
  const problems = describeProblems(ServerOptionsSchema, input);
  if (problems.length > 0) throw new OptionsError(problems);
  const o = input as ServerOptionsInput;
  const unit = unitReader(problems);
  const resolved: ServerOptions = {
    ...resolveCore(o, unit),
    ...resolveCluster(o, o.host),
    auth: resolveAuth(o.auth),
    tls: resolveTls(o.tls),
    calc: resolveCalc(o.calc, unit),
    http: resolveHttp(o.http, o.host, unit),
    udp: resolveUdp(o.udp, unit),
    chat: resolveChat(o.chat),
    telemetry: resolveTelemetry(o.telemetry, unit),
    files: resolveFiles(o.files, unit),
    workers: resolveWorkers(o.workers),
    log: resolveLog(o.log),
  };
  // Rules that relate two values or bound a parsed unit.
  problems.push(
    ...sizeProblems(resolved),
    ...clusterProblems(resolved),
    ...timingProblems(resolved),
    ...calcProblems(resolved.calc),
    ...httpProblems(resolved.http, resolved),
    ...udpProblems(resolved.udp),
    ...tlsProblems(resolved.tls, resolved.port, resolved.http),
    ...telemetryProblems(resolved.telemetry),
    ...filesProblems(resolved.files),
    ...engineProblems(resolved),
    ...authProblems(resolved.auth),
  );
  if (problems.length > 0) throw new OptionsError(problems);
  return resolved;
}
