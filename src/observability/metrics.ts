import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { EngineTimings, Histogram, HistogramSet } from '../util/histogram.js';
import { type HistogramChild, registerHistogramFamily } from './histograms.js';

/**
 * What the metrics read from a node. Every value is a counter or a size the node keeps anyway; the registry
 * reads them only when Prometheus scrapes (collect callbacks), so serving requests costs nothing extra.
 * Structural types: this module knows nothing of the server's classes (it sits beside them, not above).
 */
export interface MetricsSource {
  readonly stats: {
    readonly requests: number;
    readonly connectionsTotal: number;
    readonly bytesIn: number;
    readonly bytesOut: number;
    readonly framesIn: number;
    readonly framesOut: number;
    readonly errorsByCode: Readonly<Record<string, number>>;
    /** Refusals and cuts by a limit, by reason (a fixed set). */
    readonly limits: Readonly<Record<string, number>>;
  };
  /**
   * Open connections by transport (tcp, tls, ws, udp), mode (binary, text, http) and state (sniffing: the
   * first byte has not arrived; queued, handshake, open, draining, closing: protocol §7).
   */
  connections(): Iterable<{ transport: string; mode: string; state: string }>;
  /** Each method's latency histogram (methods are fixed when services register). */
  requestLatency(): Iterable<{ service: string; method: string; histogram: Histogram }>;
  /** Store and bus latency by engine and operation. */
  readonly timings: EngineTimings;
  /** Client slots taken and connections waiting for one (§7.1). */
  admission(): { active: number; waiting: number };
  /** Tasks waiting for a worker thread. */
  workerQueue(): number;
  /** Refusals on security grounds, by code (§5.4.3). */
  denials(): Readonly<Record<string, number>>;
  /** UDP counters, when the node listens on UDP. */
  udp(): UdpFigures | undefined;
  /** Each running service's own counters and gauges (names are fixed in the service's code). */
  services(): Iterable<{
    name: string;
    stats?(): {
      counters?: Readonly<Record<string, number>>;
      gauges?: Readonly<Record<string, number>>;
      histograms?: Readonly<Record<string, Histogram>>;
    };
  }>;
}

export interface UdpFigures {
  datagramsIn: number;
  datagramsOut: number;
  droppedBusy: number;
  droppedOversize: number;
  sendErrors: number;
  secure: {
    sessions: number;
    handshakes: number;
    rejected: number;
    replayed: number;
    /** HELLOs refused SERVER_BUSY at udp.maxSessions; sessions forgotten by their timeouts (§13.3.8). */
    refusedBusy: number;
    handshakeTimeouts: number;
    idleTimeouts: number;
  };
  text: { commands: number };
}

/** The metrics registry of one node: prom-client's process metrics plus the `nexo_` ones. */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly #loopDelay: IntervalHistogram;

  constructor(source: MetricsSource) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry });
    // Sampled by libuv's timer every 20 ms; read (then reset) at each scrape.
    this.#loopDelay = monitorEventLoopDelay({ resolution: 20 });
    this.#loopDelay.enable();
    const loop = this.#loopDelay;
    const registers = [registry];

    /** A counter whose value is read from the node at scrape time (prom-client keeps no state for it). */
    const counter = (
      name: string,
      help: string,
      labelNames: string[],
      read: (set: (labels: Record<string, string>, value: number) => void) => void,
    ) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          read((labels, value) => this.inc(labels, value));
        },
      });
    const gauge = (
      name: string,
      help: string,
      labelNames: string[],
      read: (set: (labels: Record<string, string>, value: number) => void) => void,
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          read((labels, value) => this.set(labels, value));
        },
      });

    const s = source.stats;
    counter('nexo_requests_total', 'Requests received (all transports and modes).', [], (set) =>
      set({}, s.requests),
    );
    counter('nexo_errors_total', 'Error replies, by error code (docs/protocol.md §11).', ['code'], (set) => {
      for (const [code, n] of Object.entries(s.errorsByCode)) set({ code }, n);
    });
    counter('nexo_connections_accepted_total', 'Connections accepted, all transports.', [], (set) =>
      set({}, s.connectionsTotal),
    );
    counter('nexo_frames_received_total', 'Protocol frames decoded from binary clients.', [], (set) =>
      set({}, s.framesIn),
    );
    counter('nexo_frames_sent_total', 'Protocol frames sent to binary clients.', [], (set) =>
      set({}, s.framesOut),
    );
    counter(
      'nexo_limited_total',
      'Connections and requests refused or cut by a limit, by reason (docs/http.md "Metrics").',
      ['reason'],
      (set) => {
        for (const [reason, n] of Object.entries(s.limits)) set({ reason }, n);
        // §13.3.8 HELLOs refused SERVER_BUSY because the node holds udp.maxSessions sessions.
        const u = source.udp();
        if (u !== undefined && u.secure.refusedBusy > 0)
          set({ reason: 'udp_sessions' }, u.secure.refusedBusy);
        if (u !== undefined && u.secure.handshakeTimeouts > 0)
          set({ reason: 'udp_handshake_timeout' }, u.secure.handshakeTimeouts);
      },
    );
    counter('nexo_received_bytes_total', 'Bytes received on connections.', [], (set) => set({}, s.bytesIn));
    counter('nexo_sent_bytes_total', 'Bytes sent on connections.', [], (set) => set({}, s.bytesOut));
    gauge(
      'nexo_connections',
      'Open connections, by transport, mode (text = people typing) and state (protocol §7).',
      ['transport', 'mode', 'state'],
      (set) => {
        const counts = new Map<string, number>();
        for (const c of source.connections()) {
          const key = `${c.transport}\n${c.mode}\n${c.state}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        for (const [key, n] of counts) {
          const [transport, mode, state] = key.split('\n') as [string, string, string];
          set({ transport, mode, state }, n);
        }
      },
    );
    gauge('nexo_admission_active', 'Client slots taken (--max-clients).', [], (set) =>
      set({}, source.admission().active),
    );
    gauge('nexo_admission_queue_length', 'Connections waiting for a client slot.', [], (set) =>
      set({}, source.admission().waiting),
    );
    gauge('nexo_worker_pool_queue_length', 'Heavy tasks waiting for a worker thread.', [], (set) =>
      set({}, source.workerQueue()),
    );
    counter('nexo_denials_total', 'Refusals on security grounds, by code.', ['code'], (set) => {
      for (const [code, n] of Object.entries(source.denials())) set({ code }, n);
    });
    // Since the last scrape; an empty histogram reports NaN/huge values, so 0 until it has samples. Plain
    // gauges, not a summary: the histogram is reset at each scrape, so there is no count or sum to give.
    const delay = (name: string, help: string, read: () => number) =>
      gauge(name, help, [], (set) => set({}, loop.count > 0 ? read() / 1e9 : 0));
    delay('nexo_event_loop_delay_p50_seconds', 'Median event-loop delay since the last scrape.', () =>
      loop.percentile(50),
    );
    delay(
      'nexo_event_loop_delay_p99_seconds',
      '99th percentile event-loop delay since the last scrape.',
      () => loop.percentile(99),
    );
    // Registered last of the three: it resets the histogram for the next scrape.
    gauge(
      'nexo_event_loop_delay_max_seconds',
      'Longest event-loop delay since the last scrape.',
      [],
      (set) => {
        set({}, loop.count > 0 ? loop.max / 1e9 : 0);
        loop.reset();
      },
    );
    const udp =
      (read: (u: UdpFigures) => number) => (set: (l: Record<string, string>, v: number) => void) => {
        const u = source.udp();
        if (u !== undefined) set({}, read(u));
      };
    counter(
      'nexo_udp_datagrams_received_total',
      'UDP datagrams received.',
      [],
      udp((u) => u.datagramsIn),
    );
    counter(
      'nexo_udp_datagrams_sent_total',
      'UDP datagrams sent.',
      [],
      udp((u) => u.datagramsOut),
    );
    counter(
      'nexo_udp_datagrams_dropped_total',
      'UDP datagrams dropped, by reason (busy, oversize, rejected, replayed) and send errors.',
      ['reason'],
      (set) => {
        const u = source.udp();
        if (u === undefined) return;
        set({ reason: 'busy' }, u.droppedBusy);
        set({ reason: 'oversize' }, u.droppedOversize);
        set({ reason: 'rejected' }, u.secure.rejected);
        set({ reason: 'replayed' }, u.secure.replayed);
        set({ reason: 'send_error' }, u.sendErrors);
      },
    );
    gauge(
      'nexo_udp_sessions',
      'Secure UDP sessions held (§13.3).',
      [],
      udp((u) => u.secure.sessions),
    );
    counter(
      'nexo_udp_handshakes_total',
      'Secure UDP sessions opened.',
      [],
      udp((u) => u.secure.handshakes),
    );
    counter(
      'nexo_udp_sessions_expired_total',
      'Secure UDP sessions forgotten by a timeout (§13.3.8), by reason (handshake_timeout, idle_timeout).',
      ['reason'],
      (set) => {
        const u = source.udp();
        if (u === undefined) return;
        set({ reason: 'handshake_timeout' }, u.secure.handshakeTimeouts);
        set({ reason: 'idle_timeout' }, u.secure.idleTimeouts);
      },
    );
    counter(
      'nexo_udp_text_commands_total',
      'Text commands over UDP.',
      [],
      udp((u) => u.text.commands),
    );
    // Each service's own figures, e.g. telemetry's `readings` (the ingest rate) and `queued`. Names are fixed
    // in the services' code, so the label sets are bounded.
    counter(
      'nexo_service_events_total',
      "Services' own counters (telemetry readings, duplicates, commits, …).",
      ['service', 'counter'],
      (set) => {
        for (const service of source.services()) {
          const stats = service.stats?.();
          if (stats === undefined) continue;
          for (const [name, n] of Object.entries(stats.counters ?? {}))
            set({ service: service.name, counter: name }, n);
        }
      },
    );
    gauge(
      'nexo_service_value',
      "Services' own gauges (telemetry sensors, series, watchers, queued, …).",
      ['service', 'gauge'],
      (set) => {
        for (const service of source.services()) {
          const stats = service.stats?.();
          if (stats === undefined) continue;
          for (const [name, n] of Object.entries(stats.gauges ?? {}))
            set({ service: service.name, gauge: name }, n);
        }
      },
    );
    counter(
      'nexo_telemetry_readings_ingested_total',
      'Telemetry readings stored (new, not duplicates).',
      [],
      (set) => {
        for (const service of source.services()) {
          if (service.name !== 'telemetry') continue;
          set({}, service.stats?.().counters?.readings ?? 0);
        }
      },
    );
    this.#histograms(source);
    this.#servicesFigures(source);
  }

  #histograms(source: MetricsSource): void {
    const registry = this.registry;
    registerHistogramFamily(
      registry,
      'nexo_request_duration_seconds',
      'Time from a request being read to its reply being written, by service and method (not subscriptions).',
      function* () {
        for (const { service, method, histogram } of source.requestLatency())
          yield { labels: { service, method }, histogram };
      },
    );
    const byEngine = (set: HistogramSet) =>
      function* (): Iterable<HistogramChild> {
        for (const { labels, histogram } of set.entries())
          yield { labels: { engine: labels[0]!, op: labels[1]! }, histogram };
      };
    registerHistogramFamily(
      registry,
      'nexo_store_duration_seconds',
      'Time the node waited for its stores, by engine (sqlite, postgres) and operation.',
      byEngine(source.timings.store),
    );
    registerHistogramFamily(
      registry,
      'nexo_bus_duration_seconds',
      'Time the node waited for the bus, by engine (local, nats) and operation (request, flush).',
      byEngine(source.timings.bus),
    );
    registerHistogramFamily(
      registry,
      'nexo_service_duration_seconds',
      "Services' own timings, e.g. telemetry's ack: a report read to its durable acknowledgement.",
      function* () {
        for (const service of source.services()) {
          const histograms = service.stats?.().histograms;
          for (const [name, histogram] of Object.entries(histograms ?? {}))
            yield { labels: { service: service.name, name }, histogram };
        }
      },
    );
  }

  /** Figures the issue names on their own (files, chat), read from those services' counters. */
  #servicesFigures(source: MetricsSource): void {
    const registers = [this.registry];
    const figure = (service: string, kind: 'counters' | 'gauges', name: string): number | undefined => {
      for (const s of source.services()) if (s.name === service) return s.stats?.()[kind]?.[name];
      return undefined;
    };
    new Counter({
      name: 'nexo_file_bytes_total',
      help: 'File content received (in: uploads) and sent (out: downloads), protocol and HTTP.',
      labelNames: ['direction'],
      registers,
      collect() {
        this.reset();
        const received = figure('files', 'counters', 'receivedBytes');
        const sent = figure('files', 'counters', 'sentBytes');
        if (received !== undefined) this.inc({ direction: 'in' }, received);
        if (sent !== undefined) this.inc({ direction: 'out' }, sent);
      },
    });
    new Gauge({
      name: 'nexo_file_uploads_in_progress',
      help: 'Uploads receiving content now.',
      registers,
      collect() {
        this.set(figure('files', 'gauges', 'uploading') ?? 0);
      },
    });
    new Counter({
      name: 'nexo_chat_messages_total',
      help: 'Chat messages said on this node (room messages and direct messages).',
      registers,
      collect() {
        this.reset();
        this.inc(
          (figure('chat', 'counters', 'messages') ?? 0) + (figure('chat', 'counters', 'directMessages') ?? 0),
        );
      },
    });
    new Counter({
      name: 'nexo_chat_deliveries_total',
      help: 'Chat events delivered to members on this node (the fan-out: one per member per event).',
      registers,
      collect() {
        this.reset();
        this.inc(figure('chat', 'counters', 'deliveries') ?? 0);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition format, every value read now. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  close(): void {
    this.#loopDelay.disable();
    this.registry.clear();
  }
}
