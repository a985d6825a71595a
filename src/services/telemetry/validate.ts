import { NexoError } from '../../errors.js';
import {
  LIMITS,
  METRIC_NAME,
  PRINTABLE,
  SENSOR_ID,
  type SensorMeta,
  TAG_KEY,
  UNIT,
} from '../../wire/telemetry.js';

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

/**
 * Checks of everything a sensor sends, with messages that say what was wrong and what is allowed. The same
 * checks serve the binary protocol, text mode and MQTT, so a reading is judged the same whatever its path.
 * Hand-written rather than a schema: they run for every reading (hundreds of thousands a second) and a
 * schema's "expected number" says less than "value NaN is not a finite number".
 */

/** Where a problem is, for messages: `reading 3: ` in a batch, nothing for a single reading. */
type Where = number | undefined;

function fail(where: Where, field: string, message: string): never {
  const prefix = where === undefined ? '' : `reading ${where}: `;
  const details: Record<string, unknown> = { field };
  if (where !== undefined) details.index = where;
  throw new NexoError('TELEMETRY_INVALID_READING', `${prefix}${message}`, details);
}

/** Shows a value from the peer in a message without letting a huge one through. */
export function show(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  }
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (value instanceof Date) return 'a timestamp extension';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Uint8Array) return 'binary';
  return typeof value;
}

export function checkSensorId(id: unknown): string {
  if (typeof id !== 'string' || !SENSOR_ID.test(id)) {
    throw new NexoError(
      'TELEMETRY_INVALID_READING',
      `sensor id ${show(id)} is not valid: use 1 to ${LIMITS.sensorId} letters, digits, '.', '_', ':' or '-', starting with a letter or digit`,
      { field: 'sensor' },
    );
  }
  return id;
}

const knownMetrics = new Set<string>();

export function checkMetric(metric: unknown, where?: Where): string {
  if (typeof metric === 'string' && knownMetrics.has(metric)) return metric;
  if (typeof metric !== 'string' || !METRIC_NAME.test(metric)) {
    fail(
      where,
      'metric',
      `metric ${show(metric)} is not valid: use 1 to ${LIMITS.metric} letters, digits, '_', '.' or '-', starting with a letter or '_'`,
    );
  }
  // Remembering valid names skips the pattern for the next million readings; bounded so junk cannot grow it.
  if (knownMetrics.size < 10_000) knownMetrics.add(metric);
  return metric;
}

export function checkUnit(unit: unknown, where?: Where): string | undefined {
  if (unit === undefined || unit === null || unit === '') return undefined;
  if (typeof unit !== 'string' || !UNIT.test(unit)) {
    fail(where, 'unit', `unit ${show(unit)} is not valid: 1 to ${LIMITS.unit} visible characters, no spaces`);
  }
  return unit;
}

export function checkValue(value: unknown, where?: Where): number {
  if (typeof value !== 'number') {
    fail(where, 'value', `value must be a number, got ${typeName(value)} ${show(value)}`);
  }
  if (!Number.isFinite(value)) fail(where, 'value', `value ${value} is not a finite number`);
  return value;
}

export function checkTimestamp(ts: unknown, now: number, where?: Where): number {
  if (typeof ts !== 'number' || !Number.isInteger(ts)) {
    fail(where, 'ts', `ts must be an integer number of milliseconds since 1970, got ${show(ts)}`);
  }
  if (ts < LIMITS.minTs) {
    const hint = ts > 0 && ts < 1e11 ? ' (it looks like seconds: send milliseconds)' : '';
    fail(where, 'ts', `ts ${ts} is before 2000-01-01${hint}`);
  }
  if (ts > now + LIMITS.maxFutureMs) {
    const when = ts < 8.64e15 ? new Date(ts).toISOString() : 'beyond year 275760';
    fail(
      where,
      'ts',
      `ts ${ts} (${when}) is more than 1 day ahead of the node's clock (${new Date(now).toISOString()}); check the sensor's clock`,
    );
  }
  return ts;
}

export function checkSeq(seq: unknown, where?: Where): number {
  if (seq === undefined || seq === null) return Number.NaN;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    fail(where, 'seq', `seq must be an integer from 0 to 2^53-1, got ${show(seq)}`);
  }
  return seq;
}

/** Returns the tags as JSON (what is stored), or undefined when there are none. */
export function checkTags(tags: unknown, where?: Where): string | undefined {
  if (tags === undefined || tags === null) return undefined;
  if (typeof tags !== 'object' || Array.isArray(tags) || tags instanceof Uint8Array) {
    fail(where, 'tags', `tags must be a map of names to strings, got ${typeName(tags)}`);
  }
  let count = 0;
  for (const key in tags) {
    if (!Object.hasOwn(tags, key)) continue;
    if (++count > LIMITS.tags) fail(where, 'tags', `more than ${LIMITS.tags} tags`);
    if (!TAG_KEY.test(key)) {
      fail(
        where,
        'tags',
        `tag name ${show(key)} is not valid: 1 to ${LIMITS.tagKey} letters, digits, '_', '.' or '-'`,
      );
    }
    const value = (tags as Record<string, unknown>)[key];
    if (typeof value !== 'string') {
      fail(where, 'tags', `tag '${key}' must be a string, got ${typeName(value)}`);
    }
    if (value.length > LIMITS.tagValue) {
      fail(where, 'tags', `tag '${key}' is ${value.length} characters long; at most ${LIMITS.tagValue}`);
    }
    if (!PRINTABLE.test(value)) fail(where, 'tags', `tag '${key}' contains control characters`);
  }
  if (count === 0) return undefined;
  const json = JSON.stringify(tags);
  const bytes = Buffer.byteLength(json);
  if (bytes > LIMITS.tagsBytes) {
    fail(where, 'tags', `tags take ${bytes} bytes as JSON; at most ${LIMITS.tagsBytes}`);
  }
  return json;
}

function checkText(value: unknown, field: 'kind' | 'location', max: number): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length > max || !PRINTABLE.test(value)) {
    throw new NexoError(
      'TELEMETRY_INVALID_READING',
      `${field} must be text of at most ${max} characters without control characters, got ${show(value)}`,
      { field },
    );
  }
  return value;
}

export function checkMeta(raw: { kind?: unknown; location?: unknown }): SensorMeta {
  return {
    kind: checkText(raw.kind, 'kind', LIMITS.kind),
    location: checkText(raw.location, 'location', LIMITS.location),
  };
}

/** Validates one reading as sent by a sensor. `now` is the receive time (the default timestamp). */
export function checkReading(raw: unknown, now: number, where?: Where): ValidReading {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    fail(
      where,
      'reading',
      `a reading must be a map {metric, value, ts?, seq?, unit?, tags?}, got ${show(raw)}`,
    );
  }
  const r = raw as Record<string, unknown>;
  return {
    metric: checkMetric(r.metric, where),
    value: checkValue(r.value, where),
    seq: checkSeq(r.seq, where),
    ts: r.ts === undefined || r.ts === null ? now : checkTimestamp(r.ts, now, where),
    unit: checkUnit(r.unit, where),
    tags: checkTags(r.tags, where),
  };
}

/** Strict decimal number syntax for text mode and MQTT payloads: no hex, no `Infinity`, no empty string. */
const NUMBER_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parses a number typed by a person or sent as an MQTT payload. */
export function parseNumberText(text: string, field = 'value'): number {
  const trimmed = text.trim();
  if (!NUMBER_TEXT.test(trimmed)) {
    const nonFinite = /^[+-]?(nan|inf(inity)?)$/i.test(trimmed);
    throw new NexoError(
      'TELEMETRY_INVALID_READING',
      nonFinite
        ? `${field} ${show(trimmed)} is not a finite number`
        : `${field} must be a number, got ${show(trimmed)}`,
      { field },
    );
  }
  const value = Number(trimmed);
  if (!Number.isFinite(value)) {
    throw new NexoError('TELEMETRY_INVALID_READING', `${field} ${show(trimmed)} is not a finite number`, {
      field,
    });
  }
  return value;
}
