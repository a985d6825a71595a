import type { Logger } from 'pino';
import type { NodeStats } from '../contract/service.js';
import { ERRORS } from '../errors.js';
import type { Authenticator } from './auth.js';
import type { Dispatcher } from './dispatcher.js';
import type { ServerOptions } from './options.js';

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
  };
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
