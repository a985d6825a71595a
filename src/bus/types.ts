import type { EngineHealth } from '../storage/health.js';

/**
 * The message bus between the parts of a node and, in shared mode, between the nodes of a cluster: chat
 * fan-out, telemetry watches and alerts, anything that must reach every node.
 *
 * Subjects are dot-separated tokens as in NATS (`chat.room.6c6f62627921`); a subscription may use `*` for
 * one token and `>` (last) for one or more. Payloads are bytes (callers encode, e.g. with msgpackr). The
 * in-process `LocalBus` and the NATS one (`NatsBus`, subjects prefixed by the cluster name) behave alike;
 * test/conformance/bus.ts checks both with the same tests.
 *
 * Delivery is at most once and never re-entrant: a handler is called after `publish` returns, in publish
 * order for one publisher and one subscriber.
 */
export interface Bus {
  /**
   * True when other nodes may be on this bus (NATS). A service may skip publishing what only other nodes
   * would read when it is false (the embedded mode's LocalBus).
   */
  readonly spansNodes: boolean;
  publish(subject: string, data: Uint8Array): void;
  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): BusSubscription;
  /**
   * Sends a request to one responder of `subject` and resolves with its reply. Rejects with NexoError
   * NO_RESPONDERS when nobody serves the subject, TIMEOUT after `timeoutMs` (default 5 s), or the
   * responder's own error.
   */
  request(subject: string, data: Uint8Array, options?: RequestOptions): Promise<Uint8Array>;
  /**
   * Serves requests on `subject`; with `queue`, each request goes to one member of the group. A handler
   * that throws sends its error (a NexoError's code and message, INTERNAL_ERROR otherwise) to the requester.
   */
  respond(subject: string, handler: Responder, options?: SubscribeOptions): BusSubscription;
  /** Resolves when everything published so far has reached the bus (NATS: a round trip to the server). */
  flush(): Promise<void>;
  /** Ends every subscription; publish and request fail afterwards. */
  close(): Promise<void>;
  /** The engine's health for /readyz (NatsBus); undefined for the in-process bus. */
  health?(): EngineHealth;
  /**
   * Calls `listener` when the engine goes down or comes back (NatsBus): messages published meanwhile may be
   * lost, and a service that must not miss them catches up from its store (telemetry, §9.T.7.3).
   */
  onHealth?(listener: (health: EngineHealth) => void): () => void;
}

export interface BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
}

export type MessageHandler = (message: BusMessage) => void;
export type Responder = (data: Uint8Array, subject: string) => Uint8Array | Promise<Uint8Array>;

export interface SubscribeOptions {
  /** Queue group: each message goes to one subscriber of the group rather than to all. */
  readonly queue?: string;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
}

export interface BusSubscription {
  unsubscribe(): void;
}
