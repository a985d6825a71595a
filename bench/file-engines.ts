/**
 * The measurement behind the shared content store's choice (docs/architecture.md, "Shared file contents"):
 * 100 MiB through PostgreSQL `bytea` rows and through NATS JetStream's object store, each with its own client
 * and one connection. Run by hand: `npx tsx bench/file-engines.ts` (engines from NEXO_TEST_POSTGRES and
 * NEXO_TEST_NATS, default the loopback ones); it creates and drops its own schema and bucket.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Objm } from '@nats-io/obj';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';

const PG_URL = process.env.NEXO_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env.NEXO_TEST_NATS ?? 'nats://127.0.0.1:4222';
const TOTAL = 100 * 1024 * 1024;
const mbs = (ms: number) => (TOTAL / 1e6 / (ms / 1000)).toFixed(0);

async function postgres(row: number, oneTransaction: boolean): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  const schema = `nxf_m_${randomBytes(4).toString('hex')}`;
  try {
    await c.query(`CREATE SCHEMA ${schema}; SET search_path = ${schema}`);
    await c.query('CREATE TABLE chunks (obj bigint, pos bigint, data bytea, PRIMARY KEY (obj, pos))');
    await c.query('ALTER TABLE chunks ALTER COLUMN data SET STORAGE EXTERNAL');
    const buf = randomBytes(row);
    let t = performance.now();
    if (oneTransaction) await c.query('BEGIN');
    for (let pos = 0; pos < TOTAL; pos += row)
      await c.query('INSERT INTO chunks VALUES (1, $1, $2)', [pos, buf]);
    if (oneTransaction) await c.query('COMMIT');
    const put = performance.now() - t;
    t = performance.now();
    let got = 0;
    const span = Math.max(row, 4 << 20);
    for (let pos = 0; pos < TOTAL; pos += span) {
      const r = await c.query<{ data: Buffer }>(
        'SELECT data FROM chunks WHERE obj = 1 AND pos >= $1 AND pos < $2 ORDER BY pos',
        [pos, pos + span],
      );
      for (const x of r.rows) got += x.data.length;
    }
    const get = performance.now() - t;
    if (got !== TOTAL) throw new Error(`read ${got} of ${TOTAL} bytes`);
    const how = oneTransaction ? 'one transaction' : 'a commit per row';
    console.log(
      `postgres bytea rows of ${row >> 10} KiB, ${how}: put ${mbs(put)} MB/s, get ${mbs(get)} MB/s`,
    );
  } finally {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  }
}

async function nats(chunk: number): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  const store = await new Objm(nc).create(`nxf_m_${randomBytes(4).toString('hex')}`, { storage: 'file' });
  try {
    const buf = randomBytes(chunk);
    let sent = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < TOTAL / chunk) controller.enqueue(buf);
        else controller.close();
      },
    });
    let t = performance.now();
    await store.put({ name: 'x', options: { max_chunk_size: chunk } }, source);
    const put = performance.now() - t;
    t = performance.now();
    const object = await store.get('x');
    const reader = object!.data.getReader();
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got += value.length;
    }
    const get = performance.now() - t;
    if (got !== TOTAL) throw new Error(`read ${got} of ${TOTAL} bytes`);
    console.log(
      `nats object store, chunks of ${chunk >> 10} KiB: put ${mbs(put)} MB/s, get ${mbs(get)} MB/s`,
    );
  } finally {
    await store.destroy();
    await nc.close();
  }
}

console.log(
  `load average ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
await postgres(1 << 20, true);
await postgres(1 << 20, false);
await postgres(256 << 10, false);
await nats(128 << 10);
await nats(1 << 20);
