import type Database from 'better-sqlite3';
import type { AlertEvent, AlertRule } from '../../../wire/telemetry.js';
import type { CommitBatch, CommitResult } from '../batch.js';
import { summarize } from '../rollup.js';
import { type RuleRow, ruleParams, toRule } from '../rows.js';
import type {
  DefinedSensor,
  MetricDefinition,
  SensorDefinition,
  SensorRow,
  SeriesRow,
  StoreSnapshot,
} from '../store.js';
import { configureWriter, MINUTE } from './schema.js';

/** Rows per multi-row INSERT: fewer calls into SQLite, same work per row. */
const CHUNK = 64;
const COLUMNS = 7;

const SERIES_COLUMNS = `id, sensor, metric, unit, count, first_ts AS firstTs, last_ts AS lastTs,
  last_value AS lastValue, last_recv AS lastRecv`;

type Params = (number | string | null)[];

/**
 * Everything that writes the SQLite store, run by the writer thread (writer-worker.ts), which owns the only
 * write connection. Synchronous by nature (better-sqlite3); that is why it lives off the event loop.
 */
export class SqliteWriter {
  readonly #db: Database.Database;
  readonly #insertMany: Database.Statement;
  readonly #insertOne: Database.Statement;
  readonly #insertOrIgnore: Database.Statement;
  readonly #maxSeq: Database.Statement;
  readonly #minSeq: Database.Statement;
  readonly #upsertSensor: Database.Statement;
  readonly #upsertSeries: Database.Statement;
  readonly #touchSensor: Database.Statement;
  readonly #seriesStats: Database.Statement;
  readonly #upsertMinute: Database.Statement;
  readonly #createSensor: Database.Statement;
  readonly #createSeries: Database.Statement;
  readonly #sensorByName: Database.Statement;
  readonly #seriesOf: Database.Statement;
  /**
   * Per sensor, a number at least as large as its largest stored seq. A reading above it cannot be a
   * duplicate, so it joins a multi-row INSERT; the others are inserted one by one with OR IGNORE, which tells
   * which ones were new. If this were ever wrong the plain INSERT fails, the transaction rolls back, and the
   * batch is written again the careful way.
   */
  readonly #watermark = new Map<number, number>();
  /** Per sensor, the next (negative) seq for readings sent without one. */
  readonly #nextAuto = new Map<number, number>();
  readonly #params = new Array<number | string | null>(CHUNK * COLUMNS);

  constructor(db: Database.Database) {
    this.#db = db;
    configureWriter(db);
    const row = '(?, ?, ?, ?, ?, ?, ?)';
    const insert = 'INSERT INTO readings (sensor, seq, series, ts, recv, value, tags) VALUES ';
    this.#insertMany = db.prepare(insert + Array(CHUNK).fill(row).join(', '));
    this.#insertOne = db.prepare(insert + row);
    this.#insertOrIgnore = db.prepare(
      `INSERT OR IGNORE INTO readings (sensor, seq, series, ts, recv, value, tags) VALUES ${row}`,
    );
    this.#maxSeq = db.prepare('SELECT max(seq) FROM readings WHERE sensor = ?').pluck();
    this.#minSeq = db.prepare('SELECT min(seq) FROM readings WHERE sensor = ?').pluck();
    this.#upsertSensor = db.prepare(
      `INSERT INTO sensors (id, name, kind, location, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET kind = coalesce(excluded.kind, kind), location = coalesce(excluded.location, location)`,
    );
    this.#upsertSeries = db.prepare(
      `INSERT INTO series (id, sensor, metric, unit) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET unit = coalesce(excluded.unit, unit)`,
    );
    this.#touchSensor = db.prepare('UPDATE sensors SET last_seen = max(last_seen, ?) WHERE id = ?');
    // SET expressions all see the row as it was, so last_* move together when the batch holds a newer reading.
    this.#seriesStats = db.prepare(
      `UPDATE series SET
         count = count + :n,
         first_ts = CASE WHEN first_ts IS NULL OR :first < first_ts THEN :first ELSE first_ts END,
         last_value = CASE WHEN last_ts IS NULL OR :lastTs >= last_ts THEN :lastValue ELSE last_value END,
         last_recv = CASE WHEN last_ts IS NULL OR :lastTs >= last_ts THEN :lastRecv ELSE last_recv END,
         last_ts = CASE WHEN last_ts IS NULL OR :lastTs >= last_ts THEN :lastTs ELSE last_ts END
       WHERE id = :id`,
    );
    this.#createSensor = db.prepare(
      `INSERT INTO sensors (name, kind, location, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (name) DO NOTHING`,
    );
    this.#createSeries = db.prepare(
      'INSERT INTO series (sensor, metric, unit) VALUES (?, ?, ?) ON CONFLICT (sensor, metric) DO NOTHING',
    );
    this.#sensorByName = db.prepare(
      'SELECT id, name, kind, location, first_seen AS firstSeen, last_seen AS lastSeen FROM sensors WHERE name = ?',
    );
    this.#seriesOf = db.prepare(`SELECT ${SERIES_COLUMNS} FROM series WHERE sensor = ? ORDER BY id`);
    this.#upsertMinute = db.prepare(
      `INSERT INTO minutes (series, minute, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (series, minute) DO UPDATE SET
         min = min(min, excluded.min), max = max(max, excluded.max),
         sum = sum + excluded.sum, count = count + excluded.count`,
    );
  }

  /**
   * Get-or-create by name (TelemetryStore.define): ids come from SQLite's rowids. One transaction taken
   * with BEGIN IMMEDIATE, so two writers on one file (a restart overlapping, a test) wait rather than fail.
   */
  define(sensor: SensorDefinition, metrics: MetricDefinition[]): DefinedSensor {
    return this.#db
      .transaction(() => {
        this.#createSensor.run(sensor.name, sensor.kind, sensor.location, sensor.firstSeen, sensor.firstSeen);
        const row = this.#sensorByName.get(sensor.name) as SensorRow;
        for (const m of metrics) this.#createSeries.run(row.id, m.metric, m.unit);
        return { sensor: row, series: this.#seriesOf.all(row.id) as SeriesRow[] };
      })
      .immediate();
  }

  snapshot(): StoreSnapshot {
    const sensors = this.#db
      .prepare(
        'SELECT id, name, kind, location, first_seen AS firstSeen, last_seen AS lastSeen FROM sensors ORDER BY id',
      )
      .all() as SensorRow[];
    const series = this.#db.prepare(`SELECT ${SERIES_COLUMNS} FROM series ORDER BY id`).all() as SeriesRow[];
    const rules = (this.#db.prepare('SELECT * FROM alert_rules ORDER BY id').all() as RuleRow[]).map(toRule);
    return { sensors, series, rules };
  }

  /**
   * One transaction per batch, begun IMMEDIATE: a second writer on the same file (a restart overlapping the
   * old process) then waits (busy_timeout) instead of failing on the read-to-write upgrade.
   */
  commit(batch: CommitBatch): CommitResult {
    try {
      return this.#db.transaction(() => this.#write(batch, false)).immediate();
    } catch (err) {
      // The watermarks may have moved inside the rolled-back transaction: forget them.
      this.#watermark.clear();
      this.#nextAuto.clear();
      if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw err;
      return this.#db.transaction(() => this.#write(batch, true)).immediate();
    }
  }

  #write(b: CommitBatch, careful: boolean): CommitResult {
    for (const s of b.defs.sensors) {
      this.#upsertSensor.run(s.id, s.name, s.kind, s.location, s.firstSeen, s.firstSeen);
    }
    for (const s of b.defs.series) this.#upsertSeries.run(s.id, s.sensor, s.metric, s.unit);
    const n = b.count;
    const fresh = new Uint8Array(n);
    // A copy: the numbers given below are not kept if this transaction rolls back and is tried again.
    const seqs = b.seq.slice();
    const tags = new Map<number, string>(b.tags);
    let assigned: Float64Array | undefined;
    // Rows that cannot be duplicates, in multi-row INSERTs.
    const sure = new Int32Array(n);
    let sureCount = 0;
    const maybe: number[] = [];
    for (let i = 0; i < n; i++) {
      const sensor = b.sensor[i]!;
      const seq = seqs[i]!;
      if (Number.isNaN(seq)) {
        assigned ??= new Float64Array(n).fill(Number.NaN);
        assigned[i] = seqs[i] = this.#autoSeq(sensor);
        sure[sureCount++] = i;
      } else if (!careful && seq > this.#watermarkOf(sensor)) {
        this.#watermark.set(sensor, seq);
        sure[sureCount++] = i;
      } else {
        maybe.push(i);
      }
    }
    const params = this.#params;
    let k = 0;
    for (; k + CHUNK <= sureCount; k += CHUNK) {
      for (let j = 0; j < CHUNK; j++) this.#bind(params, j * COLUMNS, b, seqs, sure[k + j]!, tags);
      this.#insertMany.run(params);
    }
    const one = new Array<number | string | null>(COLUMNS);
    for (; k < sureCount; k++) {
      this.#bind(one, 0, b, seqs, sure[k]!, tags);
      this.#insertOne.run(one);
    }
    for (let j = 0; j < sureCount; j++) fresh[sure[j]!] = 1;
    for (const i of maybe) {
      this.#bind(one, 0, b, seqs, i, tags);
      if (this.#insertOrIgnore.run(one).changes > 0) {
        fresh[i] = 1;
        const sensor = b.sensor[i]!;
        if (seqs[i]! > this.#watermarkOf(sensor)) this.#watermark.set(sensor, seqs[i]!);
      }
    }
    this.#rollup(b, fresh);
    return { fresh, assigned };
  }

  #bind(
    params: Params,
    at: number,
    b: CommitBatch,
    seqs: Float64Array,
    i: number,
    tags: Map<number, string>,
  ): void {
    params[at] = b.sensor[i]!;
    params[at + 1] = seqs[i]!;
    params[at + 2] = b.series[i]!;
    params[at + 3] = b.ts[i]!;
    params[at + 4] = b.recv[i]!;
    params[at + 5] = b.value[i]!;
    params[at + 6] = tags.size === 0 ? null : (tags.get(i) ?? null);
  }

  /** Per-minute rollups, series statistics and sensors' last-seen times, from the fresh rows only. */
  #rollup(b: CommitBatch, fresh: Uint8Array): void {
    const { minutes, stats, seen } = summarize(b, fresh);
    for (const m of minutes) this.#upsertMinute.run(m.series, m.minute, m.min, m.max, m.sum, m.n);
    for (const [id, s] of stats) {
      this.#seriesStats.run({
        id,
        n: s.n,
        first: s.first,
        lastTs: s.lastTs,
        lastValue: s.lastValue,
        lastRecv: s.lastRecv,
      });
    }
    for (const [sensor, at] of seen) this.#touchSensor.run(at, sensor);
  }

  #watermarkOf(sensor: number): number {
    let mark = this.#watermark.get(sensor);
    if (mark === undefined) {
      mark = (this.#maxSeq.get(sensor) as number | null) ?? -1;
      this.#watermark.set(sensor, mark);
    }
    return mark;
  }

  #autoSeq(sensor: number): number {
    let next = this.#nextAuto.get(sensor);
    if (next === undefined) {
      const min = this.#minSeq.get(sensor) as number | null;
      next = min !== null && min < 0 ? min - 1 : -1;
    }
    this.#nextAuto.set(sensor, next - 1);
    return next;
  }

  // ---- alerts -------------------------------------------------------------------------------------

  saveRule(rule: Omit<AlertRule, 'id'>): number {
    const info = this.#db
      .prepare(
        'INSERT INTO alert_rules (name, metric, op, threshold, for_ms, sensors, text, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(...ruleParams(rule));
    return Number(info.lastInsertRowid);
  }

  deleteRule(id: number): boolean {
    return this.#db.prepare('DELETE FROM alert_rules WHERE id = ?').run(id).changes > 0;
  }

  appendAlertEvents(events: AlertEvent[]): void {
    const insert = this.#db.prepare(
      'INSERT INTO alert_events (rule_id, rule, sensor, metric, state, value, ts, since, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#db.transaction(() => {
      for (const e of events) {
        insert.run(e.ruleId, e.rule, e.sensor, e.metric, e.state, e.value, e.ts, e.since, e.at);
      }
    })();
  }

  // ---- retention ----------------------------------------------------------------------------------

  /** Series ids that may hold readings older than `cutoff`. */
  seriesOlderThan(cutoff: number): number[] {
    return this.#db
      .prepare('SELECT id FROM series WHERE first_ts IS NOT NULL AND first_ts < ?')
      .pluck()
      .all(cutoff) as number[];
  }

  /**
   * Deletes up to `limit` readings of one series older than `cutoff`, with their whole minutes of rollup, in
   * one short transaction. Returns how many readings went (fewer than `limit`: the series is done).
   */
  pruneChunk(series: number, cutoff: number, limit: number): number {
    return this.#db.transaction(() => {
      const deleted = this.#db
        .prepare(
          `DELETE FROM readings WHERE (sensor, seq) IN
             (SELECT sensor, seq FROM readings WHERE series = ? AND ts < ? ORDER BY ts LIMIT ?)`,
        )
        .run(series, cutoff, limit).changes;
      const first = this.#db
        .prepare('SELECT ts FROM readings WHERE series = ? ORDER BY ts LIMIT 1')
        .pluck()
        .get(series) as number | undefined;
      this.#db
        .prepare('UPDATE series SET count = max(0, count - ?), first_ts = ? WHERE id = ?')
        .run(deleted, first ?? null, series);
      if (deleted < limit) {
        // The readings are gone up to the cutoff: so are the minutes that lie wholly before it.
        this.#db
          .prepare('DELETE FROM minutes WHERE series = ? AND minute < ?')
          .run(series, Math.floor(cutoff / MINUTE));
      }
      return deleted;
    })();
  }

  pruneAlertEvents(cutoff: number): number {
    return this.#db.prepare('DELETE FROM alert_events WHERE at < ?').run(cutoff).changes;
  }

  checkpoint(): void {
    this.#db.pragma('wal_checkpoint(TRUNCATE)');
  }

  close(): void {
    this.#db.close();
  }
}
