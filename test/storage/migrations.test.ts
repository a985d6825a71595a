import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Migration,
  MigrationError,
  migrate,
  schemaVersion,
} from '../../src/storage/postgres/migrations.js';
import { openPostgres, type Postgres } from '../../src/storage/postgres/postgres.js';
import { dropSchema, enginesMissing, PG_URL, uniqueName } from '../helpers/engines.js';

const missing = await enginesMissing();

const V1: Migration = { version: 1, name: 'items', sql: 'CREATE TABLE items (id bigint PRIMARY KEY)' };
const V2: Migration = {
  version: 2,
  name: 'item names',
  // Slow on purpose, so concurrent callers really overlap inside the lock.
  sql: 'ALTER TABLE items ADD COLUMN name text; SELECT pg_sleep(0.2);',
};
const V3: Migration = { version: 3, name: 'counter', sql: 'CREATE TABLE counter (n int)' };

describe.skipIf(missing)('migrate', () => {
  const schemas: string[] = [];
  const opened: Postgres[] = [];
  async function fresh(): Promise<{ schema: string; db: Postgres }> {
    const schema = uniqueName('nxmig');
    schemas.push(schema);
    const db = await openPostgres(PG_URL, { schema, createSchema: true, probeMs: 0 });
    opened.push(db);
    return { schema, db };
  }
  afterAll(async () => {
    for (const db of opened) await db.close();
    for (const schema of schemas) await dropSchema(schema);
  });

  let db: Postgres;
  beforeAll(async () => {
    ({ db } = await fresh());
  });

  it('applies pending migrations once, in order, and is a no-op the second time', async () => {
    expect(await schemaVersion(db, 'things')).toBe(0);
    expect(await migrate(db, { component: 'things', migrations: [V1] })).toEqual({
      applied: [1],
      version: 1,
    });
    expect(await migrate(db, { component: 'things', migrations: [V1, V2] })).toEqual({
      applied: [2],
      version: 2,
    });
    expect(await migrate(db, { component: 'things', migrations: [V1, V2] })).toEqual({
      applied: [],
      version: 2,
    });
    await db.query("INSERT INTO items VALUES (1, 'a')");
    const rows = await db.query('SELECT component, version, name FROM nexo_migrations ORDER BY version');
    expect(rows.rows).toEqual([
      { component: 'things', version: 1, name: 'items' },
      { component: 'things', version: 2, name: 'item names' },
    ]);
    expect(await schemaVersion(db, 'things')).toBe(2);
  });

  it('keeps components apart', async () => {
    expect(await migrate(db, { component: 'other', migrations: [{ ...V3, version: 1 }] })).toEqual({
      applied: [1],
      version: 1,
    });
    expect(await schemaVersion(db, 'things')).toBe(2);
  });

  it('three nodes starting at once: each migration runs exactly once, nobody fails', async () => {
    const { schema } = await fresh();
    const nodes = await Promise.all([1, 2, 3].map(() => openPostgres(PG_URL, { schema, probeMs: 0 })));
    opened.push(...nodes);
    const results = await Promise.all(
      nodes.map((n) => migrate(n, { component: 'things', migrations: [V1, V2, V3] })),
    );
    const applied = results.map((r) => r.applied);
    // One of them applied everything; the others waited on the lock and found nothing to do.
    expect(applied.filter((a) => a.length === 3)).toHaveLength(1);
    expect(applied.filter((a) => a.length === 0)).toHaveLength(2);
    expect(results.every((r) => r.version === 3)).toBe(true);
    const count = await nodes[0]!.query('SELECT count(*)::int AS n FROM nexo_migrations');
    expect(count.rows[0]?.n).toBe(3);
  });

  it('refuses a database whose schema is newer than the code', async () => {
    const { db: newer } = await fresh();
    await migrate(newer, { component: 'things', migrations: [V1, V2, V3] });
    const err = await migrate(newer, { component: 'things', migrations: [V1, V2] }).catch((e) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect(err.message).toBe(
      "the database's things schema is at version 3, newer than this nexo knows (2); upgrade this node, or point it at another database",
    );
  });

  it('refuses a database whose history differs from the code', async () => {
    const { db: other } = await fresh();
    await migrate(other, { component: 'things', migrations: [V1] });
    const err = await migrate(other, {
      component: 'things',
      migrations: [{ ...V1, name: 'widgets' }],
    }).catch((e) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect(err.message).toMatch(/migration 1 is "items" but this nexo's is "widgets"/);
  });

  it('rolls back every migration of a call when one fails', async () => {
    const { db: other } = await fresh();
    const bad: Migration = { version: 2, name: 'broken', sql: 'ALTER TABLE nope ADD COLUMN x int' };
    const err = await migrate(other, { component: 'things', migrations: [V1, bad] }).catch((e) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect(err.message).toMatch(/^things migration 2 \(broken\) failed: relation "nope" does not exist/);
    expect(await schemaVersion(other, 'things')).toBe(0);
    const table = await other.query("SELECT to_regclass('items') AS t");
    expect(table.rows[0]?.t).toBeNull();
  });

  it('refuses a malformed plan before touching the database', async () => {
    await expect(migrate(db, { component: 'things', migrations: [V2] })).rejects.toThrow(/numbered 1, 2, 3/);
    await expect(migrate(db, { component: 'Bad Name', migrations: [V1] })).rejects.toThrow(
      /component must match/,
    );
    await expect(
      migrate(db, { component: 'things', migrations: [{ version: 1, name: ' ', sql: 'SELECT 1' }] }),
    ).rejects.toThrow(/needs a name and SQL/);
  });
});
