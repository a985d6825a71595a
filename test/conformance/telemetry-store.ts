import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchBuilder, type Definitions } from '../../src/services/telemetry/batch.js';
import type { DefinedSensor, StoreSnapshot, TelemetryStore } from '../../src/services/telemetry/store.js';
import type { AlertEvent, AlertRule } from '../../src/wire/telemetry.js';

/**
 * The one definition of a correct TelemetryStore, run against every backend (telemetry-store.sqlite.test.ts,
 * telemetry-store.postgres.test.ts), as aedes runs one persistence suite against each backend. Everything
 * goes through the interface the service uses, asynchronously, so a backend passes only if the service
 * would work on it.
 */
export interface TelemetryStoreBackend {
  /**
   * A fresh, empty store (not opened). `another()` opens a second store on the same data: a restart of the
   * node, or another node sharing the engine; `destroy()` closes everything and removes the data.
   */
  create(): Promise<{ store: TelemetryStore; another(): Promise<TelemetryStore>; destroy(): Promise<void> }>;
}

const T0 = Date.UTC(2026, 4, 1, 10, 0, 0);
const MINUTE = 60_000;

type Row = [sensor: number, series: number, seq: number, ts: number, value: number];

/**
 * The store numbers sensors and series: tests name them by a small index (sensor 1 = s1, 2 = s2; series 1 =
 * s1/temperature, 2 = s2/temperature, 3 = s1/humidity) and these tables give the store's ids.
 */
const ids = { sensor: [] as number[], series: [] as number[] };
const S = (series: number): number => known(ids.series, series);
const N = (sensor: number): number => known(ids.sensor, sensor);

function known(table: number[], index: number): number {
  const id = table[index];
  if (id === undefined) throw new Error(`index ${index} was not defined in this test`);
  return id;
}

/** Defines s1 (temperature, humidity) and s2 (temperature) in the store and fills `ids`. */
async function defineAll(store: TelemetryStore): Promise<void> {
  ids.sensor = [];
  ids.series = [];
  const s1 = await store.define({ name: 's1', kind: null, location: null, firstSeen: T0 }, [
    { metric: 'temperature', unit: '°C' },
    { metric: 'humidity', unit: '%' },
  ]);
  const s2 = await store.define({ name: 's2', kind: 'thermo', location: 'lab', firstSeen: T0 }, [
    { metric: 'temperature', unit: '°C' },
  ]);
  const of = (d: DefinedSensor, metric: string) => d.series.find((x) => x.metric === metric)!.id;
  ids.sensor[1] = s1.sensor.id;
  ids.sensor[2] = s2.sensor.id;
  ids.series[1] = of(s1, 'temperature');
  ids.series[2] = of(s2, 'temperature');
  ids.series[3] = of(s1, 'humidity');
}

/** Rows (by index) → a batch (recv = ts + 5), with optional tags by row index. */
function batch(
  rows: Row[],
  defs: Definitions = { sensors: [], series: [] },
  tags = new Map<number, string>(),
) {
  const b = new BatchBuilder(4);
  rows.forEach(([sensor, series, seq, ts, value], i) => {
    b.add(N(sensor), S(series), seq, ts, ts + 5, value, tags.get(i));
  });
  return b.take(defs);
}

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

function rule(name: string, created = T0): Omit<AlertRule, 'id'> {
  return {
    name,
    metric: 'temperature',
    op: '>',
    threshold: 30,
    forMs: 60_000,
    sensors: ['s1', 's2'],
    text: 'temperature > 30 for 1m',
    created,
  };
}

function event(
  ruleId: number,
  sensor: string,
  at: number,
  state: AlertEvent['state'] = 'firing',
): AlertEvent {
  return {
    ruleId,
    rule: `r${ruleId}`,
    sensor,
    metric: 'temperature',
    state,
    value: 31.5,
    ts: at - 10,
    since: at - 100,
    at,
  };
}

export function telemetryStoreConformance(name: string, backend: TelemetryStoreBackend): void {
  describe(`TelemetryStore conformance: ${name}`, () => {
    let store: TelemetryStore;
    let another: () => Promise<TelemetryStore>;
    let destroy: () => Promise<void>;
    const others: TelemetryStore[] = [];

    beforeEach(async () => {
      ({ store, another, destroy } = await backend.create());
    });
    afterEach(async () => {
      for (const s of others.splice(0)) await s.close();
      await destroy();
    });

    /** Opens the store and defines the sensors the tests use. */
    async function start(): Promise<void> {
      await store.open();
      await defineAll(store);
    }

    /** A second store on the same data, opened; closed after the test. */
    async function reopen(): Promise<{ store: TelemetryStore; snapshot: StoreSnapshot }> {
      const s = await another();
      others.push(s);
      return { store: s, snapshot: await s.open() };
    }

    /** Every reading of series `index`. */
    async function all(s: TelemetryStore, index: number, order: 'asc' | 'desc' = 'asc') {
      return (await s.readings({ series: S(index), from: 0, to: T0 + 1e9, limit: 10_000, order })).readings;
    }

    describe('readings', () => {
      it('opens empty, then stores readings with their fields and tags', async () => {
        expect(await store.open()).toEqual({ sensors: [], series: [], rules: [] });
        await defineAll(store);
        const tags = new Map([[1, JSON.stringify({ room: 'b12', floor: '3' })]]);
        const result = await store.commit(
          batch(
            [
              [1, 1, 1, T0, 20.5],
              [1, 1, 2, T0 + 1000, -3.25],
              [2, 2, 1, T0, 1e300],
            ],
            undefined,
            tags,
          ),
        );
        expect([...result.fresh]).toEqual([1, 1, 1]);
        expect(await all(store, 1)).toEqual([
          { ts: T0, value: 20.5, recv: T0 + 5, seq: 1 },
          { ts: T0 + 1000, value: -3.25, recv: T0 + 1005, seq: 2, tags: { room: 'b12', floor: '3' } },
        ]);
        expect(await all(store, 2)).toEqual([{ ts: T0, value: 1e300, recv: T0 + 5, seq: 1 }]);
        expect(await all(store, 3)).toEqual([]);
      });

      it('answers a time range inclusive at from, exclusive at to, in both orders', async () => {
        await start();
        await store.commit(batch([0, 1, 2, 3, 4].map((i): Row => [1, 1, i, T0 + i * 1000, i])));
        const q = { series: S(1), from: T0 + 1000, to: T0 + 4000, limit: 100 };
        const asc = await store.readings({ ...q, order: 'asc' });
        expect(asc.readings.map((r) => r.value)).toEqual([1, 2, 3]);
        expect(asc.last).toEqual({ ts: T0 + 3000, seq: 3 });
        const desc = await store.readings({ ...q, order: 'desc' });
        expect(desc.readings.map((r) => r.value)).toEqual([3, 2, 1]);
        const empty = await store.readings({ ...q, from: T0 + 9000, to: T0 + 10_000, order: 'asc' });
        expect(empty).toEqual({ readings: [], last: undefined });
      });

      it('pages in both orders without losing or repeating a reading, among equal timestamps', async () => {
        await start();
        const rows = Array.from({ length: 25 }, (_, i): Row => [1, 1, i, T0 + Math.floor(i / 3), i]);
        await store.commit(batch(rows));
        for (const order of ['asc', 'desc'] as const) {
          const seen: number[] = [];
          let after: { ts: number; seq: number } | undefined;
          for (let pages = 0; pages < 20; pages++) {
            const page = await store.readings({
              series: S(1),
              from: 0,
              to: T0 + 100,
              limit: 4,
              order,
              after,
            });
            seen.push(...page.readings.map((r) => r.value));
            if (page.readings.length < 4) break;
            after = page.last;
          }
          const expected = rows.map((r) => r[4]);
          expect(seen).toEqual(order === 'asc' ? expected : expected.reverse());
        }
      });
    });

    describe('exactly once by (sensor, seq)', () => {
      it('skips a (sensor, seq) stored before, resent in the same batch, or older than the newest', async () => {
        await start();
        const first = await store.commit(
          batch([
            [1, 1, 1, T0, 20],
            [1, 1, 2, T0 + 1, 21],
            [2, 2, 1, T0, 30],
          ]),
        );
        expect([...first.fresh]).toEqual([1, 1, 1]);
        const second = await store.commit(
          batch([
            [1, 1, 2, T0 + 1, 99], // resent
            [1, 1, 3, T0 + 2, 22], // new
            [1, 1, 3, T0 + 2, 99], // repeated in the batch
            [1, 1, 0, T0 - 1, 19], // an older gap
            [1, 3, 4, T0 + 3, 50], // the same sensor's other series shares its seqs
            [1, 3, 1, T0 + 3, 51], // seq 1 of sensor 1 is taken (series 1)
          ]),
        );
        expect([...second.fresh]).toEqual([0, 1, 0, 1, 1, 0]);
        expect((await all(store, 1)).map((r) => [r.seq, r.value])).toEqual([
          [0, 19],
          [1, 20],
          [2, 21],
          [3, 22],
        ]);
        expect((await all(store, 3)).map((r) => [r.seq, r.value])).toEqual([[4, 50]]);
      });

      it('still skips them through another store on the same data (a restart, or another node)', async () => {
        await start();
        await store.commit(
          batch([
            [1, 1, 10, T0, 1],
            [1, 1, 11, T0, 2],
          ]),
        );
        const { store: other } = await reopen();
        const result = await other.commit(
          batch([
            [1, 1, 11, T0, 2],
            [1, 1, 12, T0, 3],
            [1, 1, 9, T0, 0],
          ]),
        );
        expect([...result.fresh]).toEqual([0, 1, 1]);
        // And the first store, whose idea of the newest seq is now stale, still refuses what the other stored.
        expect([...(await store.commit(batch([[1, 1, 12, T0, 3]]))).fresh]).toEqual([0]);
        expect((await all(other, 1)).map((r) => r.seq)).toEqual([9, 10, 11, 12]);
      });

      it('stores each reading once when two stores on the same data commit overlapping batches at once', async () => {
        await start();
        const { store: other } = await reopen();
        // 8 rounds: both stores get the same 200 readings (shuffled differently) plus 50 of their own.
        let freshTotal = 0;
        for (let round = 0; round < 8; round++) {
          const shared = Array.from({ length: 200 }, (_, i): Row => [1, 1, round * 1000 + i, T0 + i, i]);
          const own = (base: number) =>
            Array.from({ length: 50 }, (_, i): Row => [1, 1, round * 1000 + base + i, T0, 0]);
          const mine = [...shared, ...own(300)];
          const theirs = [...shared].reverse().concat(own(400));
          const [x, y] = await Promise.all([store.commit(batch(mine)), other.commit(batch(theirs))]);
          const fx = x.fresh.reduce((n, f) => n + f, 0);
          const fy = y.fresh.reduce((n, f) => n + f, 0);
          expect(fx + fy).toBe(300);
          freshTotal += fx + fy;
        }
        expect(await all(store, 1)).toHaveLength(freshTotal);
        const { snapshot } = await reopen();
        expect(snapshot.series.find((x) => x.id === S(1))!.count).toBe(freshTotal);
        const buckets = await store.buckets({ series: S(1), from: T0, to: T0 + 3_600_000, every: 3_600_000 });
        expect([...buckets.count]).toEqual([freshTotal]);
      });

      it('numbers readings sent without a seq below zero, never colliding, and does not show them', async () => {
        await start();
        const result = await store.commit(
          batch([
            [1, 1, Number.NaN, T0, 1],
            [1, 1, Number.NaN, T0 + 1, 2],
            [1, 1, 5, T0 + 2, 3],
          ]),
        );
        expect([...result.fresh]).toEqual([1, 1, 1]);
        const assigned = [...result.assigned!];
        expect(assigned[2]).toBeNaN();
        expect(assigned[0]).toBeLessThan(0);
        expect(assigned[1]).toBeLessThan(0);
        expect(assigned[0]).not.toBe(assigned[1]);
        const { store: other } = await reopen();
        const later = await other.commit(batch([[1, 1, Number.NaN, T0 + 3, 4]]));
        expect(later.fresh[0]).toBe(1);
        expect(assigned).not.toContain(later.assigned![0]);
        expect(later.assigned![0]).toBeLessThan(0);
        const stored = await all(other, 1);
        expect(stored.map((r) => r.value)).toEqual([1, 2, 3, 4]);
        expect(stored.map((r) => r.seq)).toEqual([undefined, undefined, 5, undefined]);
      });

      it('matches a brute-force model for any mix of new, resent and repeated readings (property)', async () => {
        await start();
        const model = new Set<string>();
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 60 })), {
              maxLength: 40,
            }),
            async (rows) => {
              const { fresh } = await store.commit(
                batch(rows.map(([sensor, seq]): Row => [sensor, sensor, seq, T0 + seq, seq])),
              );
              rows.forEach(([sensor, seq], i) => {
                const key = `${sensor}:${seq}`;
                expect(fresh[i]).toBe(model.has(key) ? 0 : 1);
                model.add(key);
              });
            },
          ),
          { numRuns: 25 },
        );
        for (const sensor of [1, 2]) {
          const expected = [...model]
            .filter((k) => k.startsWith(`${sensor}:`))
            .map((k) => Number(k.split(':')[1]))
            .sort((a, b) => a - b);
          expect((await all(store, sensor)).map((r) => r.seq!).sort((a, b) => a - b)).toEqual(expected);
        }
      });
    });

    describe('rollups and buckets', () => {
      it('answers buckets from the rollup exactly as a scan would, resends not counted twice (property)', async () => {
        await start();
        // One series per run, so runs do not see each other's readings.
        let series = 0;
        await fc.assert(
          fc.asyncProperty(
            fc.array(
              fc.tuple(fc.integer({ min: 0, max: 3 * 3_600_000 }), fc.integer({ min: -1000, max: 1000 })),
              {
                minLength: 1,
                maxLength: 150,
              },
            ),
            fc.integer({ min: 0, max: 3 * 3_600_000 }),
            fc.integer({ min: 1, max: 3 * 3_600_000 }),
            fc.constantFrom(1000, 60_000, 120_000, 300_000, 3_600_000, 90_000),
            async (points, start, length, every) => {
              series++;
              const p = await store.define(
                { name: `p${series}`, kind: null, location: null, firstSeen: T0 },
                [{ metric: 'm', unit: null }],
              );
              ids.sensor[10 + series] = p.sensor.id;
              ids.series[10 + series] = p.series[0]!.id;
              const at = 10 + series;
              const rows = points.map(([offset, v], i) => ({ ts: T0 + offset, value: v / 10, seq: i }));
              const half = Math.ceil(rows.length / 2);
              await store.commit(batch(rows.slice(0, half).map((r): Row => [at, at, r.seq, r.ts, r.value])));
              await store.commit(
                batch(rows.slice(Math.floor(half / 2)).map((r): Row => [at, at, r.seq, r.ts, r.value])),
              );
              const from = T0 + start;
              const to = from + length;
              const got = await store.buckets({ series: S(at), from, to, every });
              const expected = bruteForce(rows, from, to, every);
              expect(got.rollup).toBe(
                every % MINUTE === 0 && Math.floor(to / MINUTE) > Math.ceil(from / MINUTE),
              );
              expect([...got.t]).toEqual(expected.map((b) => b.t));
              expect([...got.count]).toEqual(expected.map((b) => b.count));
              expect([...got.min]).toEqual(expected.map((b) => b.min));
              expect([...got.max]).toEqual(expected.map((b) => b.max));
              for (const [i, sum] of [...got.sum].entries()) expect(sum).toBeCloseTo(expected[i]!.sum, 6);
            },
          ),
          { numRuns: 30 },
        );
      });

      it('answers an empty range or an unknown series with no buckets', async () => {
        await start();
        const none = await store.buckets({ series: 987_654, from: T0, to: T0 + 3_600_000, every: 60_000 });
        expect([...none.t]).toEqual([]);
        expect([...none.count]).toEqual([]);
      });
    });

    describe('series statistics and definitions', () => {
      it('keeps counts, first/last and last-seen across commits, out-of-order readings, and a reopen', async () => {
        await start();
        await store.commit(
          batch([
            [1, 1, 1, T0 + 10_000, 5],
            [1, 1, 2, T0 + 20_000, 6],
          ]),
        );
        await store.commit(
          batch([
            [1, 1, 3, T0, 4], // older than the first: moves firstTs, not the last value
            [1, 1, 2, T0 + 99_000, 7], // a duplicate: counts for nothing
            [1, 3, 4, T0 + 30_000, 60],
          ]),
        );
        const { snapshot } = await reopen();
        const byId = new Map(snapshot.series.map((s) => [s.id, s]));
        expect(byId.get(S(1))).toEqual({
          id: S(1),
          sensor: N(1),
          metric: 'temperature',
          unit: '°C',
          count: 3,
          firstTs: T0,
          lastTs: T0 + 20_000,
          lastValue: 6,
          lastRecv: T0 + 20_005,
        });
        expect(byId.get(S(3))).toMatchObject({ count: 1, firstTs: T0 + 30_000, lastValue: 60, unit: '%' });
        expect(byId.get(S(2))).toMatchObject({ count: 0, firstTs: null, lastTs: null });
        const s1 = snapshot.sensors.find((s) => s.name === 's1')!;
        expect(s1).toEqual({
          id: N(1),
          name: 's1',
          kind: null,
          location: null,
          firstSeen: T0,
          lastSeen: T0 + 30_005,
        });
        expect(snapshot.sensors.find((s) => s.name === 's2')).toMatchObject({
          kind: 'thermo',
          location: 'lab',
        });
      });

      it('updates a sensor’s kind and location and a series’ missing unit, keeping what is not sent', async () => {
        await store.open();
        const u = await store.define({ name: 'u', kind: 'thermo', location: null, firstSeen: T0 }, [
          { metric: 'x', unit: null },
        ]);
        expect(u.sensor).toEqual({
          id: u.sensor.id,
          name: 'u',
          kind: 'thermo',
          location: null,
          firstSeen: T0,
          lastSeen: T0,
        });
        expect(u.series).toEqual([
          {
            id: u.series[0]!.id,
            sensor: u.sensor.id,
            metric: 'x',
            unit: null,
            count: 0,
            firstTs: null,
            lastTs: null,
            lastValue: null,
            lastRecv: null,
          },
        ]);
        ids.sensor[1] = u.sensor.id;
        ids.series[1] = u.series[0]!.id;
        const sensor = { id: N(1), name: 'u', firstSeen: T0 };
        await store.commit(
          batch([[1, 1, 1, T0, 1]], {
            sensors: [{ ...sensor, kind: null, location: 'roof' }],
            series: [{ id: S(1), sensor: N(1), metric: 'x', unit: 'V' }],
          }),
        );
        await store.commit(
          batch([[1, 1, 2, T0 + 1, 2]], {
            sensors: [{ ...sensor, kind: null, location: null }],
            series: [{ id: S(1), sensor: N(1), metric: 'x', unit: null }],
          }),
        );
        const { snapshot } = await reopen();
        expect(snapshot.sensors).toEqual([
          { id: N(1), name: 'u', kind: 'thermo', location: 'roof', firstSeen: T0, lastSeen: T0 + 6 },
        ]);
        expect(snapshot.series).toMatchObject([{ id: S(1), unit: 'V', count: 2 }]);
      });
    });

    describe('id allocation', () => {
      it('defines by name: once, with the store’s ids, the same for every caller, keeping existing fields', async () => {
        await store.open();
        const first = await store.define({ name: 'a', kind: 'k', location: 'l', firstSeen: T0 }, [
          { metric: 'm1', unit: 'V' },
          { metric: 'm2', unit: null },
        ]);
        expect(first.series.map((x) => x.metric).sort()).toEqual(['m1', 'm2']);
        expect(new Set(first.series.map((x) => x.id)).size).toBe(2);
        // Again, with other fields and one more metric: the same ids, the fields as first stored.
        const again = await store.define({ name: 'a', kind: 'other', location: null, firstSeen: T0 + 5 }, [
          { metric: 'm1', unit: 'A' },
          { metric: 'm3', unit: null },
        ]);
        expect(again.sensor).toEqual(first.sensor);
        expect(again.sensor).toMatchObject({ kind: 'k', location: 'l', firstSeen: T0 });
        const m1 = (d: DefinedSensor) => d.series.find((x) => x.metric === 'm1')!;
        expect(m1(again)).toEqual(m1(first));
        expect(m1(again).unit).toBe('V');
        expect(again.series.map((x) => x.metric).sort()).toEqual(['m1', 'm2', 'm3']);
        const { snapshot } = await reopen();
        expect(snapshot.sensors).toEqual([again.sensor]);
        expect(snapshot.series.sort((x, y) => x.id - y.id)).toEqual(again.series.sort((x, y) => x.id - y.id));
      });

      it('gives every caller the same ids when stores on the same data define the same names at once', async () => {
        await store.open();
        const { store: other } = await reopen();
        const names = Array.from({ length: 12 }, (_, i) => `n${i}`);
        const metrics = [
          { metric: 'a', unit: null },
          { metric: 'b', unit: null },
        ];
        const define = (s: TelemetryStore) =>
          Promise.all(
            names.map((name) => s.define({ name, kind: null, location: null, firstSeen: T0 }, metrics)),
          );
        const [mine, theirs] = await Promise.all([define(store), define(other)]);
        const key = (d: DefinedSensor) =>
          `${d.sensor.name}:${d.series.map((x) => `${x.metric}=${x.id}`).sort()}`;
        expect(mine.map((d) => d.sensor.id)).toEqual(theirs.map((d) => d.sensor.id));
        expect(mine.map(key)).toEqual(theirs.map(key));
        expect(new Set(mine.map((d) => d.sensor.id)).size).toBe(names.length);
        expect(new Set(mine.flatMap((d) => d.series.map((x) => x.id))).size).toBe(names.length * 2);
        // A reading committed through one store under those ids is read back through the other.
        const d = mine[3]!;
        ids.sensor[1] = d.sensor.id;
        ids.series[1] = d.series[0]!.id;
        await store.commit(batch([[1, 1, 1, T0, 42]]));
        expect((await all(other, 1)).map((r) => r.value)).toEqual([42]);
        // And a store that defines the sensor later learns its statistics.
        const later = await (await reopen()).store.define(
          { name: d.sensor.name, kind: null, location: null, firstSeen: T0 },
          [],
        );
        expect(later.series.find((x) => x.id === S(1))).toMatchObject({ count: 1, lastValue: 42 });
      });
    });

    describe('alert rules and events', () => {
      it('saves rules with distinct ids, returns them on open, deletes them once', async () => {
        await start();
        const a = await store.saveRule(rule('hot'));
        const b = await store.saveRule(rule('hotter', T0 + 1));
        expect(a).not.toBe(b);
        const { snapshot, store: other } = await reopen();
        expect(snapshot.rules).toEqual([
          { ...rule('hot'), id: a },
          { ...rule('hotter', T0 + 1), id: b },
        ]);
        // Ids from either store never collide.
        const c = await other.saveRule(rule('third'));
        const d = await store.saveRule(rule('fourth'));
        expect(new Set([a, b, c, d]).size).toBe(4);
        expect(await store.deleteRule(a)).toBe(true);
        expect(await other.deleteRule(a)).toBe(false);
        expect(await store.deleteRule(987_654)).toBe(false);
        expect((await (await reopen()).snapshot).rules.map((r) => r.id)).toEqual([b, c, d]);
      });

      it('appends events and answers them newest first, by time range, sensor, rule and limit', async () => {
        await start();
        await store.appendAlertEvents([]);
        await store.appendAlertEvents([event(1, 's1', T0), event(1, 's2', T0 + 10), event(2, 's1', T0 + 20)]);
        await store.appendAlertEvents([event(1, 's1', T0 + 30, 'resolved')]);
        const q = { from: 0, to: T0 + 1000, limit: 100 };
        const every = await store.alertEvents(q);
        expect(every.map((e) => e.at)).toEqual([T0 + 30, T0 + 20, T0 + 10, T0]);
        expect(every[0]).toMatchObject({ ...event(1, 's1', T0 + 30, 'resolved') });
        expect(typeof every[0]!.id).toBe('number');
        expect(new Set(every.map((e) => e.id)).size).toBe(4);
        expect((await store.alertEvents({ ...q, sensor: 's1' })).map((e) => e.at)).toEqual([
          T0 + 30,
          T0 + 20,
          T0,
        ]);
        expect((await store.alertEvents({ ...q, ruleId: 2 })).map((e) => e.at)).toEqual([T0 + 20]);
        expect((await store.alertEvents({ ...q, from: T0 + 10, to: T0 + 30 })).map((e) => e.at)).toEqual([
          T0 + 20,
          T0 + 10,
        ]);
        expect((await store.alertEvents({ ...q, limit: 2 })).map((e) => e.at)).toEqual([T0 + 30, T0 + 20]);
      });
    });

    describe('retention', () => {
      it('deletes readings, rollup minutes and alert events older than the cutoff, and reports per series', async () => {
        await start();
        // 3000 readings a second apart: more than one chunk of any reasonable size.
        const rows = Array.from({ length: 3000 }, (_, i): Row => [1, 1, i, T0 + i * 1000, i]);
        await store.commit(batch(rows));
        await store.commit(batch([[2, 2, 1, T0 + 5_000_000, 1]]));
        await store.appendAlertEvents([event(1, 's1', T0), event(1, 's1', T0 + 700_000)]);
        const cutoff = T0 + 600_000;
        const result = await store.prune(cutoff);
        expect(result.total).toBe(600);
        expect([...result.deleted]).toEqual([[S(1), 600]]);
        const left = await all(store, 1);
        expect(left).toHaveLength(2400);
        expect(left[0]!.ts).toBe(cutoff);
        const buckets = await store.buckets({ series: S(1), from: T0, to: T0 + 3_600_000, every: 3_600_000 });
        expect([...buckets.count]).toEqual([2400]);
        const minutes = await store.buckets({ series: S(1), from: T0, to: cutoff + MINUTE, every: MINUTE });
        expect([...minutes.t]).toEqual([cutoff]);
        expect((await store.alertEvents({ from: 0, to: T0 + 1e9, limit: 10 })).map((e) => e.at)).toEqual([
          T0 + 700_000,
        ]);
        const { snapshot } = await reopen();
        expect(snapshot.series.find((s) => s.id === S(1))).toMatchObject({ count: 2400, firstTs: cutoff });
        expect(snapshot.series.find((s) => s.id === S(2))).toMatchObject({ count: 1 });
        expect((await store.prune(cutoff)).total).toBe(0);
      });

      it('lets commits through while it prunes', async () => {
        await start();
        const rows = Array.from({ length: 5000 }, (_, i): Row => [1, 1, i, T0 + i, i]);
        await store.commit(batch(rows));
        const pruning = store.prune(T0 + 4000);
        const committed = await store.commit(batch([[2, 2, 1, T0 + 10_000, 1]]));
        expect([...committed.fresh]).toEqual([1]);
        expect((await pruning).total).toBe(4000);
        expect(await all(store, 2)).toHaveLength(1);
      });
    });

    it('refuses work after close with TELEMETRY_STORAGE', async () => {
      await start();
      await store.close();
      await expect(store.commit(batch([[1, 1, 1, T0, 1]]))).rejects.toMatchObject({
        code: 'TELEMETRY_STORAGE',
      });
      await store.close(); // twice is harmless
    });
  });
}
