import { MINUTE } from './rollup.js';
import type { BucketColumns, BucketQuery } from './store.js';

export interface BucketRow {
  t: number;
  min: number;
  max: number;
  sum: number;
  count: number;
}

/**
 * How a backend answers `buckets`: when `every` is a whole number of minutes, the minutes wholly inside the
 * range come from the per-minute rollup (`minutes`, [first, end) in minutes) and only the partial minutes at
 * its ends (`raw`) from readings, so the answer is exact and costs about one row per minute instead of one
 * per reading. Otherwise every reading in the range is scanned.
 */
export interface BucketPlan {
  raw: [from: number, to: number][];
  minutes: { first: number; end: number } | undefined;
}

export function planBuckets(q: BucketQuery): BucketPlan {
  if (q.every % MINUTE === 0) {
    const first = Math.ceil(q.from / MINUTE);
    const end = Math.floor(q.to / MINUTE);
    if (end > first) {
      const raw: [number, number][] = [];
      if (first * MINUTE > q.from) raw.push([q.from, first * MINUTE]);
      if (q.to > end * MINUTE) raw.push([end * MINUTE, q.to]);
      return { raw, minutes: { first, end } };
    }
  }
  return { raw: [[q.from, q.to]], minutes: undefined };
}

/** Rows (any order) as columns sorted by t, rows of the same bucket (an edge minute and the rollup) combined. */
export function bucketColumns(rows: BucketRow[], rollup: boolean): BucketColumns {
  rows.sort((a, b) => a.t - b.t);
  const merged: BucketRow[] = [];
  for (const row of rows) {
    const last = merged.at(-1);
    if (last !== undefined && last.t === row.t) {
      last.min = Math.min(last.min, row.min);
      last.max = Math.max(last.max, row.max);
      last.sum += row.sum;
      last.count += row.count;
    } else merged.push({ ...row });
  }
  const n = merged.length;
  const columns: BucketColumns = {
    t: new Float64Array(n),
    min: new Float64Array(n),
    max: new Float64Array(n),
    sum: new Float64Array(n),
    count: new Float64Array(n),
    rollup,
  };
  for (let i = 0; i < n; i++) {
    const r = merged[i]!;
    columns.t[i] = r.t;
    columns.min[i] = r.min;
    columns.max[i] = r.max;
    columns.sum[i] = r.sum;
    columns.count[i] = r.count;
  }
  return columns;
}
