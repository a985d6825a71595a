import type { AlertOperator, AlertRule, StoredReading } from '../../wire/telemetry.js';
import type { ReadingsPage } from './store.js';

/** Rows as every backend's tables hold them, and how they become the model's shapes. */

export interface RuleRow {
  id: number;
  name: string;
  metric: string;
  op: string;
  threshold: number;
  for_ms: number;
  /** JSON array of sensor names. */
  sensors: string;
  text: string;
  created: number;
}

export function toRule(r: RuleRow): AlertRule {
  return {
    id: r.id,
    name: r.name,
    metric: r.metric,
    op: r.op as AlertOperator,
    threshold: r.threshold,
    forMs: r.for_ms,
    sensors: JSON.parse(r.sensors) as string[],
    text: r.text,
    created: r.created,
  };
}

/** A rule's values in the column order of both stores' INSERT: name, metric, op, threshold, for_ms, sensors, text, created. */
export function ruleParams(
  rule: Omit<AlertRule, 'id'>,
): [string, string, string, number, number, string, string, number] {
  return [
    rule.name,
    rule.metric,
    rule.op,
    rule.threshold,
    rule.forMs,
    JSON.stringify(rule.sensors),
    rule.text,
    rule.created,
  ];
}

export interface ReadingRow {
  ts: number;
  value: number;
  recv: number;
  seq: number;
  /** JSON object, or null. */
  tags: string | null;
}

/** A page of reading rows in the query's order, and where it ended. */
export function toReadingsPage(rows: ReadingRow[]): ReadingsPage {
  const readings = rows.map((r) => {
    const reading: StoredReading = { ts: r.ts, value: r.value, recv: r.recv };
    if (r.seq >= 0) reading.seq = r.seq; // below zero: numbered by a node, meaningless to the sensor
    if (r.tags !== null) reading.tags = JSON.parse(r.tags) as Record<string, string>;
    return reading;
  });
  const last = rows.at(-1);
  return { readings, last: last === undefined ? undefined : { ts: last.ts, seq: last.seq } };
}
