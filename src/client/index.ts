/** The nexo client for Node (TCP). Browsers use the same NexoClient with a WebSocket socket factory. */
import { type ClientOptions, NexoClient } from './client.js';
import { NexoPool, type PoolOptions } from './pool.js';
import type { Endpoint, SocketFactory } from './socket.js';
import { DEFAULT_PORT } from './socket.js';
import { type ClientTlsOptions, nodeSocketFactory } from './tls.js';

export interface ConnectOptions extends Omit<ClientOptions, 'endpoints' | 'socketFactory'> {
  /** TLS for `nexos://` endpoints (and for all with `always`): CA, client certificate and key as PEM. */
  tls?: ClientTlsOptions;
  /** Default: $NEXO_SERVER (comma-separated), else 127.0.0.1:5000. */
  endpoints?: readonly (string | Endpoint)[];
  socketFactory?: SocketFactory;
}

/** The endpoints from $NEXO_SERVER, else the local default. */
export function defaultEndpoints(): string[] {
  const env = typeof process === 'undefined' ? undefined : process.env.NEXO_SERVER;
  if (env !== undefined && env.trim() !== '')
    return env
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return [`127.0.0.1:${DEFAULT_PORT}`];
}

export interface ConnectPoolOptions extends Omit<PoolOptions, 'endpoints' | 'socketFactory'> {
  tls?: ClientTlsOptions;
  /** Every node to use. Default: $NEXO_SERVER (comma-separated), else 127.0.0.1:5000. */
  endpoints?: readonly (string | Endpoint)[];
  socketFactory?: SocketFactory;
}

/**
 * A client of several nodes at once (no load balancer in front): one connection per endpoint, least-pending
 * choice, failover, and retries of what is safe to repeat (docs/protocol.md §14). Resolves once one node
 * answered; the others keep being tried with backoff.
 */
export async function connectPool(options: ConnectPoolOptions = {}): Promise<NexoPool> {
  const pool = new NexoPool({
    ...options,
    endpoints: options.endpoints ?? defaultEndpoints(),
    socketFactory: options.socketFactory ?? nodeSocketFactory(options.tls),
  });
  await pool.connect();
  return pool;
}

/** Creates a client and connects it (tries each endpoint once; see NexoClient for reconnects). */
export async function connect(options: ConnectOptions = {}): Promise<NexoClient> {
  const client = new NexoClient({
    ...options,
    endpoints: options.endpoints ?? defaultEndpoints(),
    socketFactory: options.socketFactory ?? nodeSocketFactory(options.tls),
  });
  await client.connect();
  return client;
}

export type { ChatEvent, ChatMessage } from '../wire/chat.js';
export type { ClusterMembers, Member, MemberState } from '../wire/cluster.js';
export type { FileEntry, FileRef, FilesUsage, UploadStatus } from '../wire/files.js';
export type { NodeInfo } from '../wire/node.js';
export type {
  Ack,
  AlertEvent,
  AlertRule,
  AlertRuleWithState,
  Bucket,
  BucketsQuery,
  BucketsResult,
  LatestReading,
  LiveReading,
  MetricSummary,
  ReadingInput,
  ReadingsPage,
  ReadingsQuery,
  SensorMeta,
  SensorMeta as SensorMetaInput,
  SensorSummary,
  StoredReading,
  WatchFilter,
} from '../wire/telemetry.js';
export type { CalcBatchItem, CalcValue } from './api/calc.js';
export type { ChatJoinOptions, ChatMembership } from './api/chat.js';
export type {
  DownloadOptions,
  DownloadResult,
  DownloadStart,
  FileSpecifier,
  TransferProgress,
  UploadOptions,
  UploadResult,
  UploadStart,
} from './api/files-options.js';
export type { GreetLanguage } from './api/greet.js';
export type { NodeStats } from './api/node.js';
export type { CallHandle, CallOptions, Requester, RequestOptions } from './api/requester.js';
export type { TelemetryApi, Watch, WatchHandlers } from './api/telemetry.js';
export type { BackoffOptions } from './backoff.js';
export type { ClientEvents, ClientOptions, ClientState } from './client.js';
export { NexoClient } from './client.js';
export type { CallHandlers } from './connection.js';
export { IDEMPOTENCY, type Idempotency, idempotencyOf, mayRepeat } from './idempotency.js';
export { NexoPool, type PoolEvents, type PoolOptions, type PoolRequestOptions } from './pool.js';
export {
  type BufferedReading,
  type SensorAck,
  SensorClient,
  type SensorClientEvents,
  type SensorClientOptions,
} from './sensor-client.js';
export type { ClientSocket, Endpoint, SocketFactory } from './socket.js';
export { formatEndpoint, parseEndpoint } from './socket.js';
export { tcpSocketFactory } from './tcp.js';
export { type ClientTlsOptions, nodeSocketFactory } from './tls.js';
export type { WebSocketConstructor, WebSocketFactoryOptions, WebSocketLike } from './websocket.js';
export { WEBSOCKET_SUBPROTOCOL, webSocketFactory } from './websocket.js';
export { nodeWebSocketFactory } from './ws-node.js';
