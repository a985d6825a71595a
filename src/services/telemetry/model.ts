/**
 * The telemetry model: what a reading is, the names and limits that bound it (docs/protocol.md §9 telemetry
 * lists the same numbers), and the shapes the service answers with. Shared by the service, the store and the
 * text/MQTT front ends; it imports nothing from the server so the limits are one table.
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

/** A reading after validation: every field checked, tags already encoded as JSON. */
export interface ValidReading {
  metric: string;
  value: number;
  /** The sensor's sequence number, or NaN when it sent none (the node numbers it; no idempotency then). */
  seq: number;
  /** The sensor's timestamp (ms since 1970); the receive time when it sent none. */
  ts: number;
  unit: string | undefined;
  /** JSON of the tags, or undefined. */
  tags: string | undefined;
}

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
