import type Database from 'better-sqlite3';
import type { AlertEvent, StoredReading } from '../model.js';
import type { AlertEventQuery, BucketColumns, BucketQuery, RawQuery, ReadingsPage } from '../store.js';
import { configureReader, MINUTE } from './schema.js';

interface BucketRow {
  t: number;
  min: number;
  max: number;
  sum: number;
  count: number;
}

/**
 * Queries, run in reader threads (reader-worker.ts) on read-only connections: WAL lets them read a
 * consistent snapshot while the writer commits.
 */
export class SqliteReader {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(db: Database.Database) {
    this.#db = db;
    configureReader(db);
  }

  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  readings(q: RawQuery): ReadingsPage {
    const asc = q.order === 'asc';
    const after =
      q.after === undefined
        ? ''
        : asc
          ? 'AND (ts, seq) > (:afterTs, :afterSeq)'
          : 'AND (ts, seq) < (:afterTs, :afterSeq)';
    const sql = `SELECT ts, value, recv, seq, tags FROM readings
      WHERE series = :series AND ts >= :from AND ts < :to ${after}
      ORDER BY ts ${asc ? 'ASC' : 'DESC'}, seq ${asc ? 'ASC' : 'DESC'} LIMIT :limit`;
    const rows = this.#statement(sql).all({
      series: q.series,
      from: q.from,
      to: q.to,
      limit: q.limit,
      ...(q.after === undefined ? {} : { afterTs: q.after.ts, afterSeq: q.after.seq }),
    }) as { ts: number; value: number; recv: number; seq: number; tags: string | null }[];
    const readings = rows.map((r) => {
      const reading: StoredReading = { ts: r.ts, value: r.value, recv: r.recv };
      if (r.seq >= 0) reading.seq = r.seq; // below zero: numbered by the node, meaningless to the sensor
      if (r.tags !== null) reading.tags = JSON.parse(r.tags) as Record<string, string>;
      return reading;
    });
    const last = rows.at(-1);
    return { readings, last: last === undefined ? undefined : { ts: last.ts, seq: last.seq } };
  }

  /**
   * Buckets of `every` ms. When `every` is a whole number of minutes, the minutes wholly inside the range come
   * from the rollup and only the partial minutes at its ends from raw readings, so the answer is exact and
   * costs about one row per minute instead of one per reading.
   */
  buckets(q: BucketQuery): BucketColumns {
    const rows: BucketRow[] = [];
    let rollup = false;
    if (q.every % MINUTE === 0) {
      const firstMinute = Math.ceil(q.from / MINUTE);
      const endMinute = Math.floor(q.to / MINUTE);
      if (endMinute > firstMinute) {
        rollup = true;
        this.#raw(q.series, q.from, firstMinute * MINUTE, q.every, rows);
        const minuteRows = this.#statement(
          `SELECT (minute * ${MINUTE} / CAST(:every AS INTEGER)) * CAST(:every AS INTEGER) AS t, min(min) AS min, max(max) AS max, sum(sum) AS sum,
                  sum(count) AS count
           FROM minutes WHERE series = :series AND minute >= :first AND minute < :end GROUP BY t ORDER BY t`,
        ).all({ series: q.series, first: firstMinute, end: endMinute, every: q.every }) as BucketRow[];
        for (const row of minuteRows) rows.push(row);
        this.#raw(q.series, endMinute * MINUTE, q.to, q.every, rows);
      }
    }
    if (!rollup) this.#raw(q.series, q.from, q.to, q.every, rows);
    return toColumns(mergeBuckets(rows), rollup);
  }

  #raw(series: number, from: number, to: number, every: number, out: BucketRow[]): void {
    if (to <= from) return;
    const rows = this.#statement(
      `SELECT (ts / CAST(:every AS INTEGER)) * CAST(:every AS INTEGER) AS t, min(value) AS min, max(value) AS max, sum(value) AS sum, count(*) AS count
       FROM readings WHERE series = :series AND ts >= :from AND ts < :to GROUP BY t ORDER BY t`,
    ).all({ series, from, to, every }) as BucketRow[];
    for (const row of rows) out.push(row);
  }

  alertEvents(q: AlertEventQuery): AlertEvent[] {
    const filters = ['at >= :from', 'at < :to'];
    if (q.sensor !== undefined) filters.push('sensor = :sensor');
    if (q.ruleId !== undefined) filters.push('rule_id = :ruleId');
    const rows = this.#statement(
      `SELECT id, rule_id AS ruleId, rule, sensor, metric, state, value, ts, since, at FROM alert_events
       WHERE ${filters.join(' AND ')} ORDER BY at DESC, id DESC LIMIT :limit`,
    ).all({
      from: q.from,
      to: q.to,
      limit: q.limit,
      ...(q.sensor === undefined ? {} : { sensor: q.sensor }),
      ...(q.ruleId === undefined ? {} : { ruleId: q.ruleId }),
    }) as AlertEvent[];
    return rows;
  }

  close(): void {
    this.#db.close();
  }
}

/** Rows sorted by t, with rows of the same bucket (an edge minute and the rollup) combined. */
function mergeBuckets(rows: BucketRow[]): BucketRow[] {
  rows.sort((a, b) => a.t - b.t);
  const out: BucketRow[] = [];
  for (const row of rows) {
    const last = out.at(-1);
    if (last !== undefined && last.t === row.t) {
      last.min = Math.min(last.min, row.min);
      last.max = Math.max(last.max, row.max);
      last.sum += row.sum;
      last.count += row.count;
    } else out.push({ ...row });
  }
  return out;
}

function toColumns(rows: BucketRow[], rollup: boolean): BucketColumns {
  const n = rows.length;
  const columns: BucketColumns = {
    t: new Float64Array(n),
    min: new Float64Array(n),
    max: new Float64Array(n),
    sum: new Float64Array(n),
    count: new Float64Array(n),
    rollup,
  };
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    columns.t[i] = r.t;
    columns.min[i] = r.min;
    columns.max[i] = r.max;
    columns.sum[i] = r.sum;
    columns.count[i] = r.count;
  }
  return columns;
}
