import { rm } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { SqliteTelemetryStore } from '../../src/services/telemetry/sqlite/store.js';
import { tempDataDir } from '../helpers/node.js';
import { telemetryStoreConformance } from './telemetry-store.js';

const log = pino({ level: 'silent' });

telemetryStoreConformance('SQLite (embedded)', {
  async create() {
    const dir = tempDataDir();
    const file = path.join(dir, 'telemetry.db');
    const make = () => new SqliteTelemetryStore({ file, log, readers: 2, queryTimeoutMs: 10_000 });
    const store = make();
    return {
      store,
      another: async () => make(),
      async destroy() {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});
