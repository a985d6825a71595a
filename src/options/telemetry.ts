import { type Static, Type } from '@sinclair/typebox';
import { parseDuration } from '../util/units.js';
import type { UnitReader } from './problems.js';
import { Duration } from './values.js';

export const TelemetrySchema = Type.Object(
  {
    retention: Type.Optional(Duration),
    rate: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9 })),
    burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9 })),
    maxQueued: Type.Optional(Type.Integer({ minimum: 1000, maximum: 10_000_000 })),
    maxSeries: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000 })),
    readers: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    queryTimeout: Type.Optional(Duration),
    mqtt: Type.Optional(
      Type.Object(
        {
          url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
          topic: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
          clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export interface TelemetryOptions {
  /** Readings older than this are deleted in the background; 0 keeps them forever. */
  retentionMs: number;
  /** Readings per second each sensor may send on average; 0 = no limit. */
  rate: number;
  /** Readings a sensor may send at once above its rate (a reconnecting sensor's backlog). */
  burst: number;
  /** Readings waiting for the disk, node-wide, beyond which reports get RATE_LIMITED. */
  maxQueued: number;
  /** Series (sensor × metric) the node will track. */
  maxSeries: number;
  /** Threads that run queries. */
  readers: number;
  queryTimeoutMs: number;
  /** MQTT ingest: off unless `url` is set. */
  mqtt: { url: string | undefined; topic: string; clientId: string | undefined };
}

export const TELEMETRY_DEFAULTS = {
  retention: 0,
  rate: 1000,
  burst: 10_000,
  maxQueued: 200_000,
  maxSeries: 1_000_000,
  readers: 2,
  queryTimeout: '10s',
  mqttTopic: 'sensors/+/+',
} as const;

export function resolveTelemetry(
  o: Static<typeof TelemetrySchema> | undefined,
  unit: UnitReader,
): TelemetryOptions {
  const d = TELEMETRY_DEFAULTS;
  return {
    retentionMs: unit('telemetry.retention', parseDuration, o?.retention ?? d.retention),
    rate: o?.rate ?? d.rate,
    burst: o?.burst ?? d.burst,
    maxQueued: o?.maxQueued ?? d.maxQueued,
    maxSeries: o?.maxSeries ?? d.maxSeries,
    readers: o?.readers ?? d.readers,
    queryTimeoutMs: unit('telemetry.queryTimeout', parseDuration, o?.queryTimeout ?? d.queryTimeout),
    mqtt: { url: o?.mqtt?.url, topic: o?.mqtt?.topic ?? d.mqttTopic, clientId: o?.mqtt?.clientId },
  };
}

/** Retention and query time, and the MQTT broker URL and topic filter. */
export function telemetryProblems(t: TelemetryOptions): string[] {
  const problems: string[] = [];
  if (t.retentionMs > 0 && t.retentionMs < 60_000) {
    problems.push(`telemetry.retention: must be 0 (keep forever) or at least 1m (got ${t.retentionMs} ms)`);
  }
  if (t.queryTimeoutMs === 0) problems.push('telemetry.queryTimeout: must be more than 0');
  if (t.mqtt.url !== undefined && !/^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/.test(t.mqtt.url)) {
    problems.push(
      `telemetry.mqtt.url: expected a broker URL such as mqtt://127.0.0.1:1883 (got ${JSON.stringify(t.mqtt.url.slice(0, 60))})`,
    );
  }
  const levels = t.mqtt.topic.split('/');
  if (
    levels.length < 2 ||
    levels.some(
      (l, i) => (l.includes('#') && (l !== '#' || i !== levels.length - 1)) || (l.includes('+') && l !== '+'),
    )
  ) {
    problems.push(
      `telemetry.mqtt.topic: expected an MQTT topic filter whose last two levels are <sensor>/<metric>, such as sensors/+/+ (got ${JSON.stringify(t.mqtt.topic.slice(0, 60))})`,
    );
  }
  return problems;
}
