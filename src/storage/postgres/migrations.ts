import type { Postgres, Queryable } from './postgres.js';

/**
 * Versioned schema migrations, one list per component (telemetry, files, chat), applied at start-up.
 *
 * - All pending migrations of a component run in ONE transaction that first takes a transaction-scoped
 *   advisory lock (`pg_advisory_xact_lock`) keyed by the schema: when three nodes start at once, one applies
 *   them and the others wait, then find nothing left to do. The lock is released by COMMIT or ROLLBACK, so a
 *   node that dies mid-migration leaves nothing half-applied and nothing locked.
 * - `nexo_migrations (component, version, name, applied_at)` records what ran. Running again is a no-op.
 * - A database whose schema is newer than this code (a version it does not know) is refused, as is one
 *   whose recorded migration has another name than the code's (a different history): an old node must not
 *   write into tables whose meaning it does not know.
 * - Statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY) are not supported here.
 */

export interface Migration {
  /** 1, 2, 3, … in order, never reused. */
  readonly version: number;
  /** A short name, recorded beside the version (e.g. "readings table"). */
  readonly name: string;
  /** One or more SQL statements. */
  readonly sql: string;
}

export interface MigrationPlan {
  /** `telemetry`, `files`, `chat`, … (lower case, digits, `_`). */
  readonly component: string;
  readonly migrations: readonly Migration[];
}

export interface MigrationResult {
  /** Versions this call applied (empty when the schema was current). */
  readonly applied: number[];
  /** The component's version after the call. */
  readonly version: number;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

const COMPONENT = /^[a-z][a-z0-9_]{0,62}$/;
// The lock key's namespace; the schema name is hashed into the rest, so tests in separate schemas do not
// wait for each other.
const LOCK_NAMESPACE = 'nexo_migrations:';

export async function migrate(db: Postgres, plan: MigrationPlan): Promise<MigrationResult> {
  checkPlan(plan);
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1 || current_schema(), 0))', [
      LOCK_NAMESPACE,
    ]);
    // Under the lock, so two nodes never race to create it.
    await tx.query(
      `CREATE TABLE IF NOT EXISTS nexo_migrations (
         component text NOT NULL,
         version integer NOT NULL,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (component, version)
       )`,
    );
    const done = await recorded(tx, plan.component);
    const known = new Map(plan.migrations.map((m) => [m.version, m]));
    const latest = plan.migrations.at(-1)?.version ?? 0;
    for (const [version, name] of done) {
      const mine = known.get(version);
      if (mine === undefined) {
        throw new MigrationError(
          `the database's ${plan.component} schema is at version ${Math.max(...done.keys())}, newer than this nexo knows (${latest}); upgrade this node, or point it at another database`,
        );
      }
      if (mine.name !== name) {
        throw new MigrationError(
          `the database's ${plan.component} migration ${version} is "${name}" but this nexo's is "${mine.name}": the schema has another history; point this node at another database`,
        );
      }
    }
    const applied: number[] = [];
    for (const migration of plan.migrations) {
      if (done.has(migration.version)) continue;
      try {
        await tx.query(migration.sql);
      } catch (err) {
        throw new MigrationError(
          `${plan.component} migration ${migration.version} (${migration.name}) failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
      await tx.query('INSERT INTO nexo_migrations (component, version, name) VALUES ($1, $2, $3)', [
        plan.component,
        migration.version,
        migration.name,
      ]);
      applied.push(migration.version);
    }
    return { applied, version: latest };
  });
}

/** The component's version recorded in the database (0 when none), without changing anything. */
export async function schemaVersion(db: Postgres, component: string): Promise<number> {
  const exists = await db.query<{ present: boolean }>(
    "SELECT to_regclass('nexo_migrations') IS NOT NULL AS present",
  );
  if (exists.rows[0]?.present !== true) return 0;
  const done = await recorded(db, component);
  return done.size === 0 ? 0 : Math.max(...done.keys());
}

async function recorded(q: Queryable, component: string): Promise<Map<number, string>> {
  const rows = await q.query<{ version: number; name: string }>(
    'SELECT version, name FROM nexo_migrations WHERE component = $1 ORDER BY version',
    [component],
  );
  return new Map(rows.rows.map((r) => [r.version, r.name]));
}

function checkPlan(plan: MigrationPlan): void {
  if (!COMPONENT.test(plan.component)) {
    throw new MigrationError(`migration component must match ${COMPONENT} (got ${plan.component})`);
  }
  plan.migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new MigrationError(
        `${plan.component} migrations must be numbered 1, 2, 3, … in order (found ${m.version} at position ${i + 1})`,
      );
    }
    if (m.name.trim() === '' || m.sql.trim() === '') {
      throw new MigrationError(`${plan.component} migration ${m.version} needs a name and SQL`);
    }
  });
}
