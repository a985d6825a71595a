import net from 'node:net';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NexoError } from '../../src/errors.js';
import type { EngineHealth } from '../../src/storage/health.js';
import { openPostgres, type Postgres } from '../../src/storage/postgres/postgres.js';
import { dropSchema, enginesMissing, PG_URL, uniqueName } from '../helpers/engines.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const missing = await enginesMissing();

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.skipIf(missing)('openPostgres', () => {
  const schema = uniqueName('nxpg');
  let db: Postgres;

  beforeAll(async () => {
    db = await openPostgres(PG_URL, { schema, createSchema: true, probeMs: 100 });
  });
  afterAll(async () => {
    await db?.close();
    await dropSchema(schema);
  });

  it('refuses at start-up with one line naming the URL, password hidden', async () => {
    const port = await deadPort();
    const err = await openPostgres(`postgres://nexo:s3cret@127.0.0.1:${port}/nexo`).catch((e) => e);
    expect(err).toBeInstanceOf(NexoError);
    expect(err.code).toBe('STORAGE_UNAVAILABLE');
    expect(err.message).toBe(
      `cannot connect to PostgreSQL at postgres://nexo:***@127.0.0.1:${port}/nexo: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(err.message).not.toContain('s3cret');
  });

  it('rejects a schema name that is not a plain identifier', async () => {
    await expect(openPostgres(PG_URL, { schema: 'x; DROP TABLE y' })).rejects.toThrow(/schema must match/);
  });

  it('works in its own schema', async () => {
    await db.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
    await db.query('INSERT INTO t VALUES ($1, $2)', [1, 'one']);
    const { rows } = await db.query<{ schema: string; v: string }>(
      'SELECT current_schema() AS schema, v FROM t',
    );
    expect(rows).toEqual([{ schema, v: 'one' }]);
    expect(db.health()).toMatchObject({ engine: 'postgres', up: true });
  });

  it('commits a transaction, and rolls it back when the function throws', async () => {
    await db.query('CREATE TABLE tx (id int PRIMARY KEY)');
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO tx VALUES (1)');
      await tx.query('INSERT INTO tx VALUES (2)');
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO tx VALUES (3)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    const { rows } = await db.query('SELECT id FROM tx ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([1, 2]);
    expect(db.poolStats().waiting).toBe(0);
  });

  it('passes a non-transient error through unchanged, tried once', async () => {
    const err = await db.query('SELEKT 1').catch((e) => e);
    expect(err).not.toBeInstanceOf(NexoError);
    expect(err.code).toBe('42601');
    const dup = await db.query('INSERT INTO t VALUES (1, $1)', ['again']).catch((e) => e);
    expect(dup.code).toBe('23505');
  });

  it('retries a statement whose backend was terminated, and the engine stays usable', async () => {
    const changes: boolean[] = [];
    const off = db.onHealth((h) => changes.push(h.up));
    const killer = await openPostgres(PG_URL, { probeMs: 0 });
    try {
      const slow = db.query<{ n: number }>("SELECT 7 AS n, pg_sleep(0.4), 'marker-retry'");
      await until(() => true, 100);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const { rows } = await killer.query(
        "SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE query LIKE '%marker-retry%' AND pid <> pg_backend_pid()",
      );
      expect(rows.length).toBe(1);
      expect((await slow).rows[0]?.n).toBe(7);
      // The dropped connection marked it down for a moment; the retry's success marked it up again.
      expect(changes).toEqual([false, true]);
      expect(db.health().up).toBe(true);
    } finally {
      off();
      await killer.close();
    }
  });

  it('survives its backend ending between two statements of a transaction, and runs it again', async () => {
    // The server's FATAL (57P01) reaches a checked-out client with no statement running: pg emits 'error'
    // on the client, and without a listener that is an uncaught exception (the node process ended).
    await db.query('CREATE TABLE IF NOT EXISTS between (id int PRIMARY KEY)');
    const killer = await openPostgres(PG_URL, { probeMs: 0 });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    let runs = 0;
    try {
      await db.transaction(async (tx) => {
        runs++;
        const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        if (runs === 1) {
          await killer.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
          // Idle in the transaction while the FATAL arrives.
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
        await tx.query('INSERT INTO between VALUES (1) ON CONFLICT DO NOTHING');
      });
    } finally {
      process.off('uncaughtException', onUncaught);
      await killer.close();
    }
    expect(uncaught).toEqual([]);
    expect(runs).toBe(2);
    expect((await db.query('SELECT count(*)::int AS n FROM between')).rows[0]?.n).toBe(1);
    expect(db.health().up).toBe(true);
  });

  it('reports STORAGE_UNAVAILABLE while the database is away, and recovers by itself', async () => {
    const proxy = await TcpProxy.start(Number(new URL(PG_URL).port));
    const via = new URL(PG_URL);
    via.port = String(proxy.port);
    const seen: EngineHealth[] = [];
    const remote = await openPostgres(via.toString(), { probeMs: 50, attempts: 2 });
    remote.onHealth((h) => seen.push(h));
    try {
      expect((await remote.query('SELECT 1 AS one')).rows[0]?.one).toBe(1);
      proxy.refusing = true;
      proxy.cutAll();
      const err = await remote.query('SELECT 1').catch((e) => e);
      expect(err).toBeInstanceOf(NexoError);
      expect(err.code).toBe('STORAGE_UNAVAILABLE');
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(
        /^PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/test is unavailable: /,
      );
      expect(remote.health()).toMatchObject({ up: false });
      expect(remote.health().error).toBeTruthy();
      proxy.refusing = false;
      // The probe notices without any traffic from callers.
      await until(() => remote.health().up, 3000);
      expect(seen.map((h) => h.up)).toEqual([false, true]);
      expect((await remote.query('SELECT 2 AS two')).rows[0]?.two).toBe(2);
    } finally {
      await remote.close();
      await proxy.close();
    }
  });

  it('a transaction left idle (its node cut off) is ended by the server, and its row lock freed', async () => {
    const short = await openPostgres(PG_URL, { schema, idleInTransactionMs: 300, probeMs: 0 });
    try {
      await short.query('CREATE TABLE IF NOT EXISTS idle_lock (id int PRIMARY KEY)');
      await short.query('INSERT INTO idle_lock VALUES (1) ON CONFLICT DO NOTHING');
      const settings = await short.query<{ t: string; k: string }>(
        "SELECT current_setting('idle_in_transaction_session_timeout') AS t, current_setting('tcp_keepalives_idle') AS k",
      );
      expect(settings.rows[0]).toEqual({ t: '300ms', k: '5' });
      // A transaction that takes a row lock and then hears nothing more, as from a partitioned node.
      const orphan = await (short as unknown as { pool: pg.Pool }).pool.connect();
      orphan.on('error', () => {});
      await orphan.query('BEGIN');
      await orphan.query('SELECT id FROM idle_lock WHERE id = 1 FOR UPDATE');
      const started = Date.now();
      // Another session waits for the lock, and gets it once the server ends the idle one.
      await db.query('UPDATE idle_lock SET id = 1 WHERE id = 1');
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(10_000);
      await expect(orphan.query('SELECT 1')).rejects.toThrow();
      orphan.release(true);
    } finally {
      await short.close();
    }
  });

  it('refuses calls after close with STORAGE_UNAVAILABLE', async () => {
    const other = await openPostgres(PG_URL, { probeMs: 0 });
    await other.close();
    await expect(other.query('SELECT 1')).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
  });
});
