import type { Queryable } from '../../../storage/postgres/postgres.js';
import { MINUTE } from '../rollup.js';

/** Readings deleted per retention transaction: short enough that commits keep going in between. */
export const PRUNE_CHUNK = 2000;

/** Up to PRUNE_CHUNK readings of one series older than `cutoff`, and (when done) its whole minutes. */
export async function pruneChunk(tx: Queryable, series: number, cutoff: number): Promise<number> {
  const result = await tx.query(
    `DELETE FROM telemetry_readings WHERE (sensor, seq) IN
       (SELECT sensor, seq FROM telemetry_readings WHERE series = $1 AND ts < $2 ORDER BY ts LIMIT $3)`,
    [series, cutoff, PRUNE_CHUNK],
  );
  const deleted = result.rowCount ?? 0;
  await tx.query(
    `UPDATE telemetry_series SET count = greatest(0, count - $2),
       first_ts = (SELECT min(ts) FROM telemetry_readings WHERE series = $1) WHERE id = $1`,
    [series, deleted],
  );
  if (deleted < PRUNE_CHUNK) {
    await tx.query('DELETE FROM telemetry_minutes WHERE series = $1 AND minute < $2', [
      series,
      Math.floor(cutoff / MINUTE),
    ]);
  }
  return deleted;
}
