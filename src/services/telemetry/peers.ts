import { randomBytes } from 'node:crypto';
import { pack, unpack } from 'msgpackr';
import type { Logger } from 'pino';
import type { Bus, BusSubscription } from '../../bus/types.js';
import type { AlertEvent, AlertRule } from '../../wire/telemetry.js';
import { BatchBuilder } from './batch.js';
import type { Committed } from './ingest.js';
import { type Registry, SensorEntry, SeriesEntry } from './registry.js';
import type { ReceivedRow } from './store.js';

/**
 * Telemetry across nodes sharing a store (`--storage postgres`, spec §9.T.7.1), over the node's bus (NATS): each node
 * publishes the readings its commits stored (fresh ones only), the alert events it raised, and changes to
 * alert rules. Another node feeds those readings to its watchers (a watch on A sees readings reported through
 * B) and to its alert engine, so every node holds the whole `for` state of every rule (it survives any one
 * node); but an alert event is raised only by the node whose commit stored the reading that caused it, and
 * the unique key (sensor, seq) lets exactly one node store each reading, so each crossing fires once
 * however many nodes there are. The others learn the event from the bus and tell their watchers.
 *
 * Not published in the embedded mode (the in-process bus has no other node). Messages carry at most
 * MAX_ROWS readings (NATS refuses payloads above 1 MiB by default).
 */

const SUBJECT = {
  commits: 'telemetry.commits',
  alerts: 'telemetry.alerts',
  rules: 'telemetry.rules',
} as const;
const MAX_ROWS = 2000;
/** Series entries made for series this node's registry does not hold (bounded; rebuilt when full). */
const MAX_DETACHED = 10_000;

interface CommitMessage {
  from: string;
  /** id, sensor id, sensor name, metric, unit ('' for none) of each series in `row` order. */
  series: [number, number, string, string, string][];
  row: number[];
  seq: number[];
  ts: number[];
  recv: number[];
  value: number[];
  tags: [number, string][];
}

interface AlertMessage {
  from: string;
  events: AlertEvent[];
}

interface RuleMessage {
  from: string;
  added?: AlertRule;
  removed?: number;
}

export interface PeerHandlers {
  /** Readings another node stored. */
  commit(c: Committed): void;
  /** §9.T.7.3 The bus went down: messages from now on may be lost. */
  busDown?(): void;
  /** §9.T.7.3 The bus is back after being down since `since` (ms). */
  busBack?(since: number): void;
  /** Alert events another node raised. */
  alerts(events: AlertEvent[]): void;
  ruleAdded(rule: AlertRule): void;
  ruleRemoved(id: number): void;
}

export class TelemetryPeers {
  /** This node's tag on its messages, to skip its own (a subscriber also receives what it publishes). */
  readonly #self = randomBytes(8).toString('hex');
  readonly #bus: Bus;
  readonly #registry: Registry;
  readonly #log: Logger;
  readonly #subscriptions: BusSubscription[] = [];
  readonly #detached = new Map<number, SeriesEntry>();
  readonly #stopHealth: (() => void) | undefined;
  /** When the bus went down (ms), while it is. */
  #downSince: number | undefined;

  constructor(bus: Bus, registry: Registry, handlers: PeerHandlers, log: Logger) {
    this.#bus = bus;
    this.#registry = registry;
    this.#log = log;
    this.#stopHealth = bus.onHealth?.((health) => {
      if (!health.up) {
        if (this.#downSince === undefined) {
          this.#downSince = health.since;
          handlers.busDown?.();
        }
        return;
      }
      const since = this.#downSince;
      this.#downSince = undefined;
      if (since !== undefined) handlers.busBack?.(since);
    });
    const on = <T extends { from: string }>(subject: string, handle: (message: T) => void) => {
      this.#subscriptions.push(
        bus.subscribe(subject, (m) => {
          try {
            const message = unpack(m.data) as T;
            if (typeof message !== 'object' || message === null || typeof message.from !== 'string') {
              throw new Error('no sender');
            }
            if (message.from !== this.#self) handle(message);
          } catch (err) {
            this.#log.warn({ err, subject }, 'telemetry: a message from another node could not be read');
          }
        }),
      );
    };
    // Only nodes of this cluster publish here, but a message is checked before it touches any state: a
    // malformed one (another version, a bug, a stray publisher) is dropped with a warning.
    on<CommitMessage>(SUBJECT.commits, (m) => {
      if (!validCommit(m)) throw new Error('malformed commit message');
      handlers.commit(this.#committed(m));
    });
    on<AlertMessage>(SUBJECT.alerts, (m) => {
      if (!Array.isArray(m.events) || !m.events.every(validEvent)) throw new Error('malformed alert message');
      handlers.alerts(m.events);
    });
    on<RuleMessage>(SUBJECT.rules, (m) => {
      if (m.added !== undefined) {
        if (!validRule(m.added)) throw new Error('malformed rule message');
        handlers.ruleAdded(m.added);
      }
      if (m.removed !== undefined) {
        if (!Number.isSafeInteger(m.removed)) throw new Error('malformed rule message');
        handlers.ruleRemoved(m.removed);
      }
    });
  }

  /** Resolves once the subscriptions are in place on the server. */
  ready(): Promise<void> {
    return this.#bus.flush();
  }

  publishCommit(c: Committed): void {
    const { batch, fresh, series } = c;
    const tags = new Map(batch.tags);
    let message = this.#emptyCommit();
    const index = new Map<number, number>();
    for (let i = 0; i < batch.count; i++) {
      if (fresh[i] === 0) continue;
      const s = series[i]!;
      let k = index.get(s.id);
      if (k === undefined) {
        k = message.series.length;
        index.set(s.id, k);
        message.series.push([s.id, s.sensor.id, s.sensor.name, s.metric, s.unit ?? '']);
      }
      const tag = tags.get(i);
      if (tag !== undefined) message.tags.push([message.row.length, tag]);
      message.row.push(k);
      message.seq.push(batch.seq[i]!);
      message.ts.push(batch.ts[i]!);
      message.recv.push(batch.recv[i]!);
      message.value.push(batch.value[i]!);
      if (message.row.length === MAX_ROWS) {
        this.#publish(SUBJECT.commits, message);
        message = this.#emptyCommit();
        index.clear();
      }
    }
    if (message.row.length > 0) this.#publish(SUBJECT.commits, message);
  }

  publishAlerts(events: AlertEvent[]): void {
    this.#publish(SUBJECT.alerts, { from: this.#self, events } satisfies AlertMessage);
  }

  publishRule(change: { added?: AlertRule; removed?: number }): void {
    this.#publish(SUBJECT.rules, { from: this.#self, ...change } satisfies RuleMessage);
  }

  close(): void {
    this.#stopHealth?.();
    for (const s of this.#subscriptions.splice(0)) s.unsubscribe();
  }

  /** §9.T.7.3 Stored readings read back for a catch-up, as a commit of this node's shapes. */
  committedFromStore(rows: readonly ReceivedRow[]): Committed {
    const builder = new BatchBuilder(Math.max(1, rows.length));
    const series: SeriesEntry[] = [];
    for (const r of rows) {
      const s = this.#series(r.series, r.sensorId, r.sensor, r.metric, r.unit ?? '');
      // A seq below zero is the store's own numbering: the sensor sent none, and live readings show none.
      const seq = r.seq < 0 ? Number.NaN : r.seq;
      builder.add(s.sensor.id, s.id, seq, r.ts, r.recv, r.value, r.tags ?? undefined);
      series.push(s);
    }
    const batch = builder.take({ sensors: [], series: [] });
    return { batch, fresh: new Uint8Array(batch.count).fill(1), series, accepted: batch.count };
  }

  #emptyCommit(): CommitMessage {
    return { from: this.#self, series: [], row: [], seq: [], ts: [], recv: [], value: [], tags: [] };
  }

  #publish(subject: string, message: object): void {
    try {
      this.#bus.publish(subject, pack(message));
    } catch (err) {
      // Watchers and alert state on other nodes miss these readings; the store has them all.
      this.#log.warn({ err, subject }, 'telemetry: could not publish to other nodes');
    }
  }

  /** Another node's readings as a commit of this node's shapes (series from the registry where known). */
  #committed(m: CommitMessage): Committed {
    const builder = new BatchBuilder(Math.max(1, m.row.length));
    const tags = new Map(m.tags);
    const series: SeriesEntry[] = [];
    const entries = m.series.map(([id, sensorId, sensor, metric, unit]) =>
      this.#series(id, sensorId, sensor, metric, unit),
    );
    for (let i = 0; i < m.row.length; i++) {
      const s = entries[m.row[i]!]!;
      builder.add(s.sensor.id, s.id, m.seq[i]!, m.ts[i]!, m.recv[i]!, m.value[i]!, tags.get(i));
      series.push(s);
    }
    const batch = builder.take({ sensors: [], series: [] });
    return { batch, fresh: new Uint8Array(batch.count).fill(1), series, accepted: batch.count };
  }

  #series(id: number, sensorId: number, sensor: string, metric: string, unit: string): SeriesEntry {
    const known = this.#registry.seriesById(id) ?? this.#detached.get(id);
    if (known !== undefined) return known;
    if (this.#detached.size >= MAX_DETACHED) this.#detached.clear();
    const owner = new SensorEntry(sensorId, sensor, undefined, undefined, 0, 0);
    const entry = new SeriesEntry(id, owner, metric, unit === '' ? undefined : unit);
    this.#detached.set(id, entry);
    return entry;
  }
}

const isInt = (x: unknown): x is number => Number.isSafeInteger(x);
const isNum = (x: unknown): x is number => typeof x === 'number';
const isStr = (x: unknown): x is string => typeof x === 'string';

function validCommit(m: CommitMessage): boolean {
  const { series, row, seq, ts, recv, value, tags } = m;
  if (![series, row, seq, ts, recv, value, tags].every(Array.isArray)) return false;
  const n = row.length;
  if (n > MAX_ROWS || seq.length !== n || ts.length !== n || recv.length !== n || value.length !== n) {
    return false;
  }
  const seriesOk = series.every(
    (s) => Array.isArray(s) && isInt(s[0]) && isInt(s[1]) && isStr(s[2]) && isStr(s[3]) && isStr(s[4]),
  );
  if (!seriesOk) return false;
  for (let i = 0; i < n; i++) {
    const k = row[i];
    if (!isInt(k) || k < 0 || k >= series.length) return false;
    if (!isNum(seq[i]) || !isNum(ts[i]) || !isNum(recv[i]) || !isNum(value[i])) return false;
  }
  return tags.every((t) => Array.isArray(t) && isInt(t[0]) && t[0] >= 0 && t[0] < n && isStr(t[1]));
}

function validEvent(e: AlertEvent): boolean {
  return (
    typeof e === 'object' &&
    e !== null &&
    isInt(e.ruleId) &&
    isStr(e.rule) &&
    isStr(e.sensor) &&
    isStr(e.metric) &&
    (e.state === 'firing' || e.state === 'resolved') &&
    isNum(e.value) &&
    isNum(e.ts) &&
    isNum(e.since) &&
    isNum(e.at)
  );
}

function validRule(r: AlertRule): boolean {
  return (
    typeof r === 'object' &&
    r !== null &&
    isInt(r.id) &&
    isStr(r.name) &&
    isStr(r.metric) &&
    ['>', '>=', '<', '<=', '==', '!='].includes(r.op) &&
    isNum(r.threshold) &&
    isNum(r.forMs) &&
    Array.isArray(r.sensors) &&
    r.sensors.every(isStr) &&
    isStr(r.text) &&
    isNum(r.created)
  );
}
