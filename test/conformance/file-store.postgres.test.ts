import { describe, it } from 'vitest';
import { PostgresFileStore } from '../../src/services/files/postgres/store.js';
import { openPostgres, type Postgres } from '../../src/storage/postgres/postgres.js';
import { dropSchema, enginesMissing, PG_URL, uniqueName } from '../helpers/engines.js';
import { fileStoreConformance } from './file-store.js';

const missing = await enginesMissing();

if (missing === undefined) {
  fileStoreConformance('PostgreSQL', {
    shared: true,
    async create() {
      const schema = uniqueName('nxfsto');
      const pools: Postgres[] = [await openPostgres(PG_URL, { schema, createSchema: true, probeMs: 0 })];
      return {
        store: new PostgresFileStore(pools[0]!),
        async another(options) {
          // Another node: its own pool on the same schema.
          if (options?.abandon === true) await pools[0]!.close();
          const pool = await openPostgres(PG_URL, { schema, probeMs: 0 });
          pools.push(pool);
          const store = new PostgresFileStore(pool);
          await store.init();
          return store;
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
  describe.skipIf(missing !== undefined)(`PostgresFileStore (${missing})`, () => {
    it('needs PostgreSQL', () => {});
  });
}
