import { NexoError } from '../../errors.js';
import { parseDuration } from '../../util/units.js';
import { type AlertEvent, type AlertOperator, type AlertRule, METRIC_NAME } from '../../wire/telemetry.js';
import type { Committed } from './ingest.js';

/** At most this many rules per node: each reading is checked against the rules of its metric. */
export const MAX_RULES = 1000;
const MAX_FOR_MS = 7 * 24 * 3600 * 1000;

const RULE =
  /^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(>=|<=|==|!=|>|<|=)\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(?:for\s+(\S+)\s*)?$/;

/** Parses `temperature > 30 for 1m` (operators > >= < <= == !=; `for` is optional). */
export function parseRule(text: string): {
  metric: string;
  op: AlertOperator;
  threshold: number;
  forMs: number;
} {
  const match = RULE.exec(text);
  if (match === null) {
    throw new NexoError(
      'TELEMETRY_BAD_RULE',
      `cannot read the rule ${JSON.stringify(text.slice(0, 80))}: write it as <metric> <op> <number> [for <duration>], e.g. "temperature > 30 for 1m" (op: > >= < <= == !=)`,
    );
  }
  const metric = match[1]!;
  if (!METRIC_NAME.test(metric)) {
    throw new NexoError('TELEMETRY_BAD_RULE', `'${metric.slice(0, 70)}' is not a valid metric name`);
  }
  const op = (match[2] === '=' ? '==' : match[2]) as AlertOperator;
  const threshold = Number(match[3]);
  if (!Number.isFinite(threshold)) {
    throw new NexoError('TELEMETRY_BAD_RULE', `the threshold ${match[3]} is not a finite number`);
  }
  let forMs = 0;
  if (match[4] !== undefined) {
    try {
      forMs = parseDuration(match[4]);
    } catch (err) {
      throw new NexoError('TELEMETRY_BAD_RULE', (err as Error).message);
    }
    if (forMs > MAX_FOR_MS) throw new NexoError('TELEMETRY_BAD_RULE', 'the duration may be at most 7 days');
  }
  return { metric, op, threshold, forMs };
}

function holds(op: AlertOperator, value: number, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

interface SeriesState {
  /** Sensor timestamp at which the condition started to hold. */
  since: number;
  firing: boolean;
}

/** What the rules said about one series right now. */
export interface FiringAlert {
  ruleId: number;
  sensor: string;
  metric: string;
  since: number;
}

/**
 * Threshold alerts, evaluated on ingest against every fresh reading of a rule's metric. A rule fires when its
 * condition has held for its duration by the sensor's own timestamps (no timer: a sensor that stops
 * reporting neither fires nor resolves), and resolves at the first reading where it no longer holds. State
 * lives in memory: after a restart a condition must hold for the duration again before the rule fires.
 */
export class AlertEngine {
  readonly #rules = new Map<number, AlertRule>();
  readonly #byMetric = new Map<string, AlertRule[]>();
  /** `${ruleId}:${seriesId}` → state. */
  readonly #state = new Map<string, SeriesState & { sensor: string; metric: string; ruleId: number }>();

  constructor(rules: AlertRule[]) {
    for (const rule of rules) this.add(rule);
  }

  get size(): number {
    return this.#rules.size;
  }

  rules(): AlertRule[] {
    return [...this.#rules.values()];
  }

  rule(id: number): AlertRule | undefined {
    return this.#rules.get(id);
  }

  add(rule: AlertRule): void {
    this.#rules.set(rule.id, rule);
    const list = this.#byMetric.get(rule.metric) ?? [];
    list.push(rule);
    this.#byMetric.set(rule.metric, list);
  }

  remove(id: number): void {
    const rule = this.#rules.get(id);
    if (rule === undefined) return;
    this.#rules.delete(id);
    const list = (this.#byMetric.get(rule.metric) ?? []).filter((r) => r.id !== id);
    if (list.length === 0) this.#byMetric.delete(rule.metric);
    else this.#byMetric.set(rule.metric, list);
    for (const [key, state] of this.#state) if (state.ruleId === id) this.#state.delete(key);
  }

  firing(): FiringAlert[] {
    const out: FiringAlert[] = [];
    for (const s of this.#state.values()) {
      if (s.firing) out.push({ ruleId: s.ruleId, sensor: s.sensor, metric: s.metric, since: s.since });
    }
    return out;
  }

  /** Evaluates the fresh readings of a commit, in order; returns the state changes. */
  evaluate(c: Committed, now: number): AlertEvent[] {
    if (this.#byMetric.size === 0) return [];
    const events: AlertEvent[] = [];
    for (let i = 0; i < c.batch.count; i++) {
      if (c.fresh[i] === 0) continue;
      const series = c.series[i]!;
      const rules = this.#byMetric.get(series.metric);
      if (rules === undefined) continue;
      const value = c.batch.value[i]!;
      const ts = c.batch.ts[i]!;
      for (const rule of rules) {
        if (rule.sensors.length > 0 && !rule.sensors.includes(series.sensor.name)) continue;
        const key = `${rule.id}:${series.id}`;
        const state = this.#state.get(key);
        const base = { ruleId: rule.id, rule: rule.text, sensor: series.sensor.name, metric: series.metric };
        if (holds(rule.op, value, rule.threshold)) {
          if (state === undefined) {
            const fresh = {
              since: ts,
              firing: false,
              sensor: base.sensor,
              metric: base.metric,
              ruleId: rule.id,
            };
            this.#state.set(key, fresh);
            if (rule.forMs === 0) {
              fresh.firing = true;
              events.push({ ...base, state: 'firing', value, ts, since: ts, at: now });
            }
          } else if (!state.firing) {
            if (ts < state.since) state.since = ts;
            if (ts - state.since >= rule.forMs) {
              state.firing = true;
              events.push({ ...base, state: 'firing', value, ts, since: state.since, at: now });
            }
          }
        } else if (state !== undefined) {
          this.#state.delete(key);
          if (state.firing) events.push({ ...base, state: 'resolved', value, ts, since: ts, at: now });
        }
      }
    }
    return events;
  }
}
