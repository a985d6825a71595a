import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Ingest } from '../../../src/services/telemetry/ingest.js';
import { Registry } from '../../../src/services/telemetry/registry.js';
import { SqliteTelemetryStore } from '../../../src/services/telemetry/sqlite/store.js';
import type { ValidReading } from '../../../src/services/telemetry/validate.js';
import { RateLimiter } from '../../../src/util/rate-limit.js';
import { tempDataDir } from '../../helpers/node.js';

/**
 * Ids come from the store and the registry asks it on a miss: two ingests over one store (two nodes sharing
 * it, or a node and the one before it) agree on every id, and each learns the sensors the other created.
 */

const log = pino({ level: 'silent' });
const T0 = Date.UTC(2026, 4, 1, 10, 0, 0);
const stores: SqliteTelemetryStore[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

async function node(
  file: string,
): Promise<{ ingest: Ingest; registry: Registry; store: SqliteTelemetryStore }> {
  const store = new SqliteTelemetryStore({ file, log, readers: 1, queryTimeoutMs: 10_000 });
  stores.push(store);
  const registry = new Registry(await store.open(), 1000);
  const ingest = new Ingest(store, registry, new RateLimiter(1e9, 1e9), { maxQueued: 100_000 }, log);
  return { ingest, registry, store };
}

function reading(metric: string, seq: number, value: number, unit?: string): ValidReading {
  return { metric, value, seq, ts: T0 + seq, unit, tags: undefined };
}

describe('telemetry registry: ids from the store', () => {
  it('two ingests over one store agree on ids and learn each other’s sensors and statistics', async () => {
    const file = path.join(tempDataDir(), 't.db');
    const a = await node(file);
    const b = await node(file); // opened before A reports anything: its registry starts empty
    expect(
      await a.ingest.submit('s', { kind: 'k' }, [reading('t', 1, 20, 'C'), reading('t', 2, 21)], T0),
    ).toEqual({
      accepted: 2,
      duplicates: 0,
    });
    expect(b.registry.sensor('s')).toBeUndefined();
    // B hears of 's' for the first time, with a resend of seq 2 and a new metric.
    expect(await b.ingest.submit('s', {}, [reading('t', 2, 21), reading('h', 3, 50, '%')], T0 + 10)).toEqual({
      accepted: 1,
      duplicates: 1,
    });
    const sa = a.registry.sensor('s')!;
    const sb = b.registry.sensor('s')!;
    expect(sb.id).toBe(sa.id);
    expect(sb.kind).toBe('k');
    expect(sb.series.get('t')!.id).toBe(sa.series.get('t')!.id);
    expect(sb.series.get('t')).toMatchObject({ count: 2, lastValue: 21, unit: 'C' });
    // A learns the series B created, with B's id, when it first sees it.
    expect(await a.ingest.submit('s', {}, [reading('h', 3, 50), reading('h', 4, 51)], T0 + 20)).toEqual({
      accepted: 1,
      duplicates: 1,
    });
    expect(a.registry.sensor('s')!.series.get('h')!.id).toBe(sb.series.get('h')!.id);
  });

  it('concurrent first reports of a new sensor share one define and lose nothing', async () => {
    const { ingest, registry } = await node(path.join(tempDataDir(), 't.db'));
    const acks = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ingest.submit('new', {}, [reading(`m${i % 4}`, i, i)], T0)),
    );
    expect(acks.reduce((n, a) => n + a.accepted, 0)).toBe(20);
    const sensor = registry.sensor('new')!;
    expect([...sensor.series.keys()].sort()).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect([...sensor.series.values()].reduce((n, s) => n + s.count, 0)).toBe(20);
    expect(ingest.queued).toBe(0);
  });

  it('refuses the report, queueing nothing, when the store cannot define the sensor', async () => {
    const { ingest, store } = await node(path.join(tempDataDir(), 't.db'));
    await store.close();
    await expect(ingest.submit('x', {}, [reading('t', 1, 1)], T0)).rejects.toMatchObject({
      code: 'TELEMETRY_STORAGE',
    });
    expect(ingest.queued).toBe(0);
  });
});

describe('telemetry registry: units across nodes', () => {
  it('refuses a unit that differs from the one another node stored for the series', async () => {
    const file = path.join(tempDataDir(), 't.db');
    const a = await node(file);
    const b = await node(file);
    await a.ingest.submit('s', {}, [reading('t', 1, 20, 'C')], T0);
    await expect(b.ingest.submit('s', {}, [reading('t', 2, 70, 'F')], T0)).rejects.toMatchObject({
      code: 'TELEMETRY_INVALID_READING',
    });
    expect(b.ingest.queued).toBe(0);
  });
});
