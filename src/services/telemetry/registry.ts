import { NexoError } from '../../errors.js';
import {
  type LatestReading,
  LIMITS,
  type MetricSummary,
  type SensorMeta,
  type SensorSummary,
} from '../../wire/telemetry.js';
import type { Definitions } from './batch.js';
import type { DefinedSensor, SensorRow, SeriesRow, StoreSnapshot } from './store.js';

export class SeriesEntry {
  count = 0;
  firstTs: number | undefined;
  lastTs: number | undefined;
  lastValue = 0;
  lastRecv = 0;

  constructor(
    readonly id: number,
    readonly sensor: SensorEntry,
    readonly metric: string,
    public unit: string | undefined,
  ) {}

  latest(): LatestReading | undefined {
    if (this.lastTs === undefined) return undefined;
    const reading: LatestReading = {
      sensor: this.sensor.name,
      metric: this.metric,
      value: this.lastValue,
      ts: this.lastTs,
      recv: this.lastRecv,
    };
    if (this.unit !== undefined) reading.unit = this.unit;
    return reading;
  }

  summary(): MetricSummary {
    const summary: MetricSummary = {
      metric: this.metric,
      count: this.count,
      first: this.firstTs ?? 0,
      last: { value: this.lastValue, ts: this.lastTs ?? 0, recv: this.lastRecv },
    };
    if (this.unit !== undefined) summary.unit = this.unit;
    return summary;
  }
}

export class SensorEntry {
  readonly series = new Map<string, SeriesEntry>();

  constructor(
    readonly id: number,
    readonly name: string,
    public kind: string | undefined,
    public location: string | undefined,
    public firstSeen: number,
    public lastSeen: number,
  ) {}

  summary(): SensorSummary {
    const metrics = [...this.series.values()].map((s) => s.summary());
    metrics.sort((a, b) => (a.metric < b.metric ? -1 : 1));
    const summary: SensorSummary = {
      sensor: this.name,
      firstSeen: this.firstSeen,
      lastSeen: this.lastSeen,
      readings: metrics.reduce((n, m) => n + m.count, 0),
      metrics,
    };
    if (this.kind !== undefined) summary.kind = this.kind;
    if (this.location !== undefined) summary.location = this.location;
    return summary;
  }
}

/**
 * Every sensor and series (sensor × metric) the node knows, in memory: the store's ids, units, counts and
 * the latest reading of each series. Loaded from the store at start and kept in step with each commit, so
 * `sensors` and `latest` never touch the disk. A sensor or series the registry does not know is asked of the
 * store (`define`, get-or-create): the store gives the ids, so nodes sharing it agree, and a sensor that
 * reported through another node is learnt with what the store holds of it. Metadata changes (kind,
 * location, a unit learnt late) travel with the next commit (`takeDefinitions`).
 */
export class Registry {
  readonly #sensors = new Map<string, SensorEntry>();
  readonly #sensorsById = new Map<number, SensorEntry>();
  readonly #seriesById = new Map<number, SeriesEntry>();
  readonly #dirtySensors = new Set<SensorEntry>();
  readonly #dirtySeries = new Set<SeriesEntry>();
  readonly #maxSeries: number;

  constructor(snapshot: StoreSnapshot, maxSeries: number) {
    this.#maxSeries = maxSeries;
    for (const s of snapshot.sensors) this.#addSensor(s);
    for (const row of snapshot.series) {
      const sensor = this.#sensorsById.get(row.sensor);
      if (sensor !== undefined) this.#addSeries(sensor, row);
    }
  }

  #addSensor(s: SensorRow): SensorEntry {
    const entry = new SensorEntry(
      s.id,
      s.name,
      s.kind ?? undefined,
      s.location ?? undefined,
      s.firstSeen,
      s.lastSeen,
    );
    this.#sensors.set(s.name, entry);
    this.#sensorsById.set(s.id, entry);
    return entry;
  }

  #addSeries(sensor: SensorEntry, row: SeriesRow): void {
    const entry = new SeriesEntry(row.id, sensor, row.metric, row.unit ?? undefined);
    entry.count = row.count;
    entry.firstTs = row.firstTs ?? undefined;
    entry.lastTs = row.lastTs ?? undefined;
    entry.lastValue = row.lastValue ?? 0;
    entry.lastRecv = row.lastRecv ?? 0;
    sensor.series.set(row.metric, entry);
    this.#seriesById.set(row.id, entry);
  }

  /** Whether the sensor and every metric in `metrics` are known here (else: `define` them first). */
  knows(name: string, metrics: readonly { metric: string }[]): boolean {
    const sensor = this.#sensors.get(name);
    if (sensor === undefined) return false;
    for (const m of metrics) if (!sensor.series.has(m.metric)) return false;
    return true;
  }

  /**
   * What the store answered to `define`: the sensor and its series join the registry where not known yet (a
   * row known already keeps its in-memory state, which is at least as new as the store's).
   */
  learn(defined: DefinedSensor): void {
    const s = defined.sensor;
    const sensor = this.#sensorsById.get(s.id) ?? this.#addSensor(s);
    for (const row of defined.series) if (!this.#seriesById.has(row.id)) this.#addSeries(sensor, row);
  }

  /**
   * What a shared store holds of a sensor, committed by any node: learnt if new, and the statistics of what
   * is known brought forward where the store's are newer (a node only counts its own commits otherwise).
   */
  refresh(defined: DefinedSensor): void {
    const s = defined.sensor;
    const known = this.#sensorsById.get(s.id);
    if (known === undefined) {
      this.learn(defined);
      return;
    }
    known.firstSeen = Math.min(known.firstSeen, s.firstSeen);
    known.lastSeen = Math.max(known.lastSeen, s.lastSeen);
    for (const row of defined.series) {
      const entry = this.#seriesById.get(row.id);
      if (entry === undefined) {
        this.#addSeries(known, row);
        continue;
      }
      entry.count = Math.max(entry.count, row.count);
      if (row.firstTs !== null && (entry.firstTs === undefined || row.firstTs < entry.firstTs)) {
        entry.firstTs = row.firstTs;
      }
      if (row.lastTs !== null && (entry.lastTs === undefined || row.lastTs > entry.lastTs)) {
        entry.lastTs = row.lastTs;
        entry.lastValue = row.lastValue ?? 0;
        entry.lastRecv = row.lastRecv ?? 0;
      }
    }
  }

  get sensorCount(): number {
    return this.#sensors.size;
  }

  get seriesCount(): number {
    return this.#seriesById.size;
  }

  sensor(name: string): SensorEntry | undefined {
    return this.#sensors.get(name);
  }

  sensors(): IterableIterator<SensorEntry> {
    return this.#sensors.values();
  }

  seriesById(id: number): SeriesEntry | undefined {
    return this.#seriesById.get(id);
  }

  /** The sensor (known: `knows` held, or it was learnt), its metadata updated for a report. */
  ensureSensor(name: string, meta: SensorMeta): SensorEntry {
    const sensor = this.#sensors.get(name);
    if (sensor === undefined) throw new Error(`sensor '${name}' was not defined in the store first`);
    if (meta.kind !== undefined && meta.kind !== sensor.kind) {
      sensor.kind = meta.kind;
      this.#dirtySensors.add(sensor);
    }
    if (meta.location !== undefined && meta.location !== sensor.location) {
      sensor.location = meta.location;
      this.#dirtySensors.add(sensor);
    }
    return sensor;
  }

  /**
   * Checks that `metric` with `unit` may be reported by the sensor `name` (which may not exist yet): a series
   * keeps one unit, a sensor has at most LIMITS.metricsPerSensor metrics, the node at most maxSeries series.
   * `planned` counts series this same request is about to create.
   */
  checkSeries(
    name: string,
    metric: string,
    unit: string | undefined,
    planned: Map<string, string | undefined>,
  ): void {
    const existing = this.#sensors.get(name)?.series.get(metric);
    const known = existing !== undefined ? existing.unit : planned.get(metric);
    const isNew = existing === undefined && !planned.has(metric);
    if (!isNew && unit !== undefined && known !== undefined && unit !== known) {
      throw new NexoError(
        'TELEMETRY_INVALID_READING',
        `sensor '${name}' reports ${metric} in '${known}', not '${unit}': a series keeps one unit (report it under another metric name, e.g. ${metric}_${unit.replace(/[^A-Za-z0-9]/g, '') || 'alt'})`,
        { field: 'unit' },
      );
    }
    if (isNew) {
      const metrics = (this.#sensors.get(name)?.series.size ?? 0) + planned.size;
      if (metrics >= LIMITS.metricsPerSensor) {
        throw new NexoError(
          'TELEMETRY_LIMIT',
          `sensor '${name}' already reports ${metrics} metrics; at most ${LIMITS.metricsPerSensor}`,
          { sensor: name, limit: LIMITS.metricsPerSensor },
        );
      }
      if (this.#seriesById.size + planned.size >= this.#maxSeries) {
        throw new NexoError(
          'TELEMETRY_LIMIT',
          `this node already stores ${this.#seriesById.size} series (sensor × metric); at most ${this.#maxSeries} (telemetry.maxSeries)`,
          { limit: this.#maxSeries },
        );
      }
      planned.set(metric, unit);
    } else if (known === undefined && unit !== undefined) planned.set(metric, unit);
  }

  ensureSeries(sensor: SensorEntry, metric: string, unit: string | undefined): SeriesEntry {
    const series = sensor.series.get(metric);
    if (series === undefined)
      throw new Error(`series '${sensor.name}/${metric}' was not defined in the store first`);
    if (series.unit === undefined && unit !== undefined) {
      series.unit = unit;
      this.#dirtySeries.add(series);
    }
    return series;
  }

  /** Sensors and series created or changed since the last commit, for the next one. */
  takeDefinitions(): Definitions {
    const defs: Definitions = {
      sensors: [...this.#dirtySensors].map((s) => ({
        id: s.id,
        name: s.name,
        kind: s.kind ?? null,
        location: s.location ?? null,
        firstSeen: s.firstSeen,
      })),
      series: [...this.#dirtySeries].map((s) => ({
        id: s.id,
        sensor: s.sensor.id,
        metric: s.metric,
        unit: s.unit ?? null,
      })),
    };
    this.#dirtySensors.clear();
    this.#dirtySeries.clear();
    return defs;
  }

  /** A commit failed: its definitions go with the next one. */
  restoreDefinitions(defs: Definitions): void {
    for (const s of defs.sensors) {
      const sensor = this.#sensorsById.get(s.id);
      if (sensor !== undefined) this.#dirtySensors.add(sensor);
    }
    for (const s of defs.series) {
      const series = this.#seriesById.get(s.id);
      if (series !== undefined) this.#dirtySeries.add(series);
    }
  }

  /** Per-series readings removed by retention. */
  applyPrune(deleted: Map<number, number>): void {
    for (const [id, n] of deleted) {
      const series = this.#seriesById.get(id);
      if (series !== undefined) series.count = Math.max(0, series.count - n);
    }
  }

  latest(filter: { sensor?: string | undefined; metric?: string | undefined }): LatestReading[] {
    const out: LatestReading[] = [];
    const sensors =
      filter.sensor === undefined ? [...this.#sensors.values()] : [this.#sensors.get(filter.sensor)];
    for (const sensor of sensors) {
      if (sensor === undefined) continue;
      for (const series of sensor.series.values()) {
        if (filter.metric !== undefined && series.metric !== filter.metric) continue;
        const latest = series.latest();
        if (latest !== undefined) out.push(latest);
      }
    }
    out.sort((a, b) =>
      a.sensor === b.sensor ? (a.metric < b.metric ? -1 : 1) : a.sensor < b.sensor ? -1 : 1,
    );
    return out;
  }
}
