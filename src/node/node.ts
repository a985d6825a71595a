import os from 'node:os';
import type { Logger } from 'pino';
import type {
  NodeStats,
  NodeView,
  ServiceDefinition,
  ServiceFactory,
  ServiceHost,
} from '../contract/service.js';
import { NexoError } from '../errors.js';
import { NodeMetrics } from '../observability/metrics.js';
import { resolveOptions, type ServerOptions, type ServerOptionsInput } from '../options/options.js';
import type { TlsMaterial } from '../security/tls-material.js';
import { Authenticator } from '../server/auth.js';
import { type DirectCall, DirectCaller } from '../server/direct-call.js';
import { Dispatcher } from '../server/dispatcher.js';
import { countLimit, newNodeStats } from '../server/host.js';
import { createLogger } from '../server/logger.js';
import { NodeSecurity } from '../server/node-security.js';
import type { UdpEndpoint } from '../server/udp.js';
import { WorkerPool } from '../server/worker-pool.js';
import { builtinServices } from '../services/index.js';
import type { EngineHealth } from '../storage/health.js';
import type { Conduit, TransportKind, TransportListener } from '../transport/types.js';
import { EngineTimings } from '../util/histogram.js';
import type { ClusterMembers } from '../wire/cluster.js';
import { ConnectionTable } from './connections.js';
import { type Engines, openEngines, storageHost } from './engines.js';
import { NodeListeners } from './listeners.js';
import { Presence } from './presence.js';

export interface NodeExtras {
  /** Services to run; default: the built-in ones. */
  services?: ServiceFactory[];
  /** Use this logger instead of creating one from options.log. */
  logger?: Logger;
}

export interface CloseOptions {
  /** How long in-flight requests may take before connections are cut; default options.shutdownTimeout. */
  timeoutMs?: number;
}

/**
 * A nexo server node: it composes the connection table (connections.ts: modes, slots, timeouts), the ports
 * (listeners.ts), the storage engines and bus (engines.ts), the services and the cluster presence, starts
 * them in order and drains them gracefully on close (§7.3).
 */
export class NexoNode {
  readonly options: ServerOptions;
  readonly log: Logger;
  readonly stats: NodeStats = newNodeStats();
  readonly dispatcher: Dispatcher;
  readonly pool: WorkerPool;
  readonly startedAt = Date.now();
  /** Store and bus latency, filled by the engines and services (nexo_store/bus_duration_seconds). */
  readonly timings = new EngineTimings();
  readonly #connections: ConnectionTable;
  readonly #listeners: NodeListeners;
  readonly #services: ServiceDefinition[] = [];
  readonly #caller: DirectCaller;
  /** TLS listener and reload, stored tokens and their revocation. */
  readonly security: NodeSecurity;
  /** Prometheus metrics (/metrics on the HTTP port), read from the counters above at scrape time. */
  readonly metrics: NodeMetrics;
  #engines: Engines | undefined;
  #presence: Presence | undefined;
  #nodeId: string;
  #state: 'new' | 'running' | 'draining' | 'closed' = 'new';
  #closing: Promise<void> | undefined;

  constructor(input: ServerOptionsInput = {}, extras: NodeExtras = {}) {
    this.options = resolveOptions(input);
    this.dispatcher = new Dispatcher(this.options.files, this.options.http.metrics);
    this.dispatcher.limitRequests(this.options.requestRate, this.options.requestBurst, () =>
      countLimit(this.stats, 'request_rate'),
    );
    this.log = extras.logger ?? createLogger(this.options.log);
    this.#nodeId = this.options.nodeId ?? `${os.hostname()}:${this.options.port}`;
    this.dispatcher.denials.attach(this.log);
    const auth = new Authenticator(
      this.options.auth.tokens,
      this.options.auth.anonymous,
      this.dispatcher.denials,
    );
    this.security = new NodeSecurity(
      this.options,
      auth,
      this.log,
      this.dispatcher.denials,
      () => this.#connections.values(),
      this.stats,
    );
    this.#connections = new ConnectionTable({
      options: this.options,
      dispatcher: this.dispatcher,
      auth,
      log: this.log,
      stats: this.stats,
      nodeId: () => this.#nodeId,
      running: () => this.#state === 'running',
    });
    this.#listeners = new NodeListeners({
      node: this,
      security: this.security,
      connection: this.#connections.host,
      nextSessionId: this.#connections.nextId,
      draining: () => this.draining,
      accept: (conduit) => this.accept(conduit),
    });
    this.#caller = new DirectCaller(this.#connections.host, this.#connections.nextId, () => this.draining);
    this.pool = new WorkerPool(
      this.options.workers,
      new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url),
    );
    this.metrics = new NodeMetrics({
      stats: this.stats,
      connections: () => this.#connections.states(),
      requestLatency: () => this.dispatcher.latencies(),
      timings: this.timings,
      admission: () => ({
        active: this.#connections.admission.active,
        waiting: this.#connections.admission.waiting,
      }),
      workerQueue: () => this.pool.queued,
      denials: () => this.dispatcher.denials.counts,
      udp: () => this.udp?.stats(),
      services: () => this.#services,
    });
    const node = this;
    const view: NodeView = {
      startedAt: this.startedAt,
      stats: this.stats,
      get draining() {
        return node.draining;
      },
      connectionsByTransport: () => this.openConnections(),
      services: () => this.#services,
      httpAddress: () => this.httpAddress(),
      storage: () => ({ mode: this.options.storage, engines: this.engineHealth() }),
      members: () => this.members(),
    };
    const host: ServiceHost = {
      options: this.options,
      log: this.log,
      pool: this.pool,
      nodeId: () => this.#nodeId,
      node: view,
      storage: storageHost(this.options.storage, () => this.#engines, this.timings),
    };
    for (const factory of extras.services ?? builtinServices()) {
      const service = factory(host);
      this.dispatcher.register(service);
      this.#services.push(service);
    }
  }

  get nodeId(): string {
    return this.#nodeId;
  }

  /** Each shared engine's health (empty in embedded mode); /readyz is 503 while one is down. */
  engineHealth(): EngineHealth[] {
    return this.#engines?.health() ?? [];
  }

  get draining(): boolean {
    return this.#state === 'draining' || this.#state === 'closed';
  }

  /**
   * Starts services, then listens on TCP host:port and (unless `http.enabled` is false) starts the HTTP
   * gateway: REST API, WebSocket transport, dashboard. Resolves with the bound TCP address.
   */
  async start(): Promise<{ host: string; port: number }> {
    if (this.#state !== 'new') throw new Error('node already started');
    this.security.prepare(); // bad certificate files or tokens file: fail before anything listens
    this.#state = 'running';
    try {
      // Before any service starts: services take their backends and bus from these.
      this.#engines = await openEngines(this.options, this.log, this.timings);
      for (const service of this.#services) await service.start?.();
    } catch (err) {
      this.#state = 'closed';
      // Services that started (or did not) are stopped; a failure to stop must not hide the cause.
      for (const service of this.#services) await (async () => service.stop?.())().catch(() => {});
      await this.#engines?.close();
      await this.pool.close();
      throw err;
    }
    const address = await this.#listeners.listenTcp();
    if (this.options.nodeId === undefined) this.#nodeId = `${os.hostname()}:${address.port}`;
    try {
      await this.#listeners.listenOthers(address.port);
      // Last: HAProxy's agent-check and the cluster membership announce a node that serves on every port.
      this.#presence = this.#newPresence();
      await this.#presence.start(this.#engines);
    } catch (err) {
      await this.#presence?.close();
      await this.#listeners.closeAll();
      this.#state = 'closed';
      for (const service of this.#services) await service.stop?.();
      await this.#engines?.close();
      await this.pool.close();
      throw err;
    }
    this.security.watchTokens();
    this.#connections.startSweeping();
    const http = this.#listeners.http;
    const httpAddress = http?.address();
    const tlsAddress = this.tlsAddress();
    const metricsServer = this.#listeners.metricsServer;
    this.log.info(
      {
        node: this.#nodeId,
        address: `${address.host}:${address.port}`,
        tls: tlsAddress === undefined ? 'off' : `nexos://${tlsAddress.host}:${tlsAddress.port}`,
        http:
          httpAddress === undefined
            ? 'off'
            : `${http?.secure ? 'https' : 'http'}://${httpAddress.host}:${httpAddress.port}`,
        udp: this.udp === undefined ? 'off' : this.udp.listener.address().port,
        agent: this.agentAddress()?.port ?? 'off',
        ...(metricsServer === undefined ? {} : { metrics: metricsServer.address().port }),
      },
      'nexo node listening',
    );
    return address;
  }

  #newPresence(): Presence {
    return new Presence({
      options: this.options,
      log: this.log,
      startedAt: this.startedAt,
      nodeId: () => this.#nodeId,
      draining: () => this.draining,
      connections: () =>
        this.#connections.size +
        Math.max(0, (this.#listeners.http?.openConnections ?? 0) - this.connectionsByTransport().ws),
      requests: () => this.stats.requests,
      ports: () => ({
        tcp: this.address().port,
        ...(this.tlsAddress() === undefined ? {} : { tls: this.tlsAddress()!.port }),
        ...(this.#listeners.http === undefined ? {} : { http: this.#listeners.http.address().port }),
        ...(this.udp === undefined ? {} : { udp: this.udp.listener.address().port }),
      }),
    });
  }

  /** The cluster's live members, or this node alone outside cluster mode (`node.members`). */
  members(): Promise<ClusterMembers> {
    if (this.#presence === undefined) {
      return Promise.reject(new NexoError('SHUTTING_DOWN', 'the node is not listening'));
    }
    return this.#presence.members(2000);
  }

  /** HAProxy's agent-check address, when it listens (`agent.port`). */
  agentAddress(): { host: string; port: number } | undefined {
    return this.#presence?.agentAddress();
  }

  /** The TLS address (nexos://), when TLS is on. */
  tlsAddress(): { host: string; port: number } | undefined {
    return this.#listeners.tlsAddress();
  }

  /** The certificate the node serves, for the HTTPS gateway. */
  tlsMaterial(): TlsMaterial | undefined {
    return this.security.material;
  }

  /** Where the HTTP gateway listens (REST API, /ws, dashboard); undefined when it is off. */
  httpAddress(): { host: string; port: number } | undefined {
    return this.#listeners.http?.address();
  }

  /**
   * Runs one method call that did not come over a nexo connection (the REST API): same role check, args
   * schema and handler as a REQUEST, in a session of its own.
   */
  invoke(call: DirectCall): Promise<unknown> {
    return this.#caller.invoke(call);
  }

  /** Where `--metrics-port` listens; undefined without it (then /metrics is on the HTTP port). */
  metricsAddress(): { host: string; port: number } | undefined {
    return this.#listeners.metricsServer?.address();
  }

  /** Where UDP is bound (protocol §13), and its counters; undefined when UDP is off. */
  get udp(): UdpEndpoint | undefined {
    return this.#listeners.udp;
  }

  /** The TCP address, once started. */
  address(): { host: string; port: number } {
    return this.#listeners.address();
  }

  /** Adds another listener's conduits (WebSocket, TLS) to this node. */
  addListener(listener: TransportListener): void {
    this.#listeners.add(listener);
  }

  /** Entry of every transport: a new byte stream with its peer (§3.2: its first byte decides the mode). */
  accept(conduit: Conduit): void {
    this.#connections.accept(conduit);
  }

  /** Open connections, by transport (binary and text alike). */
  connectionsByTransport(): Record<TransportKind, number> {
    return this.#connections.byTransport();
  }

  /**
   * What the dashboard shows: open connections by transport, those still being sniffed included (transports
   * this node does not listen on are left out), plus plain HTTP connections to the gateway (not upgraded to
   * WebSocket).
   */
  openConnections(): Record<string, number> {
    const counts = this.connectionsByTransport();
    for (const conduit of this.#connections.sniffing()) counts[conduit.peer.transport]++;
    const out: Record<string, number> = { tcp: counts.tcp };
    const http = this.#listeners.http;
    if (http !== undefined) {
      out.ws = counts.ws;
      // Sockets on the HTTP port that are not WebSockets; never shown below 0 while counts catch up.
      out.http = Math.max(0, http.openConnections - counts.ws);
    }
    if (counts.tls > 0) out.tls = counts.tls;
    if (counts.udp > 0) out.udp = counts.udp;
    return out;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Graceful shutdown (§7.3): stop accepting, tell every client it is going away, let in-flight requests
   * finish, then close. Connections still open at the deadline are cut.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeoutMs ?? this.options.shutdownTimeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    if (this.#state === 'new') {
      this.#state = 'closed';
      await this.pool.close();
      this.metrics.close();
      return;
    }
    this.#state = 'draining';
    this.#presence?.draining();
    const started = Date.now();
    this.log.info({ connections: this.#connections.size, timeoutMs }, 'shutting down');
    const listenersClosed = this.#listeners.closeTransports();
    const going = new NexoError('SHUTTING_DOWN', 'the node is shutting down', { node: this.#nodeId });
    this.#connections.stopIntake(going);
    // §7.3.5 Reconnect at once, to one of the other live nodes when the membership names them.
    const alternates = await this.#presence?.alternates(500);
    const hint = { reconnectMs: 0, ...(alternates?.length ? { alternates } : {}) };
    await this.#connections.drain(going, hint, started, timeoutMs);
    this.#connections.stopSweeping();
    // Drained: out of the membership, and HAProxy's agent gets no answer (the health check marks it down).
    await this.#presence?.close();
    // UDP sessions are connections too: the socket closes only once they have said goodbye (or were cut).
    await this.#listeners.udp?.close();
    this.security.close();
    // HTTP closes last: until now /readyz answered 503 (draining) and HTTP calls in flight could finish.
    await this.#listeners.http?.close(Math.max(0, timeoutMs - (Date.now() - started)));
    // Scraped until the end: the last scrape sees the drain.
    await this.#listeners.metricsServer?.close();
    await listenersClosed;
    for (const service of this.#services) {
      try {
        await service.stop?.();
      } catch (err) {
        this.log.error({ err, service: service.name }, 'service failed to stop');
      }
    }
    // After the services: they flush their last writes through the engines.
    await this.#engines?.close().catch((err: unknown) => this.log.error({ err }, 'engines failed to close'));
    await this.pool.close();
    this.metrics.close();
    this.#state = 'closed';
    this.log.info({ ms: Date.now() - started }, 'node stopped');
  }
}
