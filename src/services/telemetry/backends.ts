import path from 'node:path';
import type { Logger } from 'pino';
import type { ServiceHost } from '../../contract/service.js';
import { PostgresTelemetryStore } from './postgres/store.js';
import { SqliteTelemetryStore } from './sqlite/store.js';
import type { TelemetryStore } from './store.js';

/**
 * Which TelemetryStore the node's settings select (`--storage`): the embedded SQLite file in the data
 * directory, or the node's PostgreSQL pool shared with other nodes. Returned as a function the service
 * calls on first use, since the node opens its engines only when it starts.
 */
export function telemetryStore(host: ServiceHost): (log: Logger) => TelemetryStore {
  const { options, storage } = host;
  if (storage.mode === 'postgres') return () => new PostgresTelemetryStore(storage.postgres());
  return (log) =>
    new SqliteTelemetryStore({
      file: path.join(options.dataDir, 'telemetry', 'telemetry.db'),
      log,
      readers: options.telemetry.readers,
      queryTimeoutMs: options.telemetry.queryTimeoutMs,
    });
}
