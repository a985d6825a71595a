import os from 'node:os';
import type { Logger } from 'pino';
import type {
  NodeStats,
  NodeView,
  ServiceDefinition,
  ServiceFactory,
  ServiceHost,
  StorageHost,
} from '../contract/service.js';
import { NexoError } from '../errors.js';
import { type HttpGateway, startHttpGateway } from '../http/gateway.js';
import { type MetricsServer, startMetricsServer } from '../http/metrics-server.js';
import { NodeMetrics } from '../observability/metrics.js';
import { resolveOptions, type ServerOptions, type ServerOptionsInput } from '../options/options.js';
import { PREFACE_FIRST_BYTE } from '../protocol/constants.js';
import type { TlsMaterial } from '../security/tls-material.js';
import { Admission } from '../server/admission.js';
import { Authenticator } from '../server/auth.js';
import { BinaryConnection } from '../server/binary-connection.js';
import { type DirectCall, DirectCaller } from '../server/direct-call.js';
import { Dispatcher } from '../server/dispatcher.js';
import { type ConnectionHost, countLimit, newNodeStats } from '../server/host.js';
import { createLogger } from '../server/logger.js';
import { NodeSecurity } from '../server/node-security.js';
import type { PeerConnection } from '../server/peer-connection.js';
import { TextSession } from '../server/text-session.js';
import { startUdp, type UdpEndpoint } from '../server/udp.js';
import { WorkerPool } from '../server/worker-pool.js';
import { builtinServices } from '../services/index.js';
import type { EngineHealth } from '../storage/health.js';
import { listenTcp } from '../transport/tcp.js';
import type { Conduit, TransportKind, TransportListener } from '../transport/types.js';
import { EngineTimings } from '../util/histogram.js';
import type { ClusterMembers } from '../wire/cluster.js';
import { type Engines, openEngines } from './engines.js';
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
 * A nexo server node: listeners hand it conduits; it tells binary clients from people typing (§3.2), gives
 * each connection a slot or a place in line (§7.1), sweeps timeouts, and drains gracefully on close (§7.3).
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
  readonly #connectionHost: ConnectionHost;
  readonly #admission: Admission<PeerConnection>;
  readonly #connections = new Map<number, PeerConnection>();
  readonly #sniffing = new Set<Conduit>();
  /** Open protocol and TLS connections by client address (§7.6.1). */
  readonly #perAddress = new Map<string, number>();
  /** Connections refused before admission that never held a slot: their close frees none. */
  readonly #unslotted = new Set<number>();
  readonly #listeners: TransportListener[] = [];
  readonly #services: ServiceDefinition[] = [];
  readonly #caller: DirectCaller;
  /** TLS listener and reload, stored tokens and their revocation. */
  readonly security: NodeSecurity;
  /** Prometheus metrics (/metrics on the HTTP port), read from the counters above at scrape time. */
  readonly metrics: NodeMetrics;
  #http: HttpGateway | undefined;
  #metricsServer: MetricsServer | undefined;
  #udp: UdpEndpoint | undefined;
  #engines: Engines | undefined;
  #presence: Presence | undefined;
  #nodeId: string;
  #nextId = 1;
  #clock = Date.now();
  #sweeper: NodeJS.Timeout | undefined;
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
    this.#connectionHost = {
      options: this.options,
      dispatcher: this.dispatcher,
      auth,
      log: this.log,
      stats: this.stats,
      nodeId: () => this.#nodeId,
      now: () => this.#clock,
      closed: (connection) => this.#closed(connection.session.id),
    };
    this.#admission = new Admission(this.options.maxClients, this.options.maxQueue);
    this.#caller = new DirectCaller(
      this.#connectionHost,
      () => this.#nextId++,
      () => this.draining,
    );
    this.pool = new WorkerPool(
      this.options.workers,
      new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url),
    );
    this.metrics = new NodeMetrics({
      stats: this.stats,
      connections: () => [
        ...[...this.#connections.values()].map((c) => ({
          transport: c.session.peer.transport,
          mode: c.session.mode,
          state: c.state,
        })),
        ...[...this.#sniffing].map((c) => ({
          transport: c.peer.transport,
          mode: 'unknown',
          state: 'sniffing',
        })),
      ],
      requestLatency: () => this.dispatcher.latencies(),
      timings: this.timings,
      admission: () => ({ active: this.#admission.active, waiting: this.#admission.waiting }),
      workerQueue: () => this.pool.queued,
      denials: () => this.dispatcher.denials.counts,
      udp: () => this.#udp?.stats(),
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
      httpAddress: () => this.#http?.address(),
      storage: () => ({ mode: this.options.storage, engines: this.engineHealth() }),
      members: () => this.members(),
    };
    const engine = (): Engines => {
      if (this.#engines === undefined) throw new Error('storage engines open when the node starts');
      return this.#engines;
    };
    const storage: StorageHost = {
      mode: this.options.storage,
      postgres: () => {
        const pg = engine().postgres;
        if (pg === undefined) throw new Error('PostgreSQL is used only with storage: postgres');
        return pg;
      },
      nats: () => {
        const nats = engine().nats;
        if (nats === undefined) throw new Error('NATS is used only with storage: postgres');
        return nats;
      },
      bus: () => engine().bus,
      timings: this.timings,
    };
    const host: ServiceHost = {
      options: this.options,
      log: this.log,
      pool: this.pool,
      nodeId: () => this.#nodeId,
      node: view,
      storage,
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
    const tcp = await listenTcp({ host: this.options.host, port: this.options.port }, (c) => this.accept(c));
    this.#listeners.push(tcp);
    const address = tcp.address();
    if (this.options.nodeId === undefined) this.#nodeId = `${os.hostname()}:${address.port}`;
    try {
      const tls = await this.security.listen((c) => this.accept(c));
      if (tls !== undefined) this.#listeners.push(tls);
      if (this.options.udp.enabled) {
        this.#udp = await startUdp(
          {
            connection: this.#connectionHost,
            nextSessionId: () => this.#nextId++,
            draining: () => this.draining,
            accept: (conduit) => this.accept(conduit),
          },
          address.port,
        );
        // §13.3.3 Keys of every accepted token, stored ones included, now and whenever the store changes.
        const udp = this.#udp;
        const auth = this.#connectionHost.auth;
        const followTokens = () => udp.keys.replace(auth.digests(), this.options.auth.anonymous);
        followTokens();
        this.security.onTokens(followTokens);
      }
      if (this.options.http.enabled) {
        const http = await startHttpGateway(this);
        this.#http = http;
        this.security.onReload((material) => http.setTlsMaterial(material));
      }
      const metricsPort = this.options.http.metricsPort;
      if (metricsPort !== undefined && this.options.http.metrics)
        this.#metricsServer = await startMetricsServer(this, metricsPort);
      // Last: HAProxy's agent-check and the cluster membership announce a node that serves on every port.
      this.#presence = this.#newPresence();
      await this.#presence.start(this.#engines);
    } catch (err) {
      await this.#presence?.close();
      await this.#metricsServer?.close();
      await this.#http?.close(0);
      await Promise.all(this.#listeners.map((l) => l.close()));
      await this.#udp?.close();
      this.#state = 'closed';
      for (const service of this.#services) await service.stop?.();
      await this.#engines?.close();
      await this.pool.close();
      throw err;
    }
    this.security.watchTokens();
    this.#sweeper = setInterval(() => this.#sweep(), sweepInterval(this.options));
    this.#sweeper.unref();
    const http = this.#http?.address();
    const tlsAddress = this.tlsAddress();
    this.log.info(
      {
        node: this.#nodeId,
        address: `${address.host}:${address.port}`,
        tls: tlsAddress === undefined ? 'off' : `nexos://${tlsAddress.host}:${tlsAddress.port}`,
        http:
          http === undefined ? 'off' : `${this.#http?.secure ? 'https' : 'http'}://${http.host}:${http.port}`,
        udp: this.#udp === undefined ? 'off' : this.#udp.listener.address().port,
        agent: this.agentAddress()?.port ?? 'off',
        ...(this.#metricsServer === undefined ? {} : { metrics: this.#metricsServer.address().port }),
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
        Math.max(0, (this.#http?.openConnections ?? 0) - this.connectionsByTransport().ws),
      requests: () => this.stats.requests,
      ports: () => ({
        tcp: this.address().port,
        ...(this.tlsAddress() === undefined ? {} : { tls: this.tlsAddress()!.port }),
        ...(this.#http === undefined ? {} : { http: this.#http.address().port }),
        ...(this.#udp === undefined ? {} : { udp: this.#udp.listener.address().port }),
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
    return this.#listeners.find((l) => l.kind === 'tls')?.address();
  }

  /** The certificate the node serves, for the HTTPS gateway. */
  tlsMaterial(): TlsMaterial | undefined {
    return this.security.material;
  }

  /** Where the HTTP gateway listens (REST API, /ws, dashboard); undefined when it is off. */
  httpAddress(): { host: string; port: number } | undefined {
    return this.#http?.address();
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
    return this.#metricsServer?.address();
  }

  /** Where UDP is bound (protocol §13), and its counters; undefined when UDP is off. */
  get udp(): UdpEndpoint | undefined {
    return this.#udp;
  }

  /** The TCP address, once started. */
  address(): { host: string; port: number } {
    const tcp = this.#listeners.find((l) => l.kind === 'tcp');
    if (tcp === undefined) throw new Error('node is not listening');
    return tcp.address();
  }

  /** Adds another listener's conduits (WebSocket, TLS) to this node. */
  addListener(listener: TransportListener): void {
    this.#listeners.push(listener);
  }

  /** Entry of every transport: a new byte stream with its peer. */
  accept(conduit: Conduit): void {
    const { stream } = conduit;
    if (this.#state !== 'running') {
      stream.destroy();
      return;
    }
    this.stats.connectionsTotal++;
    const overLimit = this.#countAddress(conduit);
    this.#sniffing.add(conduit);
    // §3.2 The first byte decides the mode. Nothing is written before it arrives.
    const timer = setTimeout(() => finish(undefined), this.options.handshakeTimeoutMs);
    const onData = (chunk: Buffer) => finish(chunk);
    const onGone = () => finish(undefined);
    const finish = (chunk: Buffer | undefined) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onGone);
      stream.off('close', onGone);
      this.#sniffing.delete(conduit);
      if (chunk === undefined || this.#state !== 'running') {
        if (chunk === undefined && !stream.destroyed && this.#state === 'running') {
          countLimit(this.stats, 'mode_timeout');
          // A person who connected and typed nothing still deserves a word before the door closes.
          stream.end(`nexo: no input within ${this.options.handshakeTimeoutMs} ms; closing\n`);
          setTimeout(() => stream.destroy(), 1000).unref();
        } else stream.destroy();
        return;
      }
      stream.pause();
      this.#start(conduit, chunk, overLimit);
    };
    stream.on('data', onData);
    stream.once('end', onGone);
    stream.once('close', onGone);
  }

  /**
   * §7.6.1 Counts a protocol or TLS connection under its client address until it closes; true when it is one
   * more than the address may hold (it is refused after its first byte, in its mode).
   */
  #countAddress(conduit: Conduit): boolean {
    const { transport, address } = conduit.peer;
    const limit = this.options.maxConnectionsPerAddress;
    if (limit === 0 || (transport !== 'tcp' && transport !== 'tls')) return false;
    const count = (this.#perAddress.get(address) ?? 0) + 1;
    if (count > limit) {
      countLimit(this.stats, 'connections_per_address');
      return true;
    }
    this.#perAddress.set(address, count);
    conduit.stream.once('close', () => {
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, left);
    });
    return false;
  }

  #start(conduit: Conduit, first: Buffer, overLimit = false): void {
    const id = this.#nextId++;
    const host = this.#connectionHost;
    const connection =
      first[0] === PREFACE_FIRST_BYTE
        ? new BinaryConnection(conduit, first, host, id)
        : new TextSession(conduit, first, host, id);
    this.stats.bytesIn += first.length;
    this.#connections.set(id, connection);
    if (overLimit) {
      // §7.6.1 Refused in its own mode; it never takes (or waits for) a client slot.
      this.#unslotted.add(id);
      connection.refuse(
        new NexoError(
          'TOO_MANY_CONNECTIONS',
          `this address already has ${this.options.maxConnectionsPerAddress} connections open to the node; close some and retry`,
          { limit: this.options.maxConnectionsPerAddress },
        ),
      );
      return;
    }
    if (this.#admission.tryEnter()) {
      connection.admit();
      return;
    }
    const position = this.#admission.enqueue(connection, this.#clock);
    if (position === 0) {
      connection.refuse(
        new NexoError(
          'SERVER_BUSY',
          `all ${this.options.maxClients} client slots and the wait queue are full; try later`,
        ),
      );
      return;
    }
    this.log.info({ conn: id, position }, 'client queued');
    connection.queued(position);
  }

  #closed(id: number): void {
    const connection = this.#connections.get(id);
    if (connection === undefined) return;
    this.#connections.delete(id);
    if (this.#unslotted.delete(id)) return;
    if (this.#admission.remove(connection)) return; // it never had a slot
    const next = this.#admission.leave();
    if (next === undefined) return;
    if (next.open) {
      this.log.info({ conn: next.session.id }, 'queued client admitted');
      next.admit();
    } else {
      this.#closed(next.session.id); // it is closing already: pass the slot on
    }
  }

  #sweep(): void {
    const now = Date.now();
    this.#clock = now;
    for (const connection of this.#connections.values()) connection.tick(now);
    for (const late of this.#admission.expired(now, this.options.queueTimeoutMs)) {
      late.refuse(
        new NexoError('SERVER_BUSY', `no client slot became free within ${this.options.queueTimeoutMs} ms`),
      );
    }
  }

  /** Open connections, by transport (binary and text alike). */
  connectionsByTransport(): Record<TransportKind, number> {
    const counts: Record<TransportKind, number> = { tcp: 0, tls: 0, ws: 0, udp: 0 };
    for (const connection of this.#connections.values()) counts[connection.session.peer.transport]++;
    return counts;
  }

  /**
   * What the dashboard shows: open connections by transport, those still being sniffed included (transports
   * this node does not listen on are left out), plus plain HTTP connections to the gateway (not upgraded to
   * WebSocket).
   */
  openConnections(): Record<string, number> {
    const counts = this.connectionsByTransport();
    for (const conduit of this.#sniffing) counts[conduit.peer.transport]++;
    const out: Record<string, number> = { tcp: counts.tcp };
    if (this.#http !== undefined) {
      out.ws = counts.ws;
      // Sockets on the HTTP port that are not WebSockets; never shown below 0 while counts catch up.
      out.http = Math.max(0, this.#http.openConnections - counts.ws);
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
    const listenersClosed = Promise.all(this.#listeners.map((l) => l.close()));
    for (const conduit of this.#sniffing) conduit.stream.destroy();
    const going = new NexoError('SHUTTING_DOWN', 'the node is shutting down', { node: this.#nodeId });
    for (const waiting of this.#admission.drain()) waiting.refuse(going);
    // §7.3.5 Reconnect at once, to one of the other live nodes when the membership names them.
    const alternates = await this.#presence?.alternates(500);
    const hint = { reconnectMs: 0, ...(alternates?.length ? { alternates } : {}) };
    for (const connection of this.#connections.values()) connection.goAway(going, hint);
    while (this.#connections.size > 0 && Date.now() - started < timeoutMs) {
      this.#sweep();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (this.#connections.size > 0) {
      this.log.warn(
        { connections: this.#connections.size },
        'shutdown deadline reached; cutting connections',
      );
      for (const connection of this.#connections.values()) connection.destroy();
    }
    clearInterval(this.#sweeper);
    // Drained: out of the membership, and HAProxy's agent gets no answer (the health check marks it down).
    await this.#presence?.close();
    // UDP sessions are connections too: the socket closes only once they have said goodbye (or were cut).
    await this.#udp?.close();
    this.security.close();
    // HTTP closes last: until now /readyz answered 503 (draining) and HTTP calls in flight could finish.
    await this.#http?.close(Math.max(0, timeoutMs - (Date.now() - started)));
    // Scraped until the end: the last scrape sees the drain.
    await this.#metricsServer?.close();
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

/** Often enough to honour the shortest timeout within a quarter of it, never more than 100 times a second. */
function sweepInterval(o: ServerOptions): number {
  const timeouts = [
    o.handshakeTimeoutMs,
    o.idleTimeoutMs,
    o.heartbeatMs,
    o.slowPeerTimeoutMs,
    o.queueTimeoutMs,
  ];
  const shortest = Math.min(...timeouts.filter((t) => t > 0));
  return Math.min(1000, Math.max(10, Math.floor(shortest / 4)));
}
