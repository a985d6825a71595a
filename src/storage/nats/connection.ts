import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NexoError } from '../../errors.js';
import { redactUrl } from '../../util/redact-url.js';
import { type EngineHealth, HealthState } from '../health.js';

/**
 * The node's NATS connection, shared by the bus (src/bus/nats.ts) and the services' JetStream streams,
 * KV and object-store buckets. It reconnects forever (a NATS restart must not stop the node); while it is
 * disconnected `health().up` is false, which turns /readyz to 503.
 *
 * Every name this cluster creates in NATS starts with `cluster` (subjects `<cluster>.…`, streams and
 * buckets `<cluster>_…`), so clusters and tests can share one NATS server.
 */
export interface Nats {
  readonly nc: NatsConnection;
  /** The cluster's name: the prefix of its subjects, streams and buckets. */
  readonly cluster: string;
  /** The servers' URLs, passwords redacted, comma-separated. */
  readonly url: string;
  readonly js: JetStreamClient;
  jsm(): Promise<JetStreamManager>;
  readonly kv: Kvm;
  readonly obj: Objm;
  /** `<cluster>.<rest>`: a subject of this cluster. */
  subject(rest: string): string;
  /** `<cluster>_<rest>`: a stream or bucket name of this cluster. */
  name(rest: string): string;
  health(): EngineHealth;
  onHealth(listener: (health: EngineHealth) => void): () => void;
  /** Drains subscriptions and closes. */
  close(): Promise<void>;
}

export interface NatsOptions {
  /** Cluster name (validated by options.ts: `[A-Za-z0-9_-]{1,32}`). */
  readonly cluster: string;
  /** Connection name, seen in the server's monitoring (default "nexo"). */
  readonly name?: string;
  /** Time for the first connection (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Check that JetStream is enabled on the server at start-up (default true). */
  readonly requireJetStream?: boolean;
  readonly log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/**
 * Connects to `servers`; a server that refuses the first connection fails with one line naming it:
 * `cannot connect to NATS at nats://127.0.0.1:4222: connection refused`.
 */
export async function openNats(servers: readonly string[], options: NatsOptions): Promise<Nats> {
  const url = servers.map(redactUrl).join(',');
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: [...servers],
      name: options.name ?? 'nexo',
      timeout: options.connectTimeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // Pings notice a dead server that never closed its socket.
      pingInterval: 5000,
      maxPingOut: 2,
    });
  } catch (err) {
    throw new NexoError(
      'STORAGE_UNAVAILABLE',
      `cannot connect to NATS at ${url}: ${oneLine(err)}`,
      { engine: 'nats', url },
      { cause: err },
    );
  }
  if (options.requireJetStream !== false) {
    try {
      await jetstreamManager(nc);
    } catch (err) {
      await nc.close().catch(() => {});
      throw new NexoError(
        'STORAGE_UNAVAILABLE',
        `NATS at ${url} has no JetStream (start nats-server with -js): ${oneLine(err)}`,
        { engine: 'nats', url },
        { cause: err },
      );
    }
  }
  return new NatsEngine(nc, url, options);
}

function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message || err.name : String(err);
  return message.split('\n')[0] ?? '';
}

class NatsEngine implements Nats {
  readonly js: JetStreamClient;
  readonly kv: Kvm;
  readonly obj: Objm;
  readonly cluster: string;
  readonly #state: HealthState;
  readonly #listeners = new Set<(health: EngineHealth) => void>();
  #closed = false;

  constructor(
    readonly nc: NatsConnection,
    readonly url: string,
    options: NatsOptions,
  ) {
    this.cluster = options.cluster;
    this.js = jetstream(nc);
    this.kv = new Kvm(this.js);
    this.obj = new Objm(this.js);
    const log = options.log;
    this.#state = new HealthState('nats', url, (up, error) => {
      if (up) log?.info({ engine: 'nats', url }, 'NATS is reachable again');
      else log?.warn({ engine: 'nats', url, error }, 'NATS is unreachable');
      const health = this.#state.snapshot();
      for (const listener of this.#listeners) listener(health);
    });
    void this.#watch();
  }

  async #watch(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') this.#state.down(`disconnected from ${redactUrl(status.server)}`);
      else if (status.type === 'reconnecting') this.#state.down('reconnecting');
      else if (status.type === 'staleConnection') this.#state.down('the server stopped answering pings');
      else if (status.type === 'reconnect') this.#state.ok();
      else if (status.type === 'close') this.#state.down('the connection is closed');
    }
  }

  jsm(): Promise<JetStreamManager> {
    return jetstreamManager(this.nc);
  }

  subject(rest: string): string {
    return `${this.cluster}.${rest}`;
  }

  name(rest: string): string {
    return `${this.cluster}_${rest}`;
  }

  health(): EngineHealth {
    return this.#state.snapshot();
  }

  onHealth(listener: (health: EngineHealth) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close().catch(() => {});
    }
  }
}
