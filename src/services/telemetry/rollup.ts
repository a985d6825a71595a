import type { CommitBatch } from './batch.js';

export const MINUTE = 60_000;

/** One series' per-minute rollup row, from one commit's fresh readings. */
export interface MinuteRow {
  series: number;
  minute: number;
  min: number;
  max: number;
  sum: number;
  n: number;
}

/** What one commit adds to a series' statistics. */
export interface SeriesStats {
  n: number;
  first: number;
  lastTs: number;
  lastValue: number;
  lastRecv: number;
}

export interface CommitSummary {
  minutes: MinuteRow[];
  stats: Map<number, SeriesStats>;
  /** Per sensor, the latest receive time among its fresh readings. */
  seen: Map<number, number>;
}

/**
 * Per-minute rollups, series statistics and sensors' last-seen times of a commit's fresh rows: what every
 * backend writes in the same transaction as the readings. Rows are sorted by key, so backends that lock rows
 * (PostgreSQL, several nodes at once) always take the locks in the same order.
 */
export function summarize(b: CommitBatch, fresh: Uint8Array): CommitSummary {
  const minutes = new Map<number, MinuteRow>();
  const stats = new Map<number, SeriesStats>();
  const seen = new Map<number, number>();
  for (let i = 0; i < b.count; i++) {
    if (fresh[i] === 0) continue;
    const series = b.series[i]!;
    const ts = b.ts[i]!;
    const value = b.value[i]!;
    const minute = Math.floor(ts / MINUTE);
    const key = series * 1e9 + minute;
    const m = minutes.get(key);
    if (m === undefined) minutes.set(key, { series, minute, min: value, max: value, sum: value, n: 1 });
    else {
      if (value < m.min) m.min = value;
      if (value > m.max) m.max = value;
      m.sum += value;
      m.n++;
    }
    const recv = b.recv[i]!;
    const s = stats.get(series);
    if (s === undefined) stats.set(series, { n: 1, first: ts, lastTs: ts, lastValue: value, lastRecv: recv });
    else {
      s.n++;
      if (ts < s.first) s.first = ts;
      if (ts >= s.lastTs) {
        s.lastTs = ts;
        s.lastValue = value;
        s.lastRecv = recv;
      }
    }
    const sensor = b.sensor[i]!;
    if ((seen.get(sensor) ?? 0) < recv) seen.set(sensor, recv);
  }
  const sorted = [...minutes.values()].sort((x, y) => x.series - y.series || x.minute - y.minute);
  return {
    minutes: sorted,
    stats: new Map([...stats].sort((x, y) => x[0] - y[0])),
    seen: new Map([...seen].sort((x, y) => x[0] - y[0])),
  };
}
