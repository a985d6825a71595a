/**
 * The nexo client for browsers: the same NexoClient as in Node, over the node's WebSocket endpoint. No Node
 * API is reachable from here (the dashboard bundles this file).
 */

import type { ClientOptions } from './client.js';
import { NexoClient } from './client.js';
import { webSocketFactory } from './websocket.js';

export interface BrowserConnectOptions extends Omit<ClientOptions, 'endpoints' | 'socketFactory'> {
  /** `host:port` of nodes' HTTP gateways; default: the page's own origin. */
  endpoints?: readonly string[];
  /** WebSocket path; default `/ws`. */
  path?: string;
}

/** `host:port` of the page (the node that served it), with the scheme's default port filled in. */
export function pageEndpoint(location: { hostname: string; port: string; protocol: string }): string {
  const host = location.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = location.port || (location.protocol === 'https:' ? '443' : '80');
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A client for the node that served the page (not connected yet: call `connect()` or just make requests). */
export function browserClient(options: BrowserConnectOptions = {}): NexoClient {
  const { endpoints, path, ...rest } = options;
  const secure = globalThis.location?.protocol === 'https:';
  return new NexoClient({
    ...rest,
    endpoints: endpoints ?? [pageEndpoint(globalThis.location)],
    socketFactory: webSocketFactory({ path: path ?? '/ws', secure }),
  });
}

export { NexoError } from '../errors.js';
export type { ChatEvent, ChatMessage } from '../wire/chat.js';
export type { ClusterMembers, Member, MemberState } from '../wire/cluster.js';
export type { FileEntry, FilesUsage } from '../wire/files.js';
export type { NodeInfo } from '../wire/node.js';
export type {
  AlertEvent,
  AlertRuleWithState,
  Bucket,
  LatestReading,
  LiveReading,
  SensorSummary,
} from '../wire/telemetry.js';
export type { ChatMembership } from './api/chat.js';
export type { TransferProgress, UploadResult, UploadStart } from './api/files-options.js';
export type { NodeStats } from './api/node.js';
export type { Watch } from './api/telemetry.js';
export type { ClientState } from './client.js';
export { NexoClient } from './client.js';
export { webSocketFactory } from './websocket.js';
