import { randomBytes } from 'node:crypto';
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../../src/client/client.js';
import type { NexoNode } from '../../../src/node/node.js';
import { openNats } from '../../../src/storage/nats/connection.js';
import {
  createSchema,
  dropSchema,
  enginesMissing,
  NATS_URL,
  pgUrlFor,
  uniqueName,
} from '../../helpers/engines.js';
import { startNode } from '../../helpers/node.js';
import { client, eventually } from '../../helpers/telemetry.js';

/**
 * Two nodes (own ports, own data directories) sharing one PostgreSQL schema (`--storage postgres`): a sensor
 * that reports alternately through both, resending some readings through the other, has every reading
 * stored exactly once, and both nodes answer readings, buckets and CSV identically.
 */

const missing = await enginesMissing();
const T0 = Date.UTC(2026, 4, 1, 10, 0, 0);

describe.skipIf(missing)('telemetry on two nodes sharing PostgreSQL', () => {
  const schema = uniqueName('nxtel');
  const nodes: (NexoNode & { port: number })[] = [];
  const clients: NexoClient[] = [];
  const cluster = uniqueName('nxtel');

  beforeAll(async () => {
    await createSchema(schema);
    for (let i = 0; i < 2; i++) {
      const node = await startNode({
        storage: 'postgres',
        postgres: pgUrlFor(schema),
        nats: NATS_URL,
        cluster,
        http: { port: 0 },
      });
      nodes.push(node);
      clients.push(await client(node.port));
    }
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    for (const n of nodes) await n.close({ timeoutMs: 1000 });
    await dropSchema(schema);
  });

  it('answers queries about a sensor that reported only through the other node', async () => {
    const [a, b] = clients as [NexoClient, NexoClient];
    const sensor = `only-a-${randomBytes(4).toString('hex')}`;
    for (let seq = 1; seq <= 3; seq++) {
      await a.telemetry.report(sensor, { metric: 'rh', value: seq, seq, ts: T0 + seq, unit: '%' });
    }
    // B never received a report of it: its registry learns it from the shared store on the first query.
    const page = await b.telemetry.readings({ sensor, metric: 'rh' });
    expect(page.readings.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(page.unit).toBe('%');
    expect((await b.telemetry.latest({ sensor })).readings).toHaveLength(1);
    expect((await b.telemetry.sensor(sensor)).sensor).toBe(sensor);
    // A sensor no node has seen is still unknown, and asking creates nothing.
    await expect(b.telemetry.readings({ sensor: `${sensor}-none`, metric: 'rh' })).rejects.toMatchObject({
      code: 'TELEMETRY_UNKNOWN_SENSOR',
    });
    await expect(a.telemetry.sensor(`${sensor}-none`)).rejects.toMatchObject({
      code: 'TELEMETRY_UNKNOWN_SENSOR',
    });
  });

  it('stores each reading once and answers identically through either node', async () => {
    const [a, b] = clients as [NexoClient, NexoClient];
    let accepted = 0;
    let duplicates = 0;
    const n = 200;
    // Batches of 10 alternate between the nodes; every third batch is resent through the other node too,
    // and the two sends race.
    for (let k = 0; k < n / 10; k++) {
      const readings = Array.from({ length: 10 }, (_, j) => {
        const seq = k * 10 + j;
        return { metric: 'temperature', value: seq / 4, seq, ts: T0 + seq * 1000, unit: '°C' };
      });
      const [first, second] = k % 2 === 0 ? [a, b] : [b, a];
      const sends = [first.telemetry.reportBatch('shared1', readings, { kind: 'thermo' })];
      if (k % 3 === 0) sends.push(second.telemetry.reportBatch('shared1', readings));
      for (const ack of await Promise.all(sends)) {
        accepted += ack.accepted;
        duplicates += ack.duplicates;
      }
    }
    expect(accepted).toBe(n);
    expect(duplicates).toBe(10 * Math.ceil(n / 30));
    const query = { sensor: 'shared1', metric: 'temperature', from: T0, to: T0 + n * 1000, limit: 1000 };
    const [ra, rb] = await Promise.all([a.telemetry.readings(query), b.telemetry.readings(query)]);
    expect(ra.readings.map((r) => r.seq)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(rb).toEqual(ra);
    const bq = { sensor: 'shared1', metric: 'temperature', from: T0, to: T0 + n * 1000, every: 60_000 };
    const [ba, bb] = await Promise.all([a.telemetry.buckets(bq), b.telemetry.buckets(bq)]);
    expect(ba.buckets.reduce((s, x) => s + x.count, 0)).toBe(n);
    expect(bb).toEqual(ba);
    const csv = await Promise.all(
      nodes.map(async (node) => {
        const url = `http://127.0.0.1:${node.httpAddress()!.port}/api/telemetry/sensors/shared1/readings.csv?metric=temperature&from=${T0}`;
        const response = await fetch(url);
        expect(response.status).toBe(200);
        return response.text();
      }),
    );
    expect(csv[0]!.trim().split('\n')).toHaveLength(n + 1);
    expect(csv[1]).toBe(csv[0]);
    // Both nodes know the sensor, with the same totals (the one that saw it second learnt it from the store).
    const [sa, sb] = await Promise.all([a.telemetry.sensor('shared1'), b.telemetry.sensor('shared1')]);
    expect(sa.kind).toBe('thermo');
    expect(sb.kind).toBe('thermo');
  });

  it("lists every node's sensors with the same totals and latest readings through either node (§9.T.7.2)", async () => {
    const [a, b] = clients as [NexoClient, NexoClient];
    const tag = randomBytes(3).toString('hex');
    const names = [`list-${tag}-a`, `list-${tag}-b`];
    await a.telemetry.report(names[0]!, { metric: 'rh', value: 1, seq: 1, ts: T0 + 1, unit: '%' });
    await b.telemetry.report(names[1]!, { metric: 'rh', value: 2, seq: 1, ts: T0 + 1, unit: '%' });
    // Each node has now seen the other's sensor... only through the store.
    const listed = async (c: NexoClient) => {
      const out = [];
      let after: string | undefined;
      for (let i = 0; i < 100; i++) {
        const page = await c.telemetry.sensors({ limit: 2, ...(after === undefined ? {} : { after }) });
        out.push(...page.sensors);
        if (page.next === undefined) break;
        after = page.next;
      }
      return out.filter((x) => names.includes(x.sensor));
    };
    expect((await listed(a)).map((x) => x.sensor)).toEqual(names);
    expect(await listed(b)).toEqual(await listed(a));
    // More readings through A alone: B, which knows the sensor already, shows A's totals and latest too.
    for (let seq = 2; seq <= 4; seq++) {
      await a.telemetry.report(names[0]!, { metric: 'rh', value: seq * 10, seq, ts: T0 + seq });
    }
    const [sa, sb] = await Promise.all([a.telemetry.sensor(names[0]!), b.telemetry.sensor(names[0]!)]);
    expect(sa.readings).toBe(4);
    expect(sb).toEqual(sa);
    const latestB = (await b.telemetry.latest()).readings.filter((r) => r.sensor === names[0]);
    expect(latestB.map((r) => [r.value, r.ts])).toEqual([[40, T0 + 4]]);
    expect((await b.telemetry.latest({ sensor: names[0]! })).readings.map((r) => r.value)).toEqual([40]);
  });

  it('a node learns a sensor that reported only through the other', async () => {
    const [a, b] = clients as [NexoClient, NexoClient];
    await a.telemetry.report('only-a', { metric: 'humidity', value: 40, seq: 1, unit: '%' });
    // B has never seen it: a resend through B is a duplicate, and a unit change is refused there too.
    expect(await b.telemetry.report('only-a', { metric: 'humidity', value: 40, seq: 1 })).toEqual({
      accepted: 0,
      duplicates: 1,
    });
    await expect(
      b.telemetry.report('only-a', { metric: 'humidity', value: 0.4, seq: 2, unit: 'ratio' }),
    ).rejects.toMatchObject({
      code: 'TELEMETRY_INVALID_READING',
    });
    const { readings } = await b.telemetry.readings({ sensor: 'only-a', metric: 'humidity', from: 0 });
    expect(readings.map((r) => r.value)).toEqual([40]);
  });

  it('a watch on A sees readings reported through B, and an alert fires once across the nodes', async () => {
    const [a, b] = clients as [NexoClient, NexoClient];
    const seen: number[] = [];
    const alertsA: string[] = [];
    const alertsB: string[] = [];
    const watchA = await a.telemetry.watch(
      { sensors: ['hot'] },
      { onReading: (r) => seen.push(r.value), onAlert: (e) => alertsA.push(e.state) },
    );
    const watchB = await b.telemetry.watch({ sensors: ['hot'] }, { onAlert: (e) => alertsB.push(e.state) });
    // The rule is created on A; B learns it over the bus.
    const { rule } = await a.telemetry.addAlert('t > 30 for 2s', { sensors: ['hot'] });
    await eventually(async () =>
      (await b.telemetry.alerts()).rules.some((r) => r.id === rule.id) ? true : undefined,
    );
    // Above the threshold from ts 0 to 3 s, reported alternately through B and A: the condition starts on
    // one node and completes its 2 s on the other; then back below (resolved) through B.
    const values = [31, 32, 33, 34, 20];
    for (const [i, value] of values.entries()) {
      const via = i % 2 === 0 ? b : a;
      await via.telemetry.report('hot', { metric: 't', value, seq: i, ts: T0 + i * 1000 });
      await new Promise((r) => setTimeout(r, 50)); // the bus carries each commit before the next report
    }
    await eventually(() => (seen.length === values.length ? true : undefined));
    expect(seen).toEqual(values);
    await eventually(() => (alertsA.length === 2 && alertsB.length === 2 ? true : undefined));
    expect(alertsA).toEqual(['firing', 'resolved']);
    expect(alertsB).toEqual(['firing', 'resolved']);
    // Recorded once, whichever node is asked.
    for (const c of [a, b]) {
      const { events } = await c.telemetry.alertEvents({ ruleId: rule.id, from: 0 });
      expect(events.map((e) => [e.state, e.since])).toEqual([
        ['resolved', T0 + 4000],
        ['firing', T0],
      ]);
    }
    watchA.stop();
    watchB.stop();
  });

  it('ignores malformed and hostile messages on the telemetry subjects, and keeps working', async () => {
    const [a, b] = clients as [NexoClient, NexoClient];
    const nats = await openNats([NATS_URL], { cluster });
    try {
      const junk: Uint8Array[] = [
        new Uint8Array(0),
        randomBytes(512),
        pack(null),
        pack('text'),
        pack({ from: 'x' }),
        pack({
          from: 'x',
          series: [[1, 1, 's', 'm', '']],
          row: [5],
          seq: [1],
          ts: [1],
          recv: [1],
          value: [1],
          tags: [],
        }),
        pack({ from: 'x', series: 'no', row: 'no' }),
        pack({ from: 'x', events: [{ bogus: true }] }),
        pack({ from: 'x', events: 'no' }),
        pack({ from: 'x', added: { id: 'no' } }),
        pack({ from: 'x', removed: 'no' }),
      ];
      for (const subject of ['telemetry.commits', 'telemetry.alerts', 'telemetry.rules']) {
        for (const data of junk) nats.nc.publish(nats.subject(subject), data);
      }
      await nats.nc.flush();
      const seen: number[] = [];
      const watch = await b.telemetry.watch(
        { sensors: ['after-junk'] },
        { onReading: (r) => seen.push(r.value) },
      );
      expect(await a.telemetry.report('after-junk', { metric: 't', value: 7, seq: 1 })).toEqual({
        accepted: 1,
        duplicates: 0,
      });
      await eventually(() => (seen.length === 1 ? true : undefined));
      expect(seen).toEqual([7]);
      watch.stop();
      expect((await b.telemetry.alerts()).rules.every((r) => typeof r.id === 'number')).toBe(true);
    } finally {
      await nats.close();
    }
  });
});
