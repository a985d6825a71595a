import type { Logger } from 'pino';
import { NexoError, toNexoError } from '../../errors.js';
import { Histogram } from '../../util/histogram.js';
import type { RateLimiter } from '../../util/rate-limit.js';
import type { Ack, SensorMeta } from '../../wire/telemetry.js';
import { BatchBuilder, type CommitBatch } from './batch.js';
import type { Registry, SeriesEntry } from './registry.js';
import type { TelemetryStore } from './store.js';
import type { ValidReading } from './validate.js';

/** Turns a report may wait for other reports' defines of the same sensor before failing. */
const MAX_DEFINE_TURNS = 256;

/** A batch that is now durable, for whoever reacts to new readings (watchers, alerts). */
export interface Committed {
  batch: CommitBatch;
  /** Per row: 1 if stored by this commit, 0 if it was a duplicate. */
  fresh: Uint8Array;
  /** The series of each row. */
  series: SeriesEntry[];
  /** How many rows are fresh. */
  accepted: number;
}

export type CommitListener = (committed: Committed) => void;

interface Waiter {
  start: number;
  end: number;
  /** When the report was submitted (`performance.now()`), for the ack histogram. */
  at: number;
  resolve(ack: Ack): void;
  reject(error: NexoError): void;
}

export interface IngestStats {
  commits: number;
  accepted: number;
  duplicates: number;
  failedCommits: number;
  lastCommit: { readings: number; ms: number; at: number } | undefined;
}

/**
 * Group commit. Reports from every connection, sensor and front end (binary, text, MQTT) are appended to one
 * pending batch; while the store writes a batch, the next one fills. Each commit is one transaction and one
 * fsync for all the readings in it, and each report is acknowledged only when the commit holding its
 * readings has returned: an ack always means "on disk".
 */
export class Ingest {
  readonly #store: TelemetryStore;
  readonly #registry: Registry;
  readonly #limiter: RateLimiter;
  readonly #maxQueued: number;
  readonly #log: Logger;
  readonly #commitTime: Histogram | undefined;
  /** From a report being submitted to its durable ack (nexo_service_duration_seconds{name="ack"}). */
  readonly ackTime = new Histogram();
  readonly #listeners: CommitListener[] = [];
  #builder = new BatchBuilder(4096);
  #rowSeries: SeriesEntry[] = [];
  #waiters: Waiter[] = [];
  #writing: Promise<void> | undefined;
  #writingCount = 0;
  /** Readings waiting for their sensor or series to be defined in the store (counted as queued). */
  #definingCount = 0;
  /** One `define` in flight per sensor name: concurrent first reports of a sensor share it. */
  readonly #defining = new Map<string, Promise<void>>();
  #scheduled = false;
  readonly stats: IngestStats = {
    commits: 0,
    accepted: 0,
    duplicates: 0,
    failedCommits: 0,
    lastCommit: undefined,
  };

  constructor(
    store: TelemetryStore,
    registry: Registry,
    limiter: RateLimiter,
    options: { maxQueued: number; commitTime?: Histogram },
    log: Logger,
  ) {
    this.#commitTime = options.commitTime;
    this.#store = store;
    this.#registry = registry;
    this.#limiter = limiter;
    this.#maxQueued = options.maxQueued;
    this.#log = log;
  }

  onCommit(listener: CommitListener): void {
    this.#listeners.push(listener);
  }

  get queued(): number {
    return this.#builder.count + this.#writingCount + this.#definingCount;
  }

  /**
   * Admission of `count` readings of one sensor, before any work is spent on them: throws RATE_LIMITED when
   * the sensor is over its rate or the node's write queue is full. (Tokens are taken whether the readings then
   * turn out valid or not.)
   */
  admit(sensorName: string, count: number, now: number): void {
    if (this.queued + count > this.#maxQueued) {
      throw new NexoError(
        'RATE_LIMITED',
        `the node has ${this.queued} readings waiting to be written to disk (at most ${this.#maxQueued}); retry shortly`,
        { retryAfterMs: 50 },
      );
    }
    const waitMs = this.#limiter.take(sensorName, count, now);
    if (waitMs > 0) {
      throw new NexoError(
        'RATE_LIMITED',
        `sensor '${sensorName}' is over its limit of ${this.#limiter.rate} readings/s (bursts of ${this.#limiter.burst}); retry in ${waitMs} ms`,
        { sensor: sensorName, limit: this.#limiter.rate, burst: this.#limiter.burst, retryAfterMs: waitMs },
      );
    }
  }

  /**
   * Queues admitted, validated readings of one sensor for the next commit; resolves when they are durable.
   * Throws at once (nothing queued) when a series limit is hit.
   */
  submit(sensorName: string, meta: SensorMeta, readings: ValidReading[], recv: number): Promise<Ack> {
    const at = performance.now();
    const planned = new Map<string, string | undefined>();
    for (const r of readings) this.#registry.checkSeries(sensorName, r.metric, r.unit, planned);
    // The hot path: every name known, nothing to ask the store before queueing.
    if (this.#registry.knows(sensorName, readings)) return this.#queue(sensorName, meta, readings, recv, at);
    this.#definingCount += readings.length;
    const defined = this.#define(sensorName, meta, readings, recv);
    return defined.then(
      () => {
        this.#definingCount -= readings.length;
        // Checked again against what the store holds: another node may have given a series its unit.
        const again = new Map<string, string | undefined>();
        for (const r of readings) this.#registry.checkSeries(sensorName, r.metric, r.unit, again);
        return this.#queue(sensorName, meta, readings, recv, at);
      },
      (err: unknown) => {
        this.#definingCount -= readings.length;
        throw toNexoError(err);
      },
    );
  }

  /**
   * Asks the store for the sensor and the metrics the registry lacks (get-or-create, ids from the store).
   * One define per sensor is in flight at a time; a report that finds one waits for it and then asks for what
   * is still missing (a define in flight may not have named its metrics). Bounded: each turn either waits for
   * another report's define or makes this report's own, after which its names are known or it fails.
   */
  async #define(sensorName: string, meta: SensorMeta, readings: ValidReading[], recv: number): Promise<void> {
    for (let turn = 0; turn < MAX_DEFINE_TURNS; turn++) {
      if (this.#registry.knows(sensorName, readings)) return;
      const pending = this.#defining.get(sensorName);
      if (pending !== undefined) {
        await pending.catch(() => undefined); // its failure is its report's; this one asks for itself
        continue;
      }
      const metrics = new Map<string, string | null>();
      const known = this.#registry.sensor(sensorName);
      for (const r of readings) {
        if (known?.series.has(r.metric) !== true && !metrics.has(r.metric))
          metrics.set(r.metric, r.unit ?? null);
      }
      const promise = this.#store
        .define(
          { name: sensorName, kind: meta.kind ?? null, location: meta.location ?? null, firstSeen: recv },
          [...metrics].map(([metric, unit]) => ({ metric, unit })),
        )
        .then((defined) => this.#registry.learn(defined))
        .finally(() => this.#defining.delete(sensorName));
      this.#defining.set(sensorName, promise);
      await promise;
      if (this.#registry.knows(sensorName, readings)) return;
      break;
    }
    throw new NexoError('TELEMETRY_STORAGE', `the store did not define the series of sensor '${sensorName}'`);
  }

  #queue(
    sensorName: string,
    meta: SensorMeta,
    readings: ValidReading[],
    recv: number,
    at: number,
  ): Promise<Ack> {
    const sensor = this.#registry.ensureSensor(sensorName, meta);
    const builder = this.#builder;
    const start = builder.count;
    for (const r of readings) {
      const series = this.#registry.ensureSeries(sensor, r.metric, r.unit);
      builder.add(sensor.id, series.id, r.seq, r.ts, recv, r.value, r.tags);
      this.#rowSeries.push(series);
    }
    const end = builder.count;
    const promise = new Promise<Ack>((resolve, reject) => {
      this.#waiters.push({ start, end, at, resolve, reject });
    });
    if (this.#writing === undefined && !this.#scheduled) {
      this.#scheduled = true;
      // Reports decoded in this turn of the event loop join the same commit.
      setImmediate(() => {
        this.#scheduled = false;
        this.#flush();
      });
    }
    return promise;
  }

  /** Resolves when everything submitted so far is written (or failed). */
  async drain(): Promise<void> {
    while (this.#writing !== undefined || this.#builder.count > 0) {
      if (this.#writing === undefined) this.#flush();
      await this.#writing;
    }
  }

  #flush(): void {
    if (this.#writing !== undefined || this.#builder.count === 0) return;
    const batch = this.#builder.take(this.#registry.takeDefinitions());
    const series = this.#rowSeries;
    const waiters = this.#waiters;
    this.#rowSeries = [];
    this.#waiters = [];
    this.#writingCount = batch.count;
    const started = performance.now();
    this.#writing = this.#store.commit(batch).then(
      (result) => {
        this.#writing = undefined;
        this.#writingCount = 0;
        const now = performance.now();
        this.#commitTime?.observe((now - started) / 1000);
        this.#committed(batch, result.fresh, series, waiters, now - started, now);
        this.#flush();
      },
      (err: unknown) => {
        this.#writing = undefined;
        this.#writingCount = 0;
        this.#registry.restoreDefinitions(batch.defs);
        this.stats.failedCommits++;
        const error = toNexoError(err);
        this.#log.error(
          { err, readings: batch.count },
          'telemetry commit failed; nothing in it was acknowledged',
        );
        for (const w of waiters) w.reject(error);
        this.#flush();
      },
    );
  }

  #committed(
    batch: CommitBatch,
    fresh: Uint8Array,
    series: SeriesEntry[],
    waiters: Waiter[],
    ms: number,
    now: number,
  ): void {
    let accepted = 0;
    for (const w of waiters) {
      this.ackTime.observe((now - w.at) / 1000);
      let n = 0;
      for (let i = w.start; i < w.end; i++) n += fresh[i]!;
      accepted += n;
      w.resolve({ accepted: n, duplicates: w.end - w.start - n });
    }
    this.stats.commits++;
    this.stats.accepted += accepted;
    this.stats.duplicates += batch.count - accepted;
    this.stats.lastCommit = { readings: batch.count, ms: Math.round(ms * 100) / 100, at: Date.now() };
    followCommit(batch, fresh, series);
    if (accepted === 0) return;
    const committed: Committed = { batch, fresh, series, accepted };
    for (const listener of this.#listeners) {
      try {
        listener(committed);
      } catch (err) {
        this.#log.error({ err }, 'telemetry commit listener failed');
      }
    }
  }
}

/** The in-memory view of each series follows the store: counts, first/last, last seen (any node's commit). */
export function followCommit(batch: CommitBatch, fresh: Uint8Array, series: SeriesEntry[]): void {
  for (let i = 0; i < batch.count; i++) {
    if (fresh[i] === 0) continue;
    const s = series[i]!;
    const ts = batch.ts[i]!;
    const recv = batch.recv[i]!;
    s.count++;
    if (s.firstTs === undefined || ts < s.firstTs) s.firstTs = ts;
    if (s.lastTs === undefined || ts >= s.lastTs) {
      s.lastTs = ts;
      s.lastValue = batch.value[i]!;
      s.lastRecv = recv;
    }
    if (recv > s.sensor.lastSeen) s.sensor.lastSeen = recv;
  }
}
