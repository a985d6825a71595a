import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchBuilder, type CommitBatch, type Definitions } from '../../../src/services/telemetry/batch.js';
import { SqliteReader } from '../../../src/services/telemetry/sqlite/reader.js';
import { SqliteWriter } from '../../../src/services/telemetry/sqlite/writer.js';
import { tempDataDir } from '../../helpers/node.js';

/**
 * The SQLite store's logic, called directly (the writer and reader classes the threads run): idempotency on
 * every path, the per-minute rollup against a brute-force answer, retention.
 */

const T0 = Date.UTC(2026, 4, 1, 10, 0, 0);
const open: { close(): void }[] = [];

function store(): { writer: SqliteWriter; reader: SqliteReader; file: string } {
  const file = path.join(tempDataDir(), 't.db');
  const writer = new SqliteWriter(new Database(file));
  const reader = new SqliteReader(new Database(file, { readonly: true }));
  open.push(reader, writer);
  return { writer, reader, file };
}

afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

const DEFS: Definitions = {
  sensors: [
    { id: 1, name: 's1', kind: null, location: null, firstSeen: T0 },
    { id: 2, name: 's2', kind: 'thermo', location: 'lab', firstSeen: T0 },
  ],
  series: [
    { id: 1, sensor: 1, metric: 'temperature', unit: '°C' },
    { id: 2, sensor: 2, metric: 'temperature', unit: '°C' },
    { id: 3, sensor: 1, metric: 'humidity', unit: '%' },
  ],
};

/** [sensor, series, seq, ts, value] rows → a batch. */
function batch(
  rows: [number, number, number, number, number][],
  defs: Definitions = { sensors: [], series: [] },
): CommitBatch {
  const b = new BatchBuilder(4);
  for (const [sensor, series, seq, ts, value] of rows)
    b.add(sensor, series, seq, ts, ts + 5, value, undefined);
  return b.take(defs);
}

describe('SQLite store: idempotency', () => {
  it('stores new readings and skips (sensor, seq) already stored, on every path', () => {
    const { writer, reader } = store();
    const first = writer.commit(
      batch(
        [
          [1, 1, 1, T0, 20],
          [1, 1, 2, T0 + 1, 21],
          [2, 2, 1, T0, 30],
        ],
        DEFS,
      ),
    );
    expect([...first.fresh]).toEqual([1, 1, 1]);
    // A resend of seq 2 (below the watermark), a new seq 3, a duplicate inside the batch, an old gap (seq 0).
    const second = writer.commit(
      batch([
        [1, 1, 2, T0 + 1, 99],
        [1, 1, 3, T0 + 2, 22],
        [1, 1, 3, T0 + 2, 99],
        [1, 1, 0, T0 - 1, 19],
      ]),
    );
    expect([...second.fresh]).toEqual([0, 1, 0, 1]);
    const stored = reader.readings({ series: 1, from: 0, to: T0 + 10, limit: 100, order: 'asc' }).readings;
    expect(stored.map((r) => [r.seq, r.value])).toEqual([
      [0, 19],
      [1, 20],
      [2, 21],
      [3, 22],
    ]);
  });

  it('keeps counting right after a fresh writer opens an existing file (watermarks reload)', () => {
    const { writer, file } = store();
    writer.commit(
      batch(
        [
          [1, 1, 10, T0, 1],
          [1, 1, 11, T0, 2],
        ],
        DEFS,
      ),
    );
    const again = new SqliteWriter(new Database(file));
    open.push(again);
    expect([
      ...again.commit(
        batch([
          [1, 1, 11, T0, 2],
          [1, 1, 12, T0, 3],
        ]),
      ).fresh,
    ]).toEqual([0, 1]);
    expect(again.snapshot().series.find((s) => s.id === 1)).toMatchObject({ count: 3, lastValue: 3 });
  });

  it('numbers readings sent without a seq below zero, never colliding', () => {
    const { writer, reader, file } = store();
    const result = writer.commit(
      batch(
        [
          [1, 1, Number.NaN, T0, 1],
          [1, 1, Number.NaN, T0 + 1, 2],
          [1, 1, 5, T0 + 2, 3],
        ],
        DEFS,
      ),
    );
    expect([...result.fresh]).toEqual([1, 1, 1]);
    expect([...result.assigned!]).toEqual([-1, -2, Number.NaN]);
    const again = new SqliteWriter(new Database(file));
    open.push(again);
    expect([...again.commit(batch([[1, 1, Number.NaN, T0 + 3, 4]])).assigned!]).toEqual([-3]);
    const stored = reader.readings({ series: 1, from: 0, to: T0 + 10, limit: 10, order: 'asc' }).readings;
    expect(stored.map((r) => r.value)).toEqual([1, 2, 3, 4]);
    expect(stored.map((r) => r.seq)).toEqual([undefined, undefined, 5, undefined]); // node numbers are not shown
  });

  it('matches a brute-force model for any mix of new, resent and repeated readings (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 40 })), {
            maxLength: 30,
          }),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        (batches) => {
          const { writer, reader } = store();
          const model = new Set<string>();
          let defs: Definitions | undefined = DEFS;
          for (const rows of batches) {
            const b = batch(
              rows.map(([sensor, seq]) => [sensor, sensor, seq, T0 + seq, seq]),
              defs,
            );
            defs = undefined;
            const { fresh } = writer.commit(b);
            rows.forEach(([sensor, seq], i) => {
              const key = `${sensor}:${seq}`;
              expect(fresh[i]).toBe(model.has(key) ? 0 : 1);
              model.add(key);
            });
          }
          for (const sensor of [1, 2]) {
            const stored = reader.readings({
              series: sensor,
              from: 0,
              to: T0 + 100,
              limit: 1000,
              order: 'asc',
            }).readings;
            const expected = [...model]
              .filter((k) => k.startsWith(`${sensor}:`))
              .map((k) => Number(k.split(':')[1]));
            expect(stored.map((r) => r.seq).sort((a, b) => a! - b!)).toEqual(expected.sort((a, b) => a - b));
          }
          for (const s of open.splice(0)) s.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('SQLite store: downsampling', () => {
  /** min/max/sum/count per bucket, the slow obvious way. */
  function bruteForce(rows: { ts: number; value: number }[], from: number, to: number, every: number) {
    const buckets = new Map<number, { min: number; max: number; sum: number; count: number }>();
    for (const { ts, value } of rows) {
      if (ts < from || ts >= to) continue;
      const t = Math.floor(ts / every) * every;
      const b = buckets.get(t);
      if (b === undefined) buckets.set(t, { min: value, max: value, sum: value, count: 1 });
      else {
        b.min = Math.min(b.min, value);
        b.max = Math.max(b.max, value);
        b.sum += value;
        b.count++;
      }
    }
    return [...buckets].sort((a, b) => a[0] - b[0]).map(([t, b]) => ({ t, ...b }));
  }

  it('answers from the rollup exactly as a scan of the readings would, for any range and bucket (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 3 * 3_600_000 }), fc.integer({ min: -1000, max: 1000 })),
          {
            minLength: 1,
            maxLength: 300,
          },
        ),
        fc.integer({ min: 0, max: 3 * 3_600_000 }),
        fc.integer({ min: 1, max: 3 * 3_600_000 }),
        fc.constantFrom(1000, 60_000, 120_000, 300_000, 3_600_000, 90_000),
        (points, start, length, every) => {
          const { writer, reader } = store();
          const rows = points.map(([offset, v], i) => ({ ts: T0 + offset, value: v / 10, seq: i }));
          // In two commits that overlap: the resent readings must not count twice in the rollup.
          const half = Math.ceil(rows.length / 2);
          writer.commit(
            batch(
              rows.slice(0, half).map((r) => [1, 1, r.seq, r.ts, r.value]),
              DEFS,
            ),
          );
          writer.commit(batch(rows.slice(Math.floor(half / 2)).map((r) => [1, 1, r.seq, r.ts, r.value])));
          const from = T0 + start;
          const to = from + length;
          const got = reader.buckets({ series: 1, from, to, every });
          const expected = bruteForce(rows, from, to, every);
          expect(got.rollup).toBe(every % 60_000 === 0 && Math.floor(to / 60_000) > Math.ceil(from / 60_000));
          expect([...got.t]).toEqual(expected.map((b) => b.t));
          expect([...got.count]).toEqual(expected.map((b) => b.count));
          expect([...got.min]).toEqual(expected.map((b) => b.min));
          expect([...got.max]).toEqual(expected.map((b) => b.max));
          for (const [i, sum] of [...got.sum].entries()) expect(sum).toBeCloseTo(expected[i]!.sum, 6);
          for (const s of open.splice(0)) s.close();
        },
      ),
      { numRuns: 80 },
    );
  });

  it('pages through readings in both orders without losing or repeating one', () => {
    const { writer, reader } = store();
    // Several readings share a timestamp: the page boundary falls among them.
    const rows: [number, number, number, number, number][] = Array.from({ length: 25 }, (_, i) => [
      1,
      1,
      i,
      T0 + Math.floor(i / 3),
      i,
    ]);
    writer.commit(batch(rows, DEFS));
    for (const order of ['asc', 'desc'] as const) {
      const seen: number[] = [];
      let after: { ts: number; seq: number } | undefined;
      for (;;) {
        const page = reader.readings({ series: 1, from: 0, to: T0 + 100, limit: 4, order, after });
        seen.push(...page.readings.map((r) => r.value));
        if (page.readings.length < 4) break;
        after = page.last;
      }
      const expected = rows.map((r) => r[4]);
      expect(seen).toEqual(order === 'asc' ? expected : expected.reverse());
    }
  });
});

describe('SQLite store: retention', () => {
  it('deletes readings before the cutoff in chunks, with their rollup minutes and series counts', () => {
    const { writer, reader } = store();
    const rows: [number, number, number, number, number][] = Array.from({ length: 1000 }, (_, i) => [
      1,
      1,
      i,
      T0 + i * 1000,
      i,
    ]);
    writer.commit(batch(rows, DEFS));
    const cutoff = T0 + 600_000; // readings 0..599 are older
    for (const series of writer.seriesOlderThan(cutoff)) {
      let n: number;
      let total = 0;
      do {
        n = writer.pruneChunk(series, cutoff, 128);
        total += n;
      } while (n === 128);
      expect(total).toBe(600);
    }
    const left = reader.readings({
      series: 1,
      from: 0,
      to: T0 + 10_000_000,
      limit: 10_000,
      order: 'asc',
    }).readings;
    expect(left).toHaveLength(400);
    expect(left[0]!.ts).toBe(cutoff);
    expect(writer.snapshot().series.find((s) => s.id === 1)).toMatchObject({ count: 400, firstTs: cutoff });
    const buckets = reader.buckets({ series: 1, from: T0, to: T0 + 2_000_000, every: 3_600_000 });
    expect([...buckets.count]).toEqual([400]);
  });
});
