import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import { connect } from '../../src/client/index.js';
import { createSchema, dropSchema, enginesMissing, PG_URL, uniqueName } from '../helpers/engines.js';
import { CLI, type ServerProcess, spawnServer } from '../helpers/node.js';
import { sharedNodeArgs } from '../helpers/shared-nodes.js';
import { eventually } from '../helpers/telemetry.js';

/**
 * `kill -9` of a node mid-ingest. Two real `nexo server` processes share one PostgreSQL schema and one NATS
 * cluster prefix; a sensor (the CLI's `nexo sensor`, endpoints A then B) reports as fast as acks allow
 * through A, and A is killed with SIGKILL while batches are in flight. The sensor fails over to B and
 * sends again what A had not acknowledged, with the same seq numbers. Afterwards every reading it reported
 * is in PostgreSQL exactly once, and a resend of readings A had acknowledged counts as duplicates only.
 */

const missing = await enginesMissing();

interface AckLine {
  sensor: string;
  first: number;
  last: number;
  count: number;
  accepted: number;
  duplicates: number;
}
interface Summary {
  reported: number;
  acked: number;
  duplicates: number;
  rejected: number;
  dropped: number;
  unacknowledged: number;
}

async function storedSeqs(schema: string, sensor: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ seq: number }>(
      `SELECT r.seq::float8 AS seq FROM ${schema}.telemetry_readings r
       JOIN ${schema}.telemetry_sensors s ON s.id = r.sensor WHERE s.name = $1 ORDER BY r.seq`,
      [sensor],
    );
    return rows.map((r) => r.seq);
  } finally {
    await client.end();
  }
}

describe.skipIf(missing)('kill -9 of a node mid-ingest (two nodes sharing PostgreSQL and NATS)', () => {
  const schema = uniqueName('nxkill');
  const cluster = uniqueName('nxkill');
  let a: ServerProcess;
  let b: ServerProcess;
  let sensor: ChildProcess | undefined;
  let lib: NexoClient | undefined;

  beforeAll(async () => {
    await createSchema(schema);
    const shared = (id: string) => [...sharedNodeArgs(schema, cluster, id), '--sensor-rate', '0'];
    // One after the other: both apply migrations under the advisory lock anyway.
    a = await spawnServer(shared('kill-a'));
    b = await spawnServer(shared('kill-b'));
  }, 150_000);
  afterAll(async () => {
    sensor?.kill('SIGKILL');
    lib?.destroy();
    await a?.stop('SIGKILL');
    await b?.stop();
    await dropSchema(schema);
  });

  it('every reading the sensor reported is stored once, and resends through B are duplicates', async () => {
    // The library's own failover: a batch acknowledged by A, resent after A dies, lands on B as duplicates.
    lib = await connect({
      endpoints: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`],
      reconnect: { initialDelayMs: 50, maxDelayMs: 500, maxAttempts: 50 },
    });
    const early = Array.from({ length: 50 }, (_, i) => ({ metric: 't', value: i, seq: i + 1, ts: 1e12 + i }));
    expect(await lib.telemetry.reportBatch('lib1', early)).toEqual({ accepted: 50, duplicates: 0 });
    expect(lib.endpoint).toBe(`127.0.0.1:${a.port}`);

    sensor = spawn(
      process.execPath,
      [
        CLI,
        'sensor',
        '--id',
        'fast1',
        '-s',
        `127.0.0.1:${a.port},127.0.0.1:${b.port}`,
        '--every',
        '0',
        '--batch',
        '20',
        '--count',
        '4000',
        '--json',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', NEXO_SERVER: '' } },
    );
    let stdout = '';
    let stderr = '';
    sensor.stdout!.on('data', (d) => (stdout += d));
    sensor.stderr!.on('data', (d) => (stderr += d));
    const exited = once(sensor, 'exit');
    const acks = () =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{"sensor"'))
        .map((l) => JSON.parse(l) as AckLine);

    // Mid-ingest: A has acknowledged a good part, and the sensor keeps four batches in flight.
    await eventually(() => (acks().length >= 40 ? true : undefined), 30_000);
    const beforeKill = acks().length;
    expect(await a.stop('SIGKILL')).toBe(null);
    expect(a.child.signalCode).toBe('SIGKILL');

    const [code] = await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`sensor did not finish:\n${stderr}`)), 90_000),
      ),
    ]);
    expect(code, stderr).toBe(0);
    const lines = acks();
    const summary = (
      JSON.parse(stdout.trim().split('\n').at(-1)!) as {
        summary: Summary;
      }
    ).summary;
    expect(lines.length).toBeGreaterThan(beforeKill); // it went on through B
    expect(summary).toMatchObject({ reported: 4000, rejected: 0, dropped: 0, unacknowledged: 0 });
    // Each reading is acknowledged once: by A, or by B, as new or, when A had committed it but
    // died before its ack, as already stored (a duplicate).
    expect(summary.acked).toBe(4000);
    expect(lines.reduce((n, l) => n + l.duplicates, 0)).toBe(summary.duplicates);
    expect(stderr).toMatch(/buffering \(\d+ unacknowledged\)/);

    // Every reported seq is in PostgreSQL, once: first..first+3999 and nothing else.
    const first = Math.min(...lines.map((l) => l.first));
    const seqs = await storedSeqs(schema, 'fast1');
    expect(seqs).toHaveLength(4000);
    expect(seqs[0]).toBe(first);
    expect(seqs.at(-1)).toBe(first + 3999);
    expect(new Set(seqs).size).toBe(4000);
    // New plus already-stored add up to what is stored: an ack never claimed a reading that is
    // not there. (Already stored means A committed it; its ack was lost with A.)
    expect(lines.reduce((n, l) => n + l.accepted, 0)).toBe(4000 - summary.duplicates);
    console.log(
      `kill -9 mid-ingest: ${beforeKill} acks before the kill, ${lines.length} in all; ${summary.duplicates} readings resent through B were already stored`,
    );

    // The library client fails over to B: A's acknowledged batch again (same seq) plus new readings.
    const again = [
      ...early,
      ...Array.from({ length: 50 }, (_, i) => ({
        metric: 't',
        value: 50 + i,
        seq: 51 + i,
        ts: 1e12 + 50 + i,
      })),
    ];
    expect(await lib.telemetry.reportBatch('lib1', again)).toEqual({ accepted: 50, duplicates: 50 });
    expect(lib.endpoint).toBe(`127.0.0.1:${b.port}`);
    expect(await storedSeqs(schema, 'lib1')).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    // B is still ready, and answers the readings A stored.
    const { readings } = await lib.telemetry.readings({ sensor: 'lib1', metric: 't', from: 0, limit: 1000 });
    expect(readings.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  }, 150_000);
});
