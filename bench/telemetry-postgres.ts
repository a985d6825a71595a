/**
 * Issue #14 benchmark: telemetry into PostgreSQL (`--storage postgres`), in one run:
 *   (a) how to write a batch: multi-row INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING against COPY
 *       into a temporary staging table then INSERT … SELECT … ON CONFLICT DO NOTHING, one transaction per
 *       batch, for batches of 1, 10, 100 and 1000 rows on one connection (the store uses the faster);
 *   (b) the raw ceiling: the bench process writes the same rows (20 sensors, batches of 100, one transaction
 *       per batch, the faster method of (a)) from 20 concurrent connections straight to PostgreSQL, with the
 *       same durability (synchronous_commit as the server has it) and no nexo;
 *   (c) nexo: a node with `--storage postgres` in its own process, 20 sensors reporting batches of 100 (4 in
 *       flight each) and single readings (64 in flight each); every ack means COMMIT returned.
 * Each case gets a schema of its own, dropped after.
 */
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { MIGRATIONS } from '../src/services/telemetry/postgres/schema.js';
import { fmt, measureWindow, spawnBenchServer, table } from './harness.js';
import { nexoLoad } from './telemetry.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const PG_URL = process.env.NEXO_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env.NEXO_BENCH_NATS ?? 'nats://127.0.0.1:4222';
const SENSORS = 20;

type Method = 'unnest' | 'copy';

function schemaName(): string {
  return `nxbench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

async function withSchema<T>(fn: (schema: string) => Promise<T>): Promise<T> {
  const schema = schemaName();
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
    return await fn(schema);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}

async function client(schema: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await c.connect();
  return c;
}

/** The store's own tables (migration 1), so the raw writer meets the same indexes. */
async function createTables(schema: string): Promise<void> {
  const c = await client(schema);
  try {
    await c.query(MIGRATIONS[0]!.sql);
  } finally {
    await c.end();
  }
}

interface Rows {
  sensor: number[];
  seq: number[];
  series: number[];
  ts: number[];
  recv: number[];
  value: number[];
}

function rows(sensor: number, firstSeq: number, n: number): Rows {
  const now = Date.now();
  const r: Rows = { sensor: [], seq: [], series: [], ts: [], recv: [], value: [] };
  for (let i = 0; i < n; i++) {
    r.sensor.push(sensor);
    r.seq.push(firstSeq + i);
    r.series.push(sensor);
    r.ts.push(now);
    r.recv.push(now);
    r.value.push(20 + i / 100);
  }
  return r;
}

const UNNEST = `INSERT INTO telemetry_readings (sensor, seq, series, ts, recv, value, tags)
  SELECT s, q, r, t, v2, v, NULL FROM unnest($1::int[], $2::bigint[], $3::int[], $4::bigint[], $5::bigint[], $6::float8[])
    AS x(s, q, r, t, v2, v)
  ON CONFLICT DO NOTHING RETURNING sensor, seq`;

/** One batch, one transaction, by `method`; resolves after COMMIT. */
async function writeBatch(c: pg.Client, method: Method, r: Rows): Promise<number> {
  await c.query('BEGIN');
  let inserted: number;
  if (method === 'unnest') {
    inserted = (await c.query(UNNEST, [r.sensor, r.seq, r.series, r.ts, r.recv, r.value])).rowCount ?? 0;
  } else {
    await c.query(
      'CREATE TEMP TABLE IF NOT EXISTS staging (sensor int, seq bigint, series int, ts bigint, recv bigint, value float8) ON COMMIT DELETE ROWS',
    );
    const lines: string[] = [];
    for (let i = 0; i < r.sensor.length; i++) {
      lines.push(`${r.sensor[i]}\t${r.seq[i]}\t${r.series[i]}\t${r.ts[i]}\t${r.recv[i]}\t${r.value[i]}\n`);
    }
    await new Promise<void>((resolve, reject) => {
      const stream = c.query(copyFrom('COPY staging FROM STDIN'));
      stream.on('finish', resolve);
      stream.on('error', reject);
      stream.end(lines.join(''));
    });
    inserted =
      (
        await c.query(
          `INSERT INTO telemetry_readings (sensor, seq, series, ts, recv, value)
           SELECT * FROM staging ON CONFLICT DO NOTHING RETURNING sensor, seq`,
        )
      ).rowCount ?? 0;
  }
  await c.query('COMMIT');
  return inserted;
}

/** (a) rows/s for each batch size and method, one connection, sequential transactions. */
async function compareMethods(): Promise<{ text: string; best100: Method }> {
  const out: string[][] = [];
  let best100: Method = 'unnest';
  for (const size of [1, 10, 100, 1000]) {
    const rate: Record<Method, number> = { unnest: 0, copy: 0 };
    for (const method of ['unnest', 'copy'] as const) {
      rate[method] = await withSchema(async (schema) => {
        await createTables(schema);
        const c = await client(schema);
        try {
          let seq = 0;
          let n = 0;
          const ms = Math.min(1500, SECONDS * 500);
          const started = performance.now();
          while (performance.now() - started < ms) {
            n += await writeBatch(c, method, rows(1, seq, size));
            seq += size;
          }
          return n / ((performance.now() - started) / 1000);
        } finally {
          await c.end();
        }
      });
    }
    if (size === 100) best100 = rate.copy > rate.unnest ? 'copy' : 'unnest';
    out.push([
      `batch of ${size}`,
      fmt.rate(rate.unnest),
      fmt.rate(rate.copy),
      rate.copy > rate.unnest ? 'COPY' : 'unnest',
    ]);
  }
  return { text: table(['rows/s, 1 connection', 'unnest', 'COPY+staging', 'faster'], out), best100 };
}

/** (b) 20 sensors, each its own connection, batches of 100 in one transaction each, for SECONDS. */
async function rawCeiling(method: Method): Promise<number> {
  return withSchema(async (schema) => {
    await createTables(schema);
    const clients = await Promise.all(Array.from({ length: SENSORS }, () => client(schema)));
    let recording = false;
    let stop = false;
    let written = 0;
    const loops = clients.map(async (c, s) => {
      let seq = 0;
      while (!stop) {
        const n = await writeBatch(c, method, rows(s + 1, seq, 100));
        seq += 100;
        if (recording) written += n;
      }
    });
    const seconds = await measureWindow({ warmupMs: 500, seconds: SECONDS }, (on) => {
      recording = on;
    });
    stop = true;
    await Promise.all(loops);
    await Promise.all(clients.map((c) => c.end()));
    return written / seconds;
  });
}

/** (c) the node on PostgreSQL, in its own process. */
async function nexoOnPostgres(): Promise<{ batched: number; acks: number; single: number }> {
  return withSchema(async (schema) => {
    const url = new URL(PG_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const server = await spawnBenchServer('telemetry-server.js', ['postgres', url.toString(), NATS_URL]);
    try {
      const batched = await nexoLoad(server.port, 100, 4);
      const single = await nexoLoad(server.port, 1, 64);
      return { batched: batched.rate, acks: batched.acks, single: single.rate };
    } finally {
      await server.stop();
    }
  });
}

export async function benchTelemetryPostgres(): Promise<{ text: string }> {
  const methods = await compareMethods();
  const ceiling = await rawCeiling(methods.best100);
  const nexo = await nexoOnPostgres();
  const { rows: settings } = await (async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      return await c.query<{ name: string; setting: string }>(
        "SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'server_version')",
      );
    } finally {
      await c.end();
    }
  })();
  const rowsOut: string[][] = [
    [
      `raw PostgreSQL, 20 connections, batches of 100 (${methods.best100}) (ceiling)`,
      fmt.rate(ceiling),
      '100%',
      '',
      'one transaction per batch',
    ],
    [
      'nexo --storage postgres, 20 sensors, batches of 100',
      fmt.rate(nexo.batched),
      fmt.pct(nexo.batched / ceiling),
      `${fmt.rate(nexo.acks)} acks/s`,
      'acked after COMMIT (target >= 50%)',
    ],
    [
      'nexo --storage postgres, 20 sensors, single readings, 64 in flight',
      fmt.rate(nexo.single),
      fmt.pct(nexo.single / ceiling),
      '',
      'acked after COMMIT (target >= 25k/s)',
    ],
  ];
  const engine = settings.map((s) => `${s.name}=${s.setting}`).join(', ');
  return {
    text: `${methods.text}\n\n${table(['readings/s', 'rate', 'of ceiling', 'ratio', 'note'], rowsOut)}\nPostgreSQL: ${engine}`,
  };
}
