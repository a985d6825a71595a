import { describe, it } from 'vitest';
import { PostgresTelemetryStore } from '../../src/services/telemetry/postgres/store.js';
import { openPostgres } from '../../src/storage/postgres/postgres.js';
import { dropSchema, enginesMissing, PG_URL, uniqueName } from '../helpers/engines.js';
import { telemetryStoreConformance } from './telemetry-store.js';

const missing = await enginesMissing();

if (missing !== undefined) {
  // Reached only when an engine is missing: enginesMissing() printed why (and threw under CI=true).
  describe.skipIf(missing !== undefined)(`TelemetryStore conformance: PostgreSQL (${missing})`, () => {
    it('needs PostgreSQL', () => undefined);
  });
} else {
  telemetryStoreConformance('PostgreSQL', {
    async create() {
      // A schema per test, dropped after; `another()` is a second pool on it (another node).
      const schema = uniqueName('nxtel');
      const pools = [await openPostgres(PG_URL, { schema, createSchema: true, max: 4 })];
      const store = new PostgresTelemetryStore(pools[0]!);
      return {
        store,
        async another() {
          const pool = await openPostgres(PG_URL, { schema, max: 4 });
          pools.push(pool);
          return new PostgresTelemetryStore(pool);
        },
        async destroy() {
          await store.close();
          for (const pool of pools) await pool.close();
          await dropSchema(schema);
        },
      };
    },
  });
}
