import type { LatestReading, LiveReading, StoredReading } from '../../wire/telemetry.js';
import type { Requester } from './requester.js';

/** §14.5.3 Readings read back per series to fill a gap, at most; beyond it the gap is cut short. */
export const GAP_MAX_PER_SERIES = 10_000;
const PAGE = 1000;

/** Where a watcher is in one series: the greatest (ts, seq) it was given. */
export interface SeriesMark {
  ts: number;
  seq: number;
}

export const seriesKey = (r: { sensor: string; metric: string }) => `${r.sensor}\u0000${r.metric}`;

/** (ts, seq) order of §9.T readings queries; a reading without seq sorts first at its ts. */
export function isAfter(r: { ts: number; seq?: number | undefined }, mark: SeriesMark): boolean {
  return r.ts > mark.ts || (r.ts === mark.ts && (r.seq ?? -1) > mark.seq);
}

/**
 * What a watcher keeps to resume (§14.5): per series the last reading it was given, and the greatest
 * receive time of any, which stands in for series it has not seen yet.
 */
export class WatchMarks {
  readonly series = new Map<string, SeriesMark>();
  /** Sensor, metric and unit of each series in `series`. */
  readonly names = new Map<string, SeriesName>();
  recv = 0;

  /** The watch started: what it listed as latest was known then (nothing at all: the client's clock). */
  started(latest: LatestReading[], now: number): void {
    for (const r of latest) if (r.recv > this.recv) this.recv = r.recv;
    if (this.recv === 0) this.recv = now;
  }

  note(r: LiveReading): void {
    const key = seriesKey(r);
    const mark = this.series.get(key);
    if (mark === undefined) this.names.set(key, { sensor: r.sensor, metric: r.metric, unit: r.unit });
    if (mark === undefined || isAfter(r, mark)) this.series.set(key, { ts: r.ts, seq: r.seq ?? -1 });
    if (r.recv > this.recv) this.recv = r.recv;
  }

  /** Not given yet (a live reading that the gap query also returned is dropped, §14.5.4). */
  isNew(r: LiveReading): boolean {
    const mark = this.series.get(seriesKey(r));
    return mark === undefined || isAfter(r, mark);
  }
}

/**
 * §14.5.3 The stored readings a watcher missed, oldest first per series: for every series it was given a
 * reading of, those after its mark (the new node's `latest` may not list a series it has not loaded yet);
 * for a series the new watch lists in `latest` with none given, those received after `marks.recv`.
 * `truncated` when a series had more than GAP_MAX_PER_SERIES.
 */
export async function readGap(
  r: Requester,
  latest: LatestReading[],
  marks: WatchMarks,
): Promise<{ readings: LiveReading[]; truncated: boolean }> {
  const readings: LiveReading[] = [];
  let truncated = false;
  const add = (series: SeriesName, got: { readings: StoredReading[]; truncated: boolean }) => {
    truncated ||= got.truncated;
    for (const s of got.readings) readings.push(live(series, s));
  };
  for (const [key, mark] of marks.series) {
    const series = marks.names.get(key)!;
    add(series, await storedAfter(r, series, mark));
  }
  for (const series of latest) {
    if (marks.series.has(seriesKey(series)) || series.recv <= marks.recv) continue;
    add(series, await receivedAfter(r, series, marks.recv));
  }
  return { readings, truncated };
}

/** A series as the gap queries need it. */
interface SeriesName {
  sensor: string;
  metric: string;
  unit?: string | undefined;
}

type Page = { unit?: string; readings: StoredReading[]; next?: { ts: number; seq: number } };

async function storedAfter(r: Requester, series: SeriesName, mark: SeriesMark) {
  const out: StoredReading[] = [];
  let after = { ts: mark.ts, seq: mark.seq };
  for (;;) {
    const page = await r.request<Page>('telemetry', 'readings', {
      sensor: series.sensor,
      metric: series.metric,
      from: mark.ts,
      after,
      limit: PAGE,
      order: 'asc',
    });
    for (const s of page.readings) if (isAfter(s, mark)) out.push(s);
    if (page.next === undefined) return { readings: out, truncated: false };
    if (out.length >= GAP_MAX_PER_SERIES)
      return { readings: out.slice(0, GAP_MAX_PER_SERIES), truncated: true };
    after = page.next;
  }
}

/** Newest first until a page reaches readings received before `recv`; then oldest first. */
async function receivedAfter(r: Requester, series: LatestReading, recv: number) {
  const out: StoredReading[] = [];
  let after: { ts: number; seq: number } | undefined;
  for (;;) {
    const page = await r.request<Page>('telemetry', 'readings', {
      sensor: series.sensor,
      metric: series.metric,
      ...(after === undefined ? {} : { after }),
      limit: PAGE,
      order: 'desc',
    });
    let older = false;
    for (const s of page.readings) {
      if (s.recv > recv) out.push(s);
      else older = true;
    }
    if (older || page.next === undefined) return { readings: out.reverse(), truncated: false };
    if (out.length >= GAP_MAX_PER_SERIES) {
      return { readings: out.slice(0, GAP_MAX_PER_SERIES).reverse(), truncated: true };
    }
    after = page.next;
  }
}

function live(series: SeriesName, s: StoredReading): LiveReading {
  const reading: LiveReading = {
    sensor: series.sensor,
    metric: series.metric,
    value: s.value,
    ts: s.ts,
    recv: s.recv,
  };
  if (series.unit !== undefined) reading.unit = series.unit;
  if (s.seq !== undefined) reading.seq = s.seq;
  if (s.tags !== undefined) reading.tags = s.tags;
  return reading;
}
