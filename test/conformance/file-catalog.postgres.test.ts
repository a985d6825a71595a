import { describe, it } from 'vitest';
import { PostgresFileCatalog } from '../../src/services/files/postgres/catalog.js';
import { openPostgres, type Postgres } from '../../src/storage/postgres/postgres.js';
import { dropSchema, enginesMissing, PG_URL, uniqueName } from '../helpers/engines.js';
import { fileCatalogConformance } from './file-catalog.js';

const missing = await enginesMissing();

if (missing === undefined) {
  fileCatalogConformance('PostgreSQL', {
    shared: true,
    async create() {
      const schema = uniqueName('nxfcat');
      const pools: Postgres[] = [await openPostgres(PG_URL, { schema, createSchema: true, probeMs: 0 })];
      return {
        catalog: new PostgresFileCatalog(pools[0]!),
        async another() {
          // Another node: its own pool on the same schema.
          const pool = await openPostgres(PG_URL, { schema, probeMs: 0 });
          pools.push(pool);
          return new PostgresFileCatalog(pool);
        },
        async destroy() {
          for (const p of pools) await p.close();
          await dropSchema(schema);
        },
      };
    },
  });
} else {
  // Reached only when an engine is missing: enginesMissing() printed why (and threw under CI=true).
  describe.skipIf(missing !== undefined)(`PostgresFileCatalog (${missing})`, () => {
    it('needs PostgreSQL', () => {});
  });
}
