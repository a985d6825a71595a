import type { AlertEvent, AlertRule, StoredReading } from '../../wire/telemetry.js';
import type { CommitBatch, CommitResult } from './batch.js';

/**
 * Where telemetry lives. The service only talks to this interface, so the embedded SQLite store (the default,
 * in the node's data directory) can be replaced by a shared one (PostgreSQL, for a cluster) without touching
 * ingest, queries or alerts. Every method is asynchronous: an implementation must never block the event loop.
 *
 * Sensors and series (sensor × metric) are numbered by the store (`define`), so any number of nodes sharing
 * one store can create them at once and agree on every id; the service keeps what it has seen in memory (the
 * registry) and asks the store again on a miss, which is how a node learns sensors that reported elsewhere.
 */
export interface TelemetryStore {
  /** Opens (creating if needed) and returns what the service keeps in memory. */
  open(): Promise<StoreSnapshot>;
  /**
   * Get-or-create, atomically: the sensor named `sensor.name` and its series `metrics`, created (with the
   * store's ids) where no one created them before. Resolves with the sensor and every series it has (also
   * ones not asked for), as stored, statistics included. Fields of rows that exist already are not changed
   * (updates travel with commits, `CommitBatch.defs`).
   */
  define(sensor: SensorDefinition, metrics: MetricDefinition[]): Promise<DefinedSensor>;
  /**
   * Writes a batch durably, in one transaction, before resolving: readings (a (sensor, seq) already stored is
   * skipped and reported as not fresh), the definitions, per-minute rollups and series statistics.
   */
  commit(batch: CommitBatch): Promise<CommitResult>;
  /**
   * Shared stores only: the sensors among `names` that exist (defined through any node), with their series,
   * without creating any. A node asks on a query about a sensor its registry does not know (§9.T.7.1).
   */
  findSensors?(names: readonly string[]): Promise<DefinedSensor[]>;
  /**
   * Shared stores only: up to `limit` sensors (defined through any node) whose names sort after `after` (by
   * code unit, as JavaScript sorts), in that order, with their series and statistics as stored. `sensors` and
   * `latest` answer from it, because other nodes' commits move statistics this node's registry never saw
   * (§9.T.7.2).
   */
  listSensors?(after: string | undefined, limit: number): Promise<DefinedSensor[]>;
  /**
   * Shared stores only (§9.T.7.3): readings any node received in `[from, to]` whose own `ts` is at least
   * `minTs`, by receive time, at most `limit`; `total` counts them all when there are more than `limit`.
   */
  receivedBetween?(query: ReceivedQuery): Promise<{ rows: ReceivedRow[]; total: number }>;
  readings(query: RawQuery): Promise<ReadingsPage>;
  buckets(query: BucketQuery): Promise<BucketColumns>;
  saveRule(rule: Omit<AlertRule, 'id'>): Promise<number>;
  deleteRule(id: number): Promise<boolean>;
  appendAlertEvents(events: AlertEvent[]): Promise<void>;
  alertEvents(query: AlertEventQuery): Promise<AlertEvent[]>;
  /**
   * Deletes readings, rollups and alert events older than `cutoff` (ms), a little at a time so that commits
   * keep going in between. Resolves with how many readings each series lost.
   */
  prune(cutoff: number): Promise<PruneResult>;
  close(): Promise<void>;
}

export interface SensorRow {
  id: number;
  name: string;
  kind: string | null;
  location: string | null;
  firstSeen: number;
  lastSeen: number;
}

export interface SeriesRow {
  id: number;
  sensor: number;
  metric: string;
  unit: string | null;
  count: number;
  firstTs: number | null;
  lastTs: number | null;
  lastValue: number | null;
  lastRecv: number | null;
}

export interface SensorDefinition {
  name: string;
  kind: string | null;
  location: string | null;
  /** The receive time of the report that first names it (ms). */
  firstSeen: number;
}

export interface MetricDefinition {
  metric: string;
  unit: string | null;
}

export interface DefinedSensor {
  sensor: SensorRow;
  series: SeriesRow[];
}

export interface StoreSnapshot {
  sensors: SensorRow[];
  series: SeriesRow[];
  rules: AlertRule[];
}

export interface RawQuery {
  series: number;
  /** Inclusive, ms. */
  from: number;
  /** Exclusive, ms. */
  to: number;
  /** Continue after this reading (ts, seq), in the query's order. */
  after?: { ts: number; seq: number } | undefined;
  limit: number;
  order: 'asc' | 'desc';
}

export interface ReadingsPage {
  readings: StoredReading[];
  /** Where the page ended, to continue from (`RawQuery.after`). */
  last: { ts: number; seq: number } | undefined;
}

export interface BucketQuery {
  series: number;
  from: number;
  to: number;
  /** Bucket width, ms; buckets start at multiples of it since 1970 (UTC). */
  every: number;
}

/** Buckets as columns (cheap to move between threads); avg = sum / count. */
export interface BucketColumns {
  t: Float64Array;
  min: Float64Array;
  max: Float64Array;
  sum: Float64Array;
  count: Float64Array;
  /** Whether the per-minute rollup answered (true) or raw readings were scanned. */
  rollup: boolean;
}

export interface AlertEventQuery {
  from: number;
  to: number;
  sensor?: string | undefined;
  ruleId?: number | undefined;
  limit: number;
}

export interface PruneResult {
  /** Readings deleted per series id. */
  deleted: Map<number, number>;
  total: number;
}

export interface ReceivedQuery {
  /** Receive times, ms, both inclusive. */
  from: number;
  to: number;
  /** The readings' own timestamps start here (the per-series index's range). */
  minTs: number;
  limit: number;
}

/** A stored reading with its series, as a catch-up reads it (§9.T.7.3). */
export interface ReceivedRow {
  series: number;
  sensorId: number;
  sensor: string;
  metric: string;
  unit: string | null;
  /** Below zero when the store numbered it (the sensor sent none). */
  seq: number;
  ts: number;
  recv: number;
  value: number;
  tags: string | null;
}
