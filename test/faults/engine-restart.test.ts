import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import { connect } from '../../src/client/index.js';
import { NexoError } from '../../src/errors.js';
import {
  type EngineProcess,
  engineProgramsMissing,
  startOwnNats,
  startOwnPostgres,
} from '../helpers/engine-processes.js';
import { uniqueName } from '../helpers/engines.js';
import { CLI, freePort, type ServerProcess, spawnServer } from '../helpers/node.js';
import { eventually } from '../helpers/telemetry.js';

/**
 * PostgreSQL and NATS restarted under a node that is ingesting. The engines are the test's own (the
 * machine's shared ones serve other test runs and are never touched); the node is a real `nexo server`
 * process and the sensor the CLI's `nexo sensor`. While an engine is away the node answers /readyz 503
 * STORAGE_UNAVAILABLE and a report gets STORAGE_UNAVAILABLE (retryable, docs/protocol.md §error codes);
 * the sensor buffers and sends again; when the engine is back everything resumes by itself, the node never
 * exits, and every reading the sensor reported is stored exactly once.
 */

const missing = engineProgramsMissing();

interface Ready {
  status?: string;
  error?: { code: string; message: string };
}

describe.skipIf(missing)('engines restarted under a node that is ingesting', () => {
  let db: EngineProcess;
  let nats: EngineProcess;
  let node: ServerProcess;
  let other: ServerProcess;
  let http: string;
  let sensor: ChildProcess | undefined;
  let client: NexoClient | undefined;
  let onB: NexoClient | undefined;

  beforeAll(async () => {
    [db, nats] = await Promise.all([startOwnPostgres(), startOwnNats()]);
    const httpPort = await freePort();
    const cluster = uniqueName('nxrs');
    const shared = (id: string) => [
      '--node-id',
      id,
      '--storage',
      'postgres',
      '--postgres',
      db.url,
      '--nats',
      nats.url,
      '--cluster',
      cluster,
      '--sensor-rate',
      '0',
    ];
    node = await spawnServer([
      ...shared('restart-a'),
      '--http-host',
      '127.0.0.1',
      '--http-port',
      String(httpPort),
    ]);
    // A second node on the same engines: live traffic between the two must resume after NATS is back.
    other = await spawnServer(shared('restart-b'));
    http = `http://127.0.0.1:${httpPort}`;
  }, 180_000);
  afterAll(async () => {
    sensor?.kill('SIGKILL');
    client?.destroy();
    onB?.destroy();
    await node?.stop('SIGKILL');
    await other?.stop('SIGKILL');
    await Promise.all([db?.close(), nats?.close()]);
  });

  const readyz = async (): Promise<{ status: number; body: Ready }> => {
    const response = await fetch(`${http}/readyz`);
    return { status: response.status, body: (await response.json()) as Ready };
  };

  const stored = async (sensorName: string): Promise<number[]> => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ seq: number }>(
        `SELECT r.seq::float8 AS seq FROM telemetry_readings r JOIN telemetry_sensors s ON s.id = r.sensor
         WHERE s.name = $1 ORDER BY r.seq`,
        [sensorName],
      );
      return rows.map((r) => r.seq);
    } finally {
      await c.end();
    }
  };

  it('goes unready, refuses with STORAGE_UNAVAILABLE, resumes by itself, and loses nothing acked', async () => {
    onTestFailed(() => {
      console.log(
        `node A said:\n${node.output().slice(-6000)}\nnode B said:\n${other.output().slice(-3000)}`,
      );
    });
    expect((await readyz()).status).toBe(200);
    client = await connect({ endpoints: [`127.0.0.1:${node.port}`] });
    onB = await connect({ endpoints: [`127.0.0.1:${other.port}`] });
    // Opened once, before any outage: they must keep working across both engines' restarts.
    const watched: number[] = [];
    const watch = await onB.telemetry.watch(
      { sensors: ['probe'] },
      { onReading: (r) => watched.push(r.seq ?? Number.NaN) },
    );
    const heard: string[] = [];
    await onB.chat.join('outage', 'bea', (e) => {
      if (e.type === 'message') heard.push(e.text);
    });
    const ana = await client.chat.join('outage', 'ana', () => {});
    expect(await client.telemetry.report('probe', { metric: 't', value: 1, seq: 1 })).toEqual({
      accepted: 1,
      duplicates: 0,
    });

    sensor = spawn(
      process.execPath,
      [CLI, 'sensor', '--id', 'steady', '-s', `127.0.0.1:${node.port}`, '--every', '20ms', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', NEXO_SERVER: '' } },
    );
    let stdout = '';
    let stderr = '';
    sensor.stdout!.on('data', (d) => (stdout += d));
    sensor.stderr!.on('data', (d) => (stderr += d));
    const exited = once(sensor, 'exit');
    const acks = () => stdout.split('\n').filter((l) => l.startsWith('{"sensor"')).length;
    const acksAfter = async (n: number) => {
      const from = acks();
      await eventually(() => (acks() >= from + n ? true : undefined), 30_000);
    };
    await acksAfter(20);

    // ---- PostgreSQL away: stopped (fast shutdown ends the node's sessions), started again a while later.
    await db.stop();
    await eventually(async () => ((await readyz()).status === 503 ? true : undefined), 10_000);
    const down = await readyz();
    expect(down.body.error?.code).toBe('STORAGE_UNAVAILABLE');
    expect(down.body.error?.message).toMatch(
      /postgres at postgres:\/\/postgres@127\.0\.0\.1:\d+\/test is unreachable/,
    );
    const refused = await client.telemetry.report('probe', { metric: 't', value: 2, seq: 2 }).catch((e) => e);
    expect(refused).toBeInstanceOf(NexoError);
    expect(refused.code).toBe('STORAGE_UNAVAILABLE');
    expect(refused.retryable).toBe(true);
    // Nor a sensor's first report (its id comes from the store).
    const newcomer = await client.telemetry
      .report('newcomer', { metric: 't', value: 1, seq: 1 })
      .catch((e) => e);
    expect(newcomer).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true });
    // A chat message is not taken either (its seq comes from the store): the sender may send it again.
    const unsaid = await ana.say('while the database is away').catch((e) => e);
    expect(unsaid).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true });
    const api = await fetch(`${http}/api/telemetry/sensors/probe/readings?metric=t&from=0`);
    expect(api.status).toBe(503);
    expect(api.headers.get('retry-after')).toBe('1');
    expect(((await api.json()) as Ready).error?.code).toBe('STORAGE_UNAVAILABLE');
    await db.start();
    await eventually(async () => ((await readyz()).status === 200 ? true : undefined), 15_000);
    await acksAfter(20);
    expect(await client.telemetry.report('newcomer', { metric: 't', value: 1, seq: 1 })).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    // The refused report is sent again, as the code says: now it is stored.
    expect(await client.telemetry.report('probe', { metric: 't', value: 2, seq: 2 })).toEqual({
      accepted: 1,
      duplicates: 0,
    });

    // ---- PostgreSQL restarted in one go (as pg_ctlcluster restart does), then crashed (SIGKILL) and started:
    // it recovers from its WAL, and the node's pool finds it again.
    await db.restart();
    await acksAfter(20);
    await db.kill();
    await eventually(async () => ((await readyz()).status === 503 ? true : undefined), 10_000);
    await db.start();
    await eventually(async () => ((await readyz()).status === 200 ? true : undefined), 15_000);
    await acksAfter(20);
    expect(await stored('probe')).toEqual([1, 2]);

    // ---- NATS away, then back.
    await nats.stop();
    await eventually(async () => ((await readyz()).status === 503 ? true : undefined), 15_000);
    const natsDown = await readyz();
    expect(natsDown.body.error?.code).toBe('STORAGE_UNAVAILABLE');
    expect(natsDown.body.error?.message).toMatch(/nats at nats:\/\/127\.0\.0\.1:\d+ is unreachable/);
    // Reports need only PostgreSQL: still acknowledged after their commit (docs/configuration.md).
    expect(await client.telemetry.report('probe', { metric: 't', value: 3, seq: 3 })).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    // A chat message is stored and acknowledged; B's room reads it from the store once NATS is back.
    await ana.say('during the outage');
    await nats.start();
    await eventually(async () => ((await readyz()).status === 200 ? true : undefined), 20_000);
    await acksAfter(20);
    // B's watch and chat membership came through: new traffic from A reaches them (NATS resubscribed).
    expect(await client.telemetry.report('probe', { metric: 't', value: 4, seq: 4 })).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    await eventually(() => (watched.includes(4) ? true : undefined), 10_000);
    // §9.T.7.3 What A stored while NATS was away (seq 3) reaches B's watch from the store, once.
    await eventually(() => (watched.includes(3) ? true : undefined), 15_000);
    expect(watched.filter((seq) => seq === 3)).toHaveLength(1);
    expect(other.output()).toMatch(/watches caught up from the store after the bus came back/);
    await ana.say('after the outage');
    await eventually(() => (heard.includes('after the outage') ? true : undefined), 10_000);
    expect(heard).toEqual(['during the outage', 'after the outage']);
    console.log(
      `B's watch saw probe seqs ${JSON.stringify(watched)}; B's member heard ${JSON.stringify(heard)}`,
    );
    expect(new Set(watched).size, 'no reading pushed twice').toBe(watched.length);
    watch.stop();

    // The sensor stops on SIGINT after everything it reported is acknowledged.
    sensor.kill('SIGINT');
    const [code] = await exited;
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!).summary as {
      reported: number;
      unacknowledged: number;
      rejected: number;
      dropped: number;
    };
    expect(summary).toMatchObject({ unacknowledged: 0, rejected: 0, dropped: 0 });
    expect(stderr).toMatch(/buffering \(\d+ unacknowledged\)/);
    const seqs = await stored('steady');
    expect(seqs).toHaveLength(summary.reported);
    expect(new Set(seqs).size).toBe(summary.reported);
    expect(seqs.at(-1)! - seqs[0]!).toBe(summary.reported - 1);
    // The node never went down, and logged nothing fatal.
    expect(node.child.exitCode).toBe(null);
    expect(other.child.exitCode).toBe(null);
    expect(node.output()).not.toMatch(/"level":60/);
    console.log(`engine restarts: ${summary.reported} readings reported, all stored once`);
  }, 180_000);
});
