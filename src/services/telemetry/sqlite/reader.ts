import type Database from 'better-sqlite3';
import type { AlertEvent } from '../../../wire/telemetry.js';
import { type BucketRow, bucketColumns, planBuckets } from '../buckets.js';
import { MINUTE } from '../rollup.js';
import { type ReadingRow, toReadingsPage } from '../rows.js';
import type { AlertEventQuery, BucketColumns, BucketQuery, RawQuery, ReadingsPage } from '../store.js';
import { configureReader } from './schema.js';

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
    }) as ReadingRow[];
    return toReadingsPage(rows);
  }

  /** Buckets of `every` ms, from the rollup where it can answer (buckets.ts, planBuckets). */
  buckets(q: BucketQuery): BucketColumns {
    const plan = planBuckets(q);
    const rows: BucketRow[] = [];
    for (const [from, to] of plan.raw) this.#raw(q.series, from, to, q.every, rows);
    if (plan.minutes !== undefined) {
      const minuteRows = this.#statement(
        `SELECT (minute * ${MINUTE} / CAST(:every AS INTEGER)) * CAST(:every AS INTEGER) AS t, min(min) AS min, max(max) AS max, sum(sum) AS sum,
                sum(count) AS count
         FROM minutes WHERE series = :series AND minute >= :first AND minute < :end GROUP BY t ORDER BY t`,
      ).all({
        series: q.series,
        first: plan.minutes.first,
        end: plan.minutes.end,
        every: q.every,
      }) as BucketRow[];
      for (const row of minuteRows) rows.push(row);
    }
    return bucketColumns(rows, plan.minutes !== undefined);
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
