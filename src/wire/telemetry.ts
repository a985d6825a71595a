/**
 * The telemetry service's wire contract (docs/protocol.md §9 telemetry): the names and limits that bound a
 * reading (the spec lists the same numbers), what a sensor sends and the shapes the service answers with.
 * Declared once for the service, its HTTP routes, the client and the CLI; no runtime code but constants and
 * regular expressions, so it is safe for browsers.
 */

/** Limits on every reading, whatever path it arrives by (binary, text mode, MQTT). */
export const LIMITS = {
  /** Characters of a sensor id. */
  sensorId: 64,
  /** Characters of a metric name. */
  metric: 64,
  /** Characters of a unit (`°C`, `%`, `hPa`). */
  unit: 16,
  kind: 64,
  location: 128,
  /** Tags per reading. */
  tags: 16,
  tagKey: 32,
  tagValue: 128,
  /** UTF-8 bytes of a reading's tags as JSON. */
  tagsBytes: 1024,
  /** Readings per `reportBatch`. */
  batch: 1000,
  /** Metrics one sensor may report (each is a series). */
  metricsPerSensor: 64,
  /** Timestamps before this are refused (2000-01-01T00:00:00Z): usually seconds sent as milliseconds. */
  minTs: Date.UTC(2000, 0, 1),
  /** Timestamps more than this ahead of the node's clock are refused (a sensor clock that is far off). */
  maxFutureMs: 24 * 3600 * 1000,
} as const;

/** Sensor ids: letters, digits, `.`, `_`, `:`, `-`; no `/` so an id is one MQTT topic level. */
export const SENSOR_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** Metric names: a letter or `_` first, then letters, digits, `_`, `.`, `-`. */
export const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
/** Units: 1 to 16 visible characters, no spaces (`°C`, `%`, `µg/m³`). */
export const UNIT = /^[^\p{Cc}\p{Cf}\p{Z}]{1,16}$/u;
/** Free text (kind, location, tag values): no control or format characters, no line breaks. */
export const PRINTABLE = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]*$/u;
export const TAG_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

/** Metadata a sensor may send with a report; it registers the sensor or updates what is known of it. */
export interface SensorMeta {
  kind?: string | undefined;
  location?: string | undefined;
}

/** The answer to a report: readings stored now, and readings already stored before (same sensor and seq). */
export interface Ack {
  accepted: number;
  duplicates: number;
}

/** One stored reading as queries return it. */
export interface StoredReading {
  ts: number;
  value: number;
  /** When the node received it. */
  recv: number;
  /** The sensor's sequence number (absent when the node numbered it). */
  seq?: number;
  tags?: Record<string, string>;
}

/** One downsampling bucket: [t, t + every). */
export interface Bucket {
  t: number;
  min: number;
  max: number;
  avg: number;
  count: number;
}

/** The latest reading of one series (sensor × metric). */
export interface LatestReading {
  sensor: string;
  metric: string;
  value: number;
  unit?: string;
  ts: number;
  recv: number;
}

export interface MetricSummary {
  metric: string;
  unit?: string;
  count: number;
  first: number;
  last: { value: number; ts: number; recv: number };
}

export interface SensorSummary {
  sensor: string;
  kind?: string;
  location?: string;
  firstSeen: number;
  lastSeen: number;
  readings: number;
  metrics: MetricSummary[];
}

/** A live reading pushed to watchers, and the shape of rows in events. */
export interface LiveReading {
  sensor: string;
  metric: string;
  value: number;
  unit?: string;
  ts: number;
  recv: number;
  seq?: number;
  tags?: Record<string, string>;
}

export type AlertOperator = '>' | '>=' | '<' | '<=' | '==' | '!=';

export interface AlertRule {
  id: number;
  name: string;
  metric: string;
  op: AlertOperator;
  threshold: number;
  /** The condition must hold this long (by the sensor's timestamps) before the alert fires. */
  forMs: number;
  /** Only these sensors; empty means every sensor reporting the metric. */
  sensors: string[];
  /** The rule as written, e.g. `temperature > 30 for 1m`. */
  text: string;
  created: number;
}

export interface AlertEvent {
  id?: number;
  ruleId: number;
  rule: string;
  sensor: string;
  metric: string;
  state: 'firing' | 'resolved';
  value: number;
  /** The sensor timestamp of the reading that changed the state. */
  ts: number;
  /** When the condition started to hold (firing) or stopped holding (resolved). */
  since: number;
  /** When the node recorded it. */
  at: number;
}

/** A reading as a sensor sends it (docs/protocol.md §9 telemetry). */
export interface ReadingInput {
  metric: string;
  value: number;
  /** The sensor's sequence number: a reading resent with the same (sensor, seq) is stored once. */
  seq?: number;
  /** Milliseconds since 1970; the node's receive time when absent. */
  ts?: number;
  unit?: string;
  tags?: Record<string, string>;
}

export interface ReadingsQuery {
  sensor: string;
  metric: string;
  /** ms since 1970, inclusive; default: the beginning. */
  from?: number;
  /** ms, exclusive; default: now. */
  to?: number;
  /** Readings per page (1..10000, default 1000). */
  limit?: number;
  order?: 'asc' | 'desc';
  /** Continue after this reading: the `next` of the previous page. */
  after?: { ts: number; seq: number };
}

export interface ReadingsPage {
  sensor: string;
  metric: string;
  unit?: string;
  readings: StoredReading[];
  next?: { ts: number; seq: number };
}

export interface BucketsQuery {
  sensor: string;
  metric: string;
  from: number;
  to?: number;
  /** Bucket width in ms (60000 for one minute). */
  every: number;
}

export interface BucketsResult {
  sensor: string;
  metric: string;
  unit?: string;
  every: number;
  from: number;
  to: number;
  /** `rollup` when whole minutes came from the per-minute rollup. */
  source: 'rollup' | 'raw';
  buckets: Bucket[];
}

export interface WatchFilter {
  sensors?: string[];
  metrics?: string[];
  /** Alert events too (default true). */
  alerts?: boolean;
}

/** A rule as `telemetry.alerts` lists it: with the sensors for which it is firing now. */
export type AlertRuleWithState = AlertRule & { firing: { sensor: string; since: number }[] };
