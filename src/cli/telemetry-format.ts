import { InvalidArgumentError } from 'commander';
import { csvCell } from '../util/csv.js';
import { parseDuration } from '../util/units.js';

/**
 * Parsing and printing shared by the telemetry commands (sensor, sensors, readings, watch, alerts).
 */

/** A point in time from a flag: a duration ago (`1h`, `30m`, `7d`), an ISO date, or ms since 1970. */
export function parseWhen(text: string, now = Date.now()): number {
  const value = text.trim();
  if (/^\d{12,}$/.test(value)) return Number(value);
  if (/^\d+(\.\d+)?\s*[a-zA-Z]+$/.test(value)) {
    try {
      return now - parseDuration(value);
    } catch {
      // not a duration: maybe a date below
    }
  }
  const date = Date.parse(value);
  if (!Number.isNaN(date)) return date;
  throw new InvalidArgumentError(
    `expected a duration ago (30m, 1h, 7d), an ISO date (2026-05-01T10:00:00Z) or ms since 1970, got '${text}'`,
  );
}

/** Checks a time flag as commander parses it (so a bad one is a usage error, exit 2); keeps the text. */
export function whenArg(text: string): string {
  parseWhen(text);
  return text;
}

/** A duration flag (`2s`, `500ms`, `1m`). */
export function durationArg(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function positiveIntArg(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a positive whole number, got '${text}'`);
  return n;
}

export function wholeNumberArg(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number, got '${text}'`);
  return n;
}

/** Collects a repeatable flag; each value may also be a comma-separated list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** `12:03:04` today, the date otherwise; for tables a person reads. */
export function shortTime(ms: number, now = Date.now()): string {
  const iso = new Date(ms).toISOString();
  return now - ms < 86_400_000 && ms <= now + 60_000 ? iso.slice(11, 19) : iso.slice(0, 19).replace('T', ' ');
}

export function ago(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 0) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Numbers as a person reads them: up to 4 decimals, no trailing zeros. */
export function num(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1e9 || (Math.abs(value) < 1e-4 && value !== 0)) return value.toExponential(4);
  return String(Math.round(value * 10_000) / 10_000);
}

export function withUnit(value: number, unit: string | undefined): string {
  return unit === undefined ? num(value) : `${num(value)} ${unit}`;
}

/** An aligned plain-text table (first column left-aligned, numbers right-aligned). */
export function renderTable(header: string[], rows: string[][], rightAligned: boolean[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** One CSV field (RFC 4180; text that a spreadsheet would run as a formula gets a leading `'`: util/csv.ts). */
export function csvField(value: string | number | undefined): string {
  return csvCell(value);
}

export function csvLine(fields: (string | number | undefined)[]): string {
  return `${fields.map(csvField).join(',')}\n`;
}
