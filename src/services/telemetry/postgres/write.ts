import type { Queryable } from '../../../storage/postgres/postgres.js';
import type { CommitBatch, CommitResult, Definitions } from '../batch.js';
import { summarize } from '../rollup.js';

/**
 * One commit of readings to PostgreSQL, inside its transaction (postgres/store.ts): definitions updated, the
 * readings inserted in one statement that says which were new, then the rollup minutes, series statistics
 * and last-seen times of the new ones.
 */

async function updateDefinitions(tx: Queryable, defs: Definitions): Promise<void> {
  for (const s of defs.sensors) {
    await tx.query(
      'UPDATE telemetry_sensors SET kind = coalesce($2, kind), location = coalesce($3, location) WHERE id = $1',
      [s.id, s.kind, s.location],
    );
  }
  for (const s of defs.series) {
    await tx.query('UPDATE telemetry_series SET unit = coalesce($2, unit) WHERE id = $1', [s.id, s.unit]);
  }
}

/** One commit, inside its transaction. */
export async function writeBatch(tx: Queryable, b: CommitBatch): Promise<CommitResult> {
  await updateDefinitions(tx, b.defs);
  const n = b.count;
  const seqs = b.seq.slice();
  let assigned: Float64Array | undefined;
  let auto = 0;
  for (let i = 0; i < n; i++) if (Number.isNaN(seqs[i]!)) auto++;
  if (auto > 0) {
    const { rows } = await tx.query<{ seq: number }>(
      "SELECT (-nextval('telemetry_auto_seq'))::float8 AS seq FROM generate_series(1, $1)",
      [auto],
    );
    assigned = new Float64Array(n).fill(Number.NaN);
    let k = 0;
    for (let i = 0; i < n; i++) if (Number.isNaN(seqs[i]!)) assigned[i] = seqs[i] = rows[k++]!.seq;
  }
  // In (sensor, seq) order, so two nodes inserting overlapping keys wait on each other rather than deadlock.
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((x, y) => b.sensor[x]! - b.sensor[y]! || seqs[x]! - seqs[y]! || x - y);
  const tags = new Map(b.tags);
  const col = <T>(f: (i: number) => T) => order.map(f);
  const { rows } = await tx.query<{ sensor: number; seq: number }>(
    `INSERT INTO telemetry_readings (sensor, seq, series, ts, recv, value, tags)
     SELECT * FROM unnest($1::int[], $2::bigint[], $3::int[], $4::bigint[], $5::bigint[], $6::float8[], $7::text[])
     ON CONFLICT DO NOTHING RETURNING sensor, seq::float8 AS seq`,
    [
      col((i) => b.sensor[i]!),
      col((i) => seqs[i]!),
      col((i) => b.series[i]!),
      col((i) => b.ts[i]!),
      col((i) => b.recv[i]!),
      col((i) => b.value[i]!),
      col((i) => tags.get(i) ?? null),
    ],
  );
  // The first row of each inserted key is the one stored (the later ones met it and were skipped).
  const inserted = new Set(rows.map((r) => `${r.sensor}:${r.seq}`));
  const fresh = new Uint8Array(n);
  for (const i of order) {
    const key = `${b.sensor[i]}:${seqs[i]}`;
    if (inserted.delete(key)) fresh[i] = 1;
  }
  await writeSummary(tx, b, fresh);
  return { fresh, assigned };
}

async function writeSummary(tx: Queryable, b: CommitBatch, fresh: Uint8Array): Promise<void> {
  const { minutes, stats, seen } = summarize(b, fresh);
  if (minutes.length > 0) {
    await tx.query(
      `INSERT INTO telemetry_minutes AS m (series, minute, min, max, sum, count)
       SELECT * FROM unnest($1::int[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::bigint[])
       ON CONFLICT (series, minute) DO UPDATE SET
         min = least(m.min, excluded.min), max = greatest(m.max, excluded.max),
         sum = m.sum + excluded.sum, count = m.count + excluded.count`,
      [
        minutes.map((m) => m.series),
        minutes.map((m) => m.minute),
        minutes.map((m) => m.min),
        minutes.map((m) => m.max),
        minutes.map((m) => m.sum),
        minutes.map((m) => m.n),
      ],
    );
  }
  if (stats.size > 0) {
    const s = [...stats];
    // SET expressions all see the row as it was, so last_* move together when the batch holds a newer reading.
    await tx.query(
      `UPDATE telemetry_series AS s SET
         count = s.count + u.n,
         first_ts = CASE WHEN s.first_ts IS NULL OR u.first < s.first_ts THEN u.first ELSE s.first_ts END,
         last_value = CASE WHEN s.last_ts IS NULL OR u.last_ts >= s.last_ts THEN u.last_value ELSE s.last_value END,
         last_recv = CASE WHEN s.last_ts IS NULL OR u.last_ts >= s.last_ts THEN u.last_recv ELSE s.last_recv END,
         last_ts = CASE WHEN s.last_ts IS NULL OR u.last_ts >= s.last_ts THEN u.last_ts ELSE s.last_ts END
       FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::bigint[], $5::float8[], $6::bigint[])
         AS u(id, n, first, last_ts, last_value, last_recv)
       WHERE s.id = u.id`,
      [
        s.map(([id]) => id),
        s.map(([, x]) => x.n),
        s.map(([, x]) => x.first),
        s.map(([, x]) => x.lastTs),
        s.map(([, x]) => x.lastValue),
        s.map(([, x]) => x.lastRecv),
      ],
    );
  }
  if (seen.size > 0) {
    await tx.query(
      `UPDATE telemetry_sensors AS s SET last_seen = greatest(s.last_seen, u.at)
       FROM unnest($1::int[], $2::bigint[]) AS u(id, at) WHERE s.id = u.id`,
      [[...seen.keys()], [...seen.values()]],
    );
  }
}
