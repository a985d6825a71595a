import { describe, it } from 'vitest';
import { PostgresChatHistory } from '../../src/services/chat/postgres/history.js';
import { openPostgres, type Postgres } from '../../src/storage/postgres/postgres.js';
import { dropSchema, enginesMissing, PG_URL, uniqueName } from '../helpers/engines.js';
import { chatHistoryConformance } from './chat-history.js';

const missing = await enginesMissing();

if (missing === undefined) {
  chatHistoryConformance('PostgreSQL', {
    shared: true,
    async create(limit) {
      const schema = uniqueName('nxchat');
      const pools: Postgres[] = [await openPostgres(PG_URL, { schema, createSchema: true, probeMs: 0 })];
      return {
        history: await PostgresChatHistory.open(pools[0]!, limit),
        async another(l) {
          // Another node: its own pool on the same schema.
          const pool = await openPostgres(PG_URL, { schema, probeMs: 0 });
          pools.push(pool);
          return PostgresChatHistory.open(pool, l);
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
  describe.skipIf(missing !== undefined)(`PostgresChatHistory (${missing})`, () => {
    it('needs PostgreSQL', () => {});
  });
}
