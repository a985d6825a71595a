import type { Logger } from 'pino';
import type { NodeStats } from '../contract/service.js';
import type { Authenticator } from './auth.js';
import type { Dispatcher } from './dispatcher.js';
import type { ServerOptions } from './options.js';

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
