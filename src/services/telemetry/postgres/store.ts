import { NexoError } from '../../../errors.js';
import { migrate } from '../../../storage/postgres/migrations.js';
import type { Postgres } from '../../../storage/postgres/postgres.js';
import type { AlertEvent, AlertRule } from '../../../wire/telemetry.js';
import type { CommitBatch, CommitResult } from '../batch.js';
import { type BucketRow, bucketColumns, planBuckets } from '../buckets.js';
import { MINUTE } from '../rollup.js';
import { type ReadingRow, type RuleRow, ruleParams, toReadingsPage, toRule } from '../rows.js';
import type {
  AlertEventQuery,
  BucketColumns,
  BucketQuery,
  DefinedSensor,
  MetricDefinition,
  PruneResult,
  RawQuery,
  ReadingsPage,
  ReceivedQuery,
  ReceivedRow,
  SensorDefinition,
  SensorRow,
  SeriesRow,
  StoreSnapshot,
  TelemetryStore,
} from '../store.js';
import { PRUNE_CHUNK, pruneChunk } from './prune.js';
import { MIGRATIONS } from './schema.js';
import { writeBatch } from './write.js';

// bigint columns come back as strings from pg; cast to float8 (exact below 2^53, which ms times are).
const SENSOR_COLUMNS =
  'id, name, kind, location, first_seen::float8 AS "firstSeen", last_seen::float8 AS "lastSeen"';
const SERIES_COLUMNS = `id, sensor, metric, unit, count::float8 AS count, first_ts::float8 AS "firstTs",
  last_ts::float8 AS "lastTs", last_value AS "lastValue", last_recv::float8 AS "lastRecv"`;

/**
 * The shared telemetry store: PostgreSQL, for any number of nodes at once (selected by `--storage postgres`;
 * the node gives it its pool). Each commit is one transaction of a few statements whatever its size: the
 * readings in one multi-row INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING RETURNING, which says which
 * were new (the unique key (sensor, seq) decides, across nodes), then the rollup minutes, series statistics
 * and last-seen times computed from the new ones. A report is acknowledged after COMMIT returns.
 *
 * Every write is safe to run again (the pool retries a transaction that met a dropped connection): a
 * commit that did land before the drop finds its readings present and reports them as duplicates.
 */
export class PostgresTelemetryStore implements TelemetryStore {
  readonly #pg: Postgres;
  #closed = false;

  constructor(pg: Postgres) {
    this.#pg = pg;
  }

  async open(): Promise<StoreSnapshot> {
    return this.#run(async () => {
      await migrate(this.#pg, { component: 'telemetry', migrations: MIGRATIONS });
      const sensors = await this.#pg.query<SensorRow>(
        `SELECT ${SENSOR_COLUMNS} FROM telemetry_sensors ORDER BY id`,
      );
      const series = await this.#pg.query<SeriesRow>(
        `SELECT ${SERIES_COLUMNS} FROM telemetry_series ORDER BY id`,
      );
      const rules = await this.#pg.query<RuleRow>(
        `SELECT id, name, metric, op, threshold, for_ms::float8 AS for_ms, sensors, text, created::float8 AS created
         FROM telemetry_alert_rules ORDER BY id`,
      );
      return { sensors: sensors.rows, series: series.rows, rules: rules.rows.map(toRule) };
    });
  }

  async define(sensor: SensorDefinition, metrics: MetricDefinition[]): Promise<DefinedSensor> {
    return this.#run(() =>
      this.#pg.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO telemetry_sensors (name, kind, location, first_seen, last_seen) VALUES ($1, $2, $3, $4, $4)
           ON CONFLICT (name) DO NOTHING`,
          [sensor.name, sensor.kind, sensor.location, sensor.firstSeen],
        );
        const row = (
          await tx.query<SensorRow>(`SELECT ${SENSOR_COLUMNS} FROM telemetry_sensors WHERE name = $1`, [
            sensor.name,
          ])
        ).rows[0]!;
        if (metrics.length > 0) {
          await tx.query(
            `INSERT INTO telemetry_series (sensor, metric, unit)
             SELECT $1, m, u FROM unnest($2::text[], $3::text[]) AS x(m, u) ORDER BY m
             ON CONFLICT (sensor, metric) DO NOTHING`,
            [row.id, metrics.map((m) => m.metric), metrics.map((m) => m.unit)],
          );
        }
        const series = await tx.query<SeriesRow>(
          `SELECT ${SERIES_COLUMNS} FROM telemetry_series WHERE sensor = $1 ORDER BY id`,
          [row.id],
        );
        return { sensor: row, series: series.rows };
      }),
    );
  }

  async findSensors(names: readonly string[]): Promise<DefinedSensor[]> {
    if (names.length === 0) return [];
    return this.#run(async () => {
      const sensors = await this.#pg.query<SensorRow>(
        `SELECT ${SENSOR_COLUMNS} FROM telemetry_sensors WHERE name = ANY($1::text[]) ORDER BY id`,
        [names],
      );
      return this.#withSeries(sensors.rows);
    });
  }

  async listSensors(after: string | undefined, limit: number): Promise<DefinedSensor[]> {
    return this.#run(async () => {
      // COLLATE "C": byte order of UTF-8, which is code point order; the registry sorts by code unit, the
      // same for every name outside the astral planes (and names are compared, never mixed, across them).
      const sensors = await this.#pg.query<SensorRow>(
        `SELECT ${SENSOR_COLUMNS} FROM telemetry_sensors
         WHERE $1::text IS NULL OR name COLLATE "C" > $1::text ORDER BY name COLLATE "C" LIMIT $2`,
        [after ?? null, limit],
      );
      return this.#withSeries(sensors.rows);
    });
  }

  /** The sensors with every series of each, as stored. */
  async #withSeries(sensors: SensorRow[]): Promise<DefinedSensor[]> {
    if (sensors.length === 0) return [];
    const series = await this.#pg.query<SeriesRow>(
      `SELECT ${SERIES_COLUMNS} FROM telemetry_series WHERE sensor = ANY($1::bigint[]) ORDER BY id`,
      [sensors.map((r) => r.id)],
    );
    return sensors.map((sensor) => ({
      sensor,
      series: series.rows.filter((r) => Number(r.sensor) === Number(sensor.id)),
    }));
  }

  async commit(batch: CommitBatch): Promise<CommitResult> {
    return this.#run(() => this.#pg.transaction((tx) => writeBatch(tx, batch)));
  }

  async receivedBetween(q: ReceivedQuery): Promise<{ rows: ReceivedRow[]; total: number }> {
    return this.#run(async () => {
      // Per series, a range of the (series, ts, seq) index from minTs, filtered by receive time: no index on
      // recv is kept for this rare query (every commit would pay for it).
      const from = `FROM telemetry_series s JOIN telemetry_sensors n ON n.id = s.sensor
        CROSS JOIN LATERAL (SELECT seq, ts, recv, value, tags FROM telemetry_readings r
          WHERE r.series = s.id AND r.ts >= $3 AND r.recv >= $1 AND r.recv <= $2) r`;
      const values = [ms(q.from), ms(q.to), ms(q.minTs)];
      const { rows } = await this.#pg.query<ReceivedRow>(
        `SELECT s.id AS series, s.sensor AS "sensorId", n.name AS sensor, s.metric, s.unit,
                r.seq::float8 AS seq, r.ts::float8 AS ts, r.recv::float8 AS recv, r.value, r.tags
         ${from} ORDER BY r.recv, s.id, r.ts, r.seq LIMIT $4`,
        [...values, q.limit],
      );
      let total = rows.length;
      if (total === q.limit) {
        const counted = await this.#pg.query<{ n: number }>(`SELECT count(*)::float8 AS n ${from}`, values);
        total = counted.rows[0]?.n ?? total;
      }
      return {
        rows: rows.map((r) => ({ ...r, series: Number(r.series), sensorId: Number(r.sensorId) })),
        total,
      };
    });
  }

  async readings(q: RawQuery): Promise<ReadingsPage> {
    return this.#run(async () => {
      const asc = q.order === 'asc';
      const values: unknown[] = [q.series, ms(q.from), ms(q.to), q.limit];
      let after = '';
      if (q.after !== undefined) {
        values.push(q.after.ts, q.after.seq);
        after = `AND (ts, seq) ${asc ? '>' : '<'} ($5, $6)`;
      }
      const dir = asc ? 'ASC' : 'DESC';
      const { rows } = await this.#pg.query<ReadingRow>(
        `SELECT ts::float8 AS ts, value, recv::float8 AS recv, seq::float8 AS seq, tags FROM telemetry_readings
         WHERE series = $1 AND ts >= $2 AND ts < $3 ${after} ORDER BY ts ${dir}, seq ${dir} LIMIT $4`,
        values,
      );
      return toReadingsPage(rows);
    });
  }

  async buckets(q: BucketQuery): Promise<BucketColumns> {
    return this.#run(async () => {
      const plan = planBuckets(q);
      const rows: BucketRow[] = [];
      for (const [from, to] of plan.raw) {
        if (to <= from) continue;
        const result = await this.#pg.query<BucketRow>(
          `SELECT ((ts / $4) * $4)::float8 AS t, min(value) AS min, max(value) AS max, sum(value) AS sum,
                  count(*)::float8 AS count
           FROM telemetry_readings WHERE series = $1 AND ts >= $2 AND ts < $3 GROUP BY 1`,
          [q.series, ms(from), ms(to), q.every],
        );
        rows.push(...result.rows);
      }
      if (plan.minutes !== undefined) {
        const result = await this.#pg.query<BucketRow>(
          `SELECT ((minute * ${MINUTE} / $4) * $4)::float8 AS t, min(min) AS min, max(max) AS max, sum(sum) AS sum,
                  sum(count)::float8 AS count
           FROM telemetry_minutes WHERE series = $1 AND minute >= $2 AND minute < $3 GROUP BY 1`,
          [q.series, plan.minutes.first, plan.minutes.end, q.every],
        );
        rows.push(...result.rows);
      }
      return bucketColumns(rows, plan.minutes !== undefined);
    });
  }

  async saveRule(rule: Omit<AlertRule, 'id'>): Promise<number> {
    return this.#run(async () => {
      // Not retried: a retry after a lost COMMIT would save the rule twice.
      const { rows } = await this.#pg.query<{ id: number }>(
        `INSERT INTO telemetry_alert_rules (name, metric, op, threshold, for_ms, sensors, text, created)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
        ruleParams(rule),
        { retry: false },
      );
      return rows[0]!.id;
    });
  }

  async deleteRule(id: number): Promise<boolean> {
    return this.#run(async () => {
      const result = await this.#pg.query('DELETE FROM telemetry_alert_rules WHERE id = $1', [id]);
      return (result.rowCount ?? 0) > 0;
    });
  }

  async appendAlertEvents(events: AlertEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.#run(async () => {
      const col = <K extends keyof AlertEvent>(k: K) => events.map((e) => e[k]);
      await this.#pg.query(
        `INSERT INTO telemetry_alert_events (rule_id, rule, sensor, metric, state, value, ts, since, at)
         SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[],
                              $7::bigint[], $8::bigint[], $9::bigint[])`,
        [
          col('ruleId'),
          col('rule'),
          col('sensor'),
          col('metric'),
          col('state'),
          col('value'),
          col('ts'),
          col('since'),
          col('at'),
        ],
        { retry: false },
      );
    });
  }

  async alertEvents(q: AlertEventQuery): Promise<AlertEvent[]> {
    return this.#run(async () => {
      const values: unknown[] = [ms(q.from), ms(q.to), q.limit];
      const filters = ['at >= $1', 'at < $2'];
      if (q.sensor !== undefined) {
        values.push(q.sensor);
        filters.push(`sensor = $${values.length}`);
      }
      if (q.ruleId !== undefined) {
        values.push(q.ruleId);
        filters.push(`rule_id = $${values.length}`);
      }
      const { rows } = await this.#pg.query<AlertEvent>(
        `SELECT id::float8 AS id, rule_id AS "ruleId", rule, sensor, metric, state, value, ts::float8 AS ts,
                since::float8 AS since, at::float8 AS at
         FROM telemetry_alert_events WHERE ${filters.join(' AND ')} ORDER BY at DESC, id DESC LIMIT $3`,
        values,
      );
      return rows;
    });
  }

  async prune(cutoff: number): Promise<PruneResult> {
    return this.#run(async () => {
      const deleted = new Map<number, number>();
      let total = 0;
      const { rows } = await this.#pg.query<{ id: number }>(
        'SELECT id FROM telemetry_series WHERE first_ts IS NOT NULL AND first_ts < $1 ORDER BY id',
        [ms(cutoff)],
      );
      for (const { id } of rows) {
        for (let n = PRUNE_CHUNK; n === PRUNE_CHUNK; ) {
          this.#check();
          n = await this.#pg.transaction((tx) => pruneChunk(tx, id, ms(cutoff)));
          if (n > 0) deleted.set(id, (deleted.get(id) ?? 0) + n);
          total += n;
        }
      }
      await this.#pg.query('DELETE FROM telemetry_alert_events WHERE at < $1', [ms(cutoff)]);
      return { deleted, total };
    });
  }

  /** The pool is the node's: closing the store only stops this store's use of it. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #check(): void {
    if (this.#closed) throw new NexoError('TELEMETRY_STORAGE', 'the telemetry store is closed');
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    this.#check();
    try {
      return await fn();
    } catch (err) {
      if (err instanceof NexoError) throw err; // STORAGE_UNAVAILABLE (retryable) passes as it is
      throw new NexoError('TELEMETRY_STORAGE', `the telemetry store failed: ${(err as Error).message}`, {
        ...((err as { code?: string }).code === undefined ? {} : { code: (err as { code: string }).code }),
      });
    }
  }
}

/** A query bound in ms as a bigint: readings' times are whole, so ts >= x and ts < x hold as for ceil(x). */
function ms(x: number): number {
  return Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.ceil(x)));
}
