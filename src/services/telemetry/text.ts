import type { TextCommand } from '../../contract/service.js';
import { NexoError } from '../../errors.js';
import type { AlertEvent, LatestReading, LiveReading, SensorSummary } from '../../wire/telemetry.js';
import { parseNumberText } from './validate.js';

/**
 * Text-mode commands of the telemetry service (spec §8), for sensors and people on `nc`:
 *   report <sensor> <metric> <value> [unit]   →  ack s1 temperature 21.5 °C
 *   sensors | latest [sensor] | watch [sensor...]
 */

const REPORT_USAGE = 'report <sensor> <metric> <value> [unit]';

function parseReport(rest: string): { method: string; args: unknown } {
  const words = rest.split(/\s+/).filter(Boolean);
  if (words.length < 3 || words.length > 4) {
    throw new NexoError('INVALID_ARGS', `usage: ${REPORT_USAGE}, e.g. report s1 temperature 21.5 C`);
  }
  const [sensor, metric, value, unit] = words as [string, string, string, string | undefined];
  const args: Record<string, unknown> = { sensor, metric, value: parseNumberText(value), echo: true };
  if (unit !== undefined) args.unit = unit;
  return { method: 'report', args };
}

function formatReport(result: unknown): string {
  const r = result as {
    accepted: number;
    reading?: { sensor: string; metric: string; value: number; unit?: string };
  };
  const reading = r.reading;
  if (reading === undefined) return r.accepted > 0 ? 'ack' : 'ack (duplicate)';
  return `ack ${reading.sensor} ${reading.metric} ${reading.value}${reading.unit === undefined ? '' : ` ${reading.unit}`}`;
}

export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

function withUnit(value: number, unit: string | undefined): string {
  return unit === undefined ? String(value) : `${value} ${unit}`;
}

function formatSensors(result: unknown): string[] {
  const { sensors } = result as { sensors: SensorSummary[] };
  if (sensors.length === 0) return ['no sensors have reported yet'];
  return sensors.map((s) => {
    const metrics = s.metrics.map((m) => `${m.metric}=${withUnit(m.last.value, m.unit)}`).join(' ');
    const where = s.location === undefined ? '' : ` @${s.location}`;
    return `${s.sensor}${where}: ${metrics} (${s.readings} reading${s.readings === 1 ? '' : 's'}, last ${ago(s.lastSeen)})`;
  });
}

function formatLatest(result: unknown): string[] {
  const { readings } = result as { readings: LatestReading[] };
  if (readings.length === 0) return ['no readings yet'];
  return readings.map(
    (r) => `${new Date(r.ts).toISOString()} ${r.sensor} ${r.metric} ${withUnit(r.value, r.unit)}`,
  );
}

export function formatAlertLine(e: AlertEvent): string {
  return e.state === 'firing'
    ? `ALERT ${e.sensor}: ${e.rule} (value ${e.value}, since ${new Date(e.since).toISOString()})`
    : `resolved ${e.sensor}: ${e.rule} (value ${e.value})`;
}

function formatWatchEvent(event: unknown): string {
  const e = event as { type: string } & Partial<LiveReading> & Partial<AlertEvent> & { count?: number };
  if (e.type === 'alert') return formatAlertLine(e as AlertEvent);
  if (e.type === 'dropped') return `(${e.count} readings skipped: reading too slowly)`;
  const r = e as LiveReading;
  return `${new Date(r.ts).toISOString()} ${r.sensor} ${r.metric} ${withUnit(r.value, r.unit)}`;
}

/**
 * `watch` comes first: text mode prints the events and the final result of a long-lived call with the first
 * command of its service (TextSession), and `watch` is this service's only long-lived one.
 */
export const telemetryCommands: TextCommand[] = [
  {
    name: 'watch',
    usage: 'watch [sensor...]',
    summary: 'print readings and alerts as they arrive, until the next line',
    parse: (rest) => {
      const sensors = rest.split(/[\s,]+/).filter(Boolean);
      return { method: 'watch', args: sensors.length === 0 ? null : { sensors } };
    },
    format: (result) => {
      const dropped = (result as { dropped?: number } | undefined)?.dropped ?? 0;
      return dropped > 0 ? `stopped watching (${dropped} readings skipped)` : 'stopped watching';
    },
    formatEvent: formatWatchEvent,
  },
  {
    name: 'report',
    usage: REPORT_USAGE,
    summary: 'store a sensor reading; answers "ack ..." once it is on disk',
    parse: parseReport,
    format: formatReport,
  },
  {
    name: 'sensors',
    usage: 'sensors',
    summary: 'sensors that have reported and their latest values',
    parse: () => ({ method: 'sensors', args: null }),
    format: formatSensors,
  },
  {
    name: 'latest',
    usage: 'latest [sensor]',
    summary: 'the latest reading of each metric',
    parse: (rest) => {
      const sensor = rest.trim();
      return { method: 'latest', args: sensor === '' ? null : { sensor } };
    },
    format: formatLatest,
  },
];
