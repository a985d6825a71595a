import type { Static, TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { Bus } from '../bus/types.js';
import type { ServerOptions, StorageMode } from '../options/options.js';
import type { EngineHealth } from '../storage/health.js';
import type { Nats } from '../storage/nats/connection.js';
import type { Postgres } from '../storage/postgres/postgres.js';
import type { EngineTimings, Histogram } from '../util/histogram.js';
import type { ClusterMembers } from '../wire/cluster.js';
import type { Session } from './session.js';

/** Counters the node exposes (CLI, dashboard, metrics). */
export interface NodeStats {
  requests: number;
  errors: number;
  connectionsTotal: number;
  bytesIn: number;
  bytesOut: number;
  /** Frames decoded from binary clients, and frames sent to them. */
  framesIn: number;
  framesOut: number;
  /** Error replies by code; the codes are src/errors.ts's (others `OTHER`), so the keys are bounded. */
  errorsByCode: Record<string, number>;
  /** Connections and requests refused or cut by a limit, by reason (server/host.ts LimitReason: bounded keys). */
  limits: Record<string, number>;
}

/** CPU-bound tasks run off the event loop (node/worker.ts maps each to its function; server/worker-pool.ts runs them). */
export type TaskName = 'calc';

/** The node's worker threads, as a service sees them (server/worker-pool.ts implements it). */
export interface TaskPool {
  run<T>(task: TaskName, payload: unknown, timeoutMs: number, signal?: AbortSignal): Promise<T>;
}

/** Who may call a method: everybody, or sessions whose role is in the list. */
export type Access = 'anyone' | readonly string[];

/** Client-to-server chunks of one request (an upload), in order. Ends after the chunk flagged END. */
export interface ChunkSource extends AsyncIterable<Uint8Array> {
  /** Bytes received and not yet consumed. */
  readonly bufferedBytes: number;
}

/** Everything a handler may do besides returning its result. */
export interface CallContext {
  readonly session: Session;
  /** Aborted when the client cancels, disconnects, or the node stops a long-lived request while draining. */
  readonly signal: AbortSignal;
  /** Sends a non-final RESPONSE (flag MORE), e.g. "subscribed" or "send from offset N" (spec §6.3). */
  progress(value: unknown): void;
  /**
   * Pushes an EVENT for this request (subscriptions, spec §6.5). Returns false when the client is not keeping
   * up (its replies are backing up): the event was still queued, but a service that can afford to should drop
   * further events for this client until `whenWritable()` resolves. A client that stays behind is dropped by
   * the connection (§7.4) whatever the service does.
   */
  emit(value: unknown): boolean;
  /** Resolves when the client has read enough for more to be sent. */
  whenWritable(): Promise<void>;
  /** Chunks the client streams after the request; only for methods declared with `input: 'chunks'`. */
  readonly input: ChunkSource | undefined;
  /** Streams a CHUNK to the client (spec §6.4); resolves when the connection can take more. */
  sendChunk(bytes: Uint8Array, end?: boolean): Promise<void>;
}

export interface MethodDefinition<S extends TSchema = TSchema, R = unknown> {
  readonly description: string;
  /** Schema of the args; checked before the handler runs (INVALID_ARGS otherwise). */
  readonly args: S;
  /**
   * Who may call it, for services outside the built-in role table (security/roles.ts, spec §5.4), which
   * decides for built-in methods.
   */
  readonly access?: Access;
  /** The client streams CHUNK frames after the request. */
  readonly input?: 'chunks';
  /** A subscription: open until cancelled; ended with SHUTTING_DOWN when the node drains. */
  readonly longLived?: boolean;
  // Method syntax keeps parameters bivariant, so specific methods fit MethodDefinition<TSchema>.
  handler(args: Static<S>, ctx: CallContext): R | Promise<R>;
}

/** A line-mode command such as `calc 2*(3+4)` (spec §8). */
export interface TextCommand {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** `calc <expression>` */
  readonly usage: string;
  readonly summary: string;
  /** Turns the rest of the line into a call; throws NexoError INVALID_ARGS with the usage when it cannot. */
  parse(rest: string): { method: string; args: unknown };
  /** The reply lines for a result. */
  format(result: unknown): string | string[];
  /** The line printed for each EVENT of a long-lived call. */
  formatEvent?(event: unknown): string;
  /**
   * For a long-lived command that talks back (chat): what a line typed while it runs does; `args` are the
   * long-lived call's args. Without this hook any line ends the long-lived call and is then read as an
   * ordinary command.
   */
  onLiveLine?(line: string, args: unknown): LiveLineAction;
}

/**
 * What a line typed during a long-lived text command does: run another method of the same service while the
 * long-lived call goes on (`call`, its result printed with `format`), print lines (`reply`), or end the
 * long-lived call (as a cancel), print `reply`, and then read `next` (if given) as an ordinary command line.
 * Throwing a NexoError prints it as an error line; the long-lived call goes on.
 */
export type LiveLineAction =
  | { readonly call: { method: string; args: unknown }; format?(result: unknown): string | string[] }
  | { readonly reply: string | string[] }
  | { readonly end: true; readonly reply?: string | string[]; readonly next?: string };

/** What a service may read about the node it runs on (the `node` service shows it on the dashboard). */
export interface NodeView {
  readonly startedAt: number;
  readonly stats: Readonly<NodeStats>;
  readonly draining: boolean;
  /** Open connections by transport; `http` counts plain HTTP connections (not upgraded to WebSocket). */
  connectionsByTransport(): Record<string, number>;
  services(): readonly ServiceDefinition[];
  /** Where the HTTP gateway listens, when it runs. */
  httpAddress(): { host: string; port: number } | undefined;
  /** The storage mode and each shared engine's health (none in embedded mode). */
  storage(): { mode: StorageMode; engines: EngineHealth[] };
  /** The cluster's live members (this node alone outside cluster mode); STORAGE_UNAVAILABLE when unreadable. */
  members(): Promise<ClusterMembers>;
}

/**
 * The storage and bus the node opened from its settings (src/node/engines.ts). A service takes its backend
 * from here, in its `start()` (the engines open before services start), and never constructs one itself.
 */
export interface StorageHost {
  readonly mode: StorageMode;
  /** The node's PostgreSQL pool; throws in embedded mode and before the node starts. */
  postgres(): Postgres;
  /** The node's NATS connection (JetStream, KV, object store); throws in embedded mode and before start. */
  nats(): Nats;
  /** The message bus: in-process when embedded, NATS when shared; throws before the node starts. */
  bus(): Bus;
  /** The node's store and bus latency histograms (a service times its SQLite work here). */
  readonly timings: EngineTimings;
}

/**
 * Numbers a service reports for the node's dashboard and metrics. Counters only grow (the node service turns
 * them into rates: telemetry's `readings` becomes the ingest rate); gauges are current values.
 */
export interface ServiceStats {
  readonly counters?: Readonly<Record<string, number>>;
  readonly gauges?: Readonly<Record<string, number>>;
  /** Timings (seconds) under names fixed in code: nexo_service_duration_seconds{service, name}. */
  readonly histograms?: Readonly<Record<string, Histogram>>;
}

/** What the node gives a service when it builds it. */
export interface ServiceHost {
  readonly options: ServerOptions;
  readonly log: Logger;
  readonly pool: TaskPool;
  /** The node's id; final once the node listens. */
  nodeId(): string;
  /** Read-only view of the node (uptime, connections, counters, other services). */
  readonly node: NodeView;
  /** Storage engines and the bus. */
  readonly storage: StorageHost;
}

export interface ServiceDefinition {
  readonly name: string;
  readonly description: string;
  readonly methods: Readonly<Record<string, MethodDefinition>>;
  readonly text?: readonly TextCommand[];
  /** Runs once before the node accepts connections (open stores, start timers). */
  start?(): void | Promise<void>;
  /** Runs once after the last connection closed. */
  stop?(): void | Promise<void>;
  /** Current numbers for the node service (dashboard's Node page); must be cheap, it is polled. */
  stats?(): ServiceStats;
}

export type ServiceFactory = (host: ServiceHost) => ServiceDefinition;

/** Identity function that lets TypeScript infer a method's arg and result types from its schema. */
export function defineMethod<S extends TSchema, R>(
  definition: MethodDefinition<S, R>,
): MethodDefinition<S, R> {
  return definition;
}
