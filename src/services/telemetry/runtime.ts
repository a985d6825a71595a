import type { Logger } from 'pino';
import type { Bus } from '../../bus/types.js';
import { NexoError } from '../../errors.js';
import type { TelemetryOptions } from '../../options/options.js';
import { Histogram } from '../../util/histogram.js';
import { RateLimiter } from '../../util/rate-limit.js';
import type { Ack, AlertEvent, AlertRule, SensorMeta } from '../../wire/telemetry.js';
import { AlertEngine, MAX_RULES, parseRule } from './alerts.js';
import { followCommit, Ingest } from './ingest.js';
import { MqttIngest, type MqttStats } from './mqtt.js';
import { TelemetryPeers } from './peers.js';
import { Registry } from './registry.js';
import { Retention } from './retention.js';
import type { TelemetryStore } from './store.js';
import { Subscriptions } from './subscriptions.js';
import type { ValidReading } from './validate.js';

/** §9.T.7.3 A catch-up starts this long before the bus went down (messages in flight were lost too). */
const CATCH_UP_MARGIN_MS = 10_000;
/** §9.T.7.3 Readings whose own ts is older than this before the outage are not caught up (a backfill). */
const CATCH_UP_TS_WINDOW_MS = 3_600_000;
/** §9.T.7.3 At most this many readings per catch-up; watchers get `dropped` with the rest's count. */
const CATCH_UP_MAX = 100_000;

/** The parts that exist once the store is open. */
export interface Open {
  registry: Registry;
  ingest: Ingest;
  alerts: AlertEngine;
  /** The other nodes sharing the store (shared mode only). */
  peers: TelemetryPeers | undefined;
}

/**
 * The telemetry service's state: the store, the in-memory registry, group commit, watchers and alert rules.
 * The store opens on first use (or at start when MQTT ingest or retention needs it), so a node that never
 * sees a sensor never starts the writer thread or creates the database file.
 */
export class Telemetry {
  readonly options: TelemetryOptions;
  readonly log: Logger;
  readonly #makeStore: (log: Logger) => TelemetryStore;
  readonly #bus: () => Bus | undefined;
  readonly #commitTime: Histogram;
  #store: TelemetryStore | undefined;
  readonly subscriptions = new Subscriptions();
  readonly #limiter: RateLimiter;
  #opening: Promise<Open> | undefined;
  #open: Open | undefined;
  #retention: Retention | undefined;
  #mqtt: MqttIngest | undefined;
  #summary: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Alert events not yet written (they are written a few at a time, after the commits that caused them). */
  #alertWrites: Promise<void> = Promise.resolve();

  /**
   * `store` makes the backend the node's settings chose (backends.ts); called on first use, after the node
   * started its engines, never before.
   */
  constructor(
    options: TelemetryOptions,
    log: Logger,
    store: (log: Logger) => TelemetryStore,
    bus: () => Bus | undefined = () => undefined,
    /** Where commit times go (nexo_store_duration_seconds{op="telemetry.commit"}). */
    commitTime: Histogram = new Histogram(),
  ) {
    this.#commitTime = commitTime;
    this.options = options;
    this.#bus = bus;
    this.log = log.child({ service: 'telemetry' });
    this.#limiter = new RateLimiter(options.rate, options.burst);
    this.#makeStore = store;
  }

  get store(): TelemetryStore {
    this.#store ??= this.#makeStore(this.log);
    return this.#store;
  }

  /** The open state, opening the store the first time. */
  ready(): Promise<Open> {
    if (this.#open !== undefined) return Promise.resolve(this.#open);
    if (this.#stopped)
      return Promise.reject(new NexoError('SHUTTING_DOWN', 'the telemetry service is stopping'));
    this.#opening ??= this.#doOpen().catch((err: unknown) => {
      this.#opening = undefined;
      this.log.error({ err }, 'could not open the telemetry store');
      throw err instanceof NexoError
        ? err
        : new NexoError('TELEMETRY_STORAGE', `could not open the telemetry store: ${(err as Error).message}`);
    });
    return this.#opening;
  }

  /**
   * The open state, after learning from a shared store the sensors among `names` that this node has not seen
   * (they reported through other nodes, §9.T.7.1). At most 1000 names are looked up.
   */
  async readyFor(names: readonly string[]): Promise<Open> {
    const open = await this.ready();
    const find = this.store.findSensors;
    if (find === undefined) return open;
    const unknown = names.filter((n) => open.registry.sensor(n) === undefined).slice(0, 1000);
    if (unknown.length === 0) return open;
    for (const defined of await find.call(this.store, unknown)) {
      if (open.registry.sensor(defined.sensor.name) === undefined) open.registry.learn(defined);
    }
    return open;
  }

  /**
   * Shared stores: the open state with the sensors `names` brought up to date from the store (§9.T.7.2),
   * whether this node knows them or not. The embedded store: the open state (the registry is the truth).
   */
  async refreshed(names: readonly string[]): Promise<Open> {
    const open = await this.ready();
    const find = this.store.findSensors;
    if (find === undefined || names.length === 0) return open;
    for (const defined of await find.call(this.store, names.slice(0, 1000))) open.registry.refresh(defined);
    return open;
  }

  /**
   * Shared stores: the names of up to `limit` sensors after `after`, as the store lists them, each brought up
   * to date in the registry (§9.T.7.2); undefined for the embedded store, whose registry lists every sensor.
   */
  async listed(after: string | undefined, limit: number): Promise<string[] | undefined> {
    const open = await this.ready();
    const list = this.store.listSensors;
    if (list === undefined) return undefined;
    const page = await list.call(this.store, after, limit);
    for (const defined of page) open.registry.refresh(defined);
    return page.map((d) => d.sensor.name);
  }

  /** The open state if the store is open already (hot paths avoid an extra await). */
  get opened(): Open | undefined {
    return this.#open;
  }

  async #doOpen(): Promise<Open> {
    const snapshot = await this.store.open();
    const registry = new Registry(snapshot, this.options.maxSeries);
    const ingest = new Ingest(
      this.store,
      registry,
      this.#limiter,
      { maxQueued: this.options.maxQueued, commitTime: this.#commitTime },
      this.log,
    );
    const alerts = new AlertEngine(snapshot.rules);
    ingest.onCommit((c) => this.subscriptions.onCommit(c));
    ingest.onCommit((c) => {
      const events = alerts.evaluate(c, Date.now());
      if (events.length > 0) this.#alerted(events);
    });
    const peers = await this.#peers(registry, alerts);
    if (peers !== undefined) ingest.onCommit((c) => peers.publishCommit(c));
    this.#open = { registry, ingest, alerts, peers };
    this.#summary = this.#logSummaries(ingest);
    this.log.info(
      { sensors: registry.sensorCount, series: registry.seriesCount, rules: alerts.size },
      'telemetry store open',
    );
    if (this.options.retentionMs > 0) {
      this.#retention = new Retention(this.store, registry, this.options.retentionMs, this.log);
      this.#retention.start();
    }
    return this.#open;
  }

  /** In shared mode, the link to the other nodes (peers.ts); undefined when no other node can exist. */
  async #peers(registry: Registry, alerts: AlertEngine): Promise<TelemetryPeers | undefined> {
    const bus = this.#bus();
    if (bus === undefined || !bus.spansNodes) return undefined;
    const delivered = this.subscriptions.remember();
    const peers: TelemetryPeers = new TelemetryPeers(
      bus,
      registry,
      {
        busDown: () => delivered.hold(),
        busBack: (since) => {
          void this.#catchUp(peers, since).finally(() => {
            // Messages published just before the bus came back may still arrive: checked a while longer.
            setTimeout(() => delivered.release(), CATCH_UP_MARGIN_MS).unref();
          });
        },
        commit: (c) => {
          followCommit(c.batch, c.fresh, c.series);
          this.subscriptions.onCommit(c);
          // State only: the node that stored these readings raises their events (and publishes them).
          alerts.evaluate(c, Date.now());
        },
        alerts: (events) => {
          for (const e of events) this.subscriptions.onAlert(e);
        },
        ruleAdded: (rule) => {
          if (alerts.rule(rule.id) === undefined) alerts.add(rule);
        },
        ruleRemoved: (id) => alerts.remove(id),
      },
      this.log,
    );
    await peers.ready();
    return peers;
  }

  /**
   * §9.T.7.3 After a bus outage, watchers get from the store what other nodes stored meanwhile (their
   * messages may be lost): readings received from a little before the outage until now, oldest first,
   * without those already pushed. Alert state is not replayed (the node that stored a reading raised its
   * events; they are in `alertEvents`).
   */
  async #catchUp(peers: TelemetryPeers, since: number): Promise<void> {
    const received = this.store.receivedBetween;
    if (received === undefined || this.subscriptions.size === 0) return;
    try {
      const { rows, total } = await received.call(this.store, {
        from: since - CATCH_UP_MARGIN_MS,
        to: Date.now(),
        minTs: since - CATCH_UP_TS_WINDOW_MS,
        limit: CATCH_UP_MAX,
      });
      if (rows.length > 0) this.subscriptions.onCommit(peers.committedFromStore(rows));
      if (total > rows.length) this.subscriptions.dropped(total - rows.length);
      this.log.info(
        { since: new Date(since).toISOString(), readings: rows.length, total },
        'telemetry: watches caught up from the store after the bus came back',
      );
    } catch (err) {
      this.log.warn({ err }, 'telemetry: catching watches up from the store failed; they missed readings');
    }
  }

  /** Validated readings of one sensor: queued for the next group commit; resolves once durable. */
  async report(sensor: string, meta: SensorMeta, readings: ValidReading[], recv: number): Promise<Ack> {
    const open = this.#open ?? (await this.ready());
    open.ingest.admit(sensor, readings.length, recv);
    return this.#submit(open, sensor, meta, readings, recv);
  }

  /**
   * A report from a client: admitted by count first (a flood is refused before its readings are even
   * validated), then parsed, then queued. A refusal for rate is answered after the wait it announces (at
   * most 1 s): a client that ignores `retryAfterMs` and resends at once has its own in-flight requests held,
   * which throttles it without costing the node anything.
   */
  async reportFromClient(
    sensor: string,
    count: number,
    recv: number,
    parse: () => { meta: SensorMeta; readings: ValidReading[] },
    /** The call's signal; a getter, since making one costs an AbortController the accepted reports skip. */
    signal: () => AbortSignal,
  ): Promise<Ack> {
    const open = this.#open ?? (await this.ready());
    try {
      open.ingest.admit(sensor, count, recv);
    } catch (err) {
      const wait = Math.min(1000, Number((err as NexoError).details?.retryAfterMs ?? 0));
      if (wait > 0) await pause(wait, signal());
      throw err;
    }
    const { meta, readings } = parse();
    return this.#submit(open, sensor, meta, readings, recv);
  }

  #submit(
    open: Open,
    sensor: string,
    meta: SensorMeta,
    readings: ValidReading[],
    recv: number,
  ): Promise<Ack> {
    const isNew = open.registry.sensor(sensor) === undefined;
    const ack = open.ingest.submit(sensor, meta, readings, recv);
    if (isNew) this.log.info({ sensor, ...meta }, 'sensor registered');
    if (this.log.isLevelEnabled('debug')) {
      const r = readings[0]!;
      this.log.debug({ sensor, readings: readings.length, metric: r.metric, value: r.value }, 'report');
    }
    return ack;
  }

  /**
   * Every reading is acknowledged, but logging each one would drown the log at thousands a second: the log
   * gets one line per sensor registered and a summary every 10 s while readings arrive.
   */
  #logSummaries(ingest: Ingest): NodeJS.Timeout {
    let last = { ...ingest.stats };
    const timer = setInterval(() => {
      const now = ingest.stats;
      const accepted = now.accepted - last.accepted;
      const duplicates = now.duplicates - last.duplicates;
      if (accepted + duplicates > 0) {
        const commits = now.commits - last.commits;
        this.log.info(
          {
            accepted,
            duplicates,
            commits,
            perCommit: Math.round((accepted + duplicates) / Math.max(1, commits)),
          },
          `telemetry: ${accepted} readings stored in the last 10 s`,
        );
      }
      last = { ...now };
    }, 10_000);
    timer.unref();
    return timer;
  }

  // ---- alerts -------------------------------------------------------------------------------------

  async addRule(text: string, sensors: string[], name: string | undefined): Promise<AlertRule> {
    const { alerts } = await this.ready();
    if (alerts.size >= MAX_RULES) {
      throw new NexoError(
        'TELEMETRY_LIMIT',
        `this node already has ${MAX_RULES} alert rules; remove some first`,
      );
    }
    const parsed = parseRule(text);
    const normalized = `${parsed.metric} ${parsed.op} ${parsed.threshold}${parsed.forMs > 0 ? ` for ${formatMs(parsed.forMs)}` : ''}`;
    const rule: Omit<AlertRule, 'id'> = {
      ...parsed,
      name: name ?? normalized,
      sensors,
      text: normalized,
      created: Date.now(),
    };
    const id = await this.store.saveRule(rule);
    const saved = { ...rule, id };
    alerts.add(saved);
    this.#open?.peers?.publishRule({ added: saved });
    this.log.info({ rule: saved.text, id, sensors }, 'alert rule added');
    return saved;
  }

  async removeRule(id: number): Promise<AlertRule> {
    const { alerts } = await this.ready();
    const rule = alerts.rule(id);
    if (rule === undefined) {
      const ids = alerts.rules().map((r) => r.id);
      throw new NexoError(
        'TELEMETRY_UNKNOWN_ALERT',
        `there is no alert rule ${id}${ids.length > 0 ? ` (rules: ${ids.slice(0, 20).join(', ')})` : ' (no rules yet)'}`,
      );
    }
    await this.store.deleteRule(id);
    alerts.remove(id);
    this.#open?.peers?.publishRule({ removed: id });
    this.log.info({ rule: rule.text, id }, 'alert rule removed');
    return rule;
  }

  #alerted(events: AlertEvent[]): void {
    for (const e of events) {
      const log = { rule: e.rule, sensor: e.sensor, metric: e.metric, value: e.value, since: e.since };
      if (e.state === 'firing') this.log.warn(log, 'alert firing');
      else this.log.info(log, 'alert resolved');
      this.subscriptions.onAlert(e);
    }
    this.#open?.peers?.publishAlerts(events);
    this.#alertWrites = this.#alertWrites
      .then(() => this.store.appendAlertEvents(events))
      .catch((err: unknown) => this.log.error({ err }, 'could not record alert events'));
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  /** Opens the store now if something needs it from the start (MQTT ingest, retention). */
  async start(mqttClient: { id: string; stable: boolean }): Promise<void> {
    const { mqtt } = this.options;
    // Sharing a store, the node follows the others from the start (watchers, alert state).
    const shared = this.#bus()?.spansNodes === true;
    if (mqtt.url === undefined && this.options.retentionMs === 0 && !shared) return;
    await this.ready();
    if (mqtt.url !== undefined) {
      this.#mqtt = new MqttIngest(
        {
          url: mqtt.url,
          topic: mqtt.topic,
          clientId: mqtt.clientId ?? mqttClient.id,
          persistent: mqtt.clientId !== undefined || mqttClient.stable,
        },
        (sensor, meta, readings, recv) => this.report(sensor, meta, readings, recv),
        this.log,
      );
      this.#mqtt.start();
    }
  }

  mqttStats(): MqttStats | undefined {
    return this.#mqtt?.stats;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#summary);
    await this.#mqtt?.stop();
    this.#retention?.stop();
    const open = this.#open ?? (await this.#opening?.catch(() => undefined));
    open?.peers?.close();
    if (open !== undefined) {
      await open.ingest.drain();
      await this.#alertWrites;
      await this.#retention?.idle();
    }
    await this.#store?.close();
  }
}

/** Waits `ms`, or less if `signal` aborts (the client cancelled or left). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

export function formatMs(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
