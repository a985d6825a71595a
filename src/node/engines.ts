import type { Logger } from 'pino';
import { LocalBus } from '../bus/local.js';
import { NatsBus } from '../bus/nats.js';
import { timedBus } from '../bus/timed.js';
import type { Bus } from '../bus/types.js';
import type { StorageHost } from '../contract/service.js';
import type { ServerOptions, StorageMode } from '../options/options.js';
import type { EngineHealth } from '../storage/health.js';
import { type Nats, openNats } from '../storage/nats/connection.js';
import { openPostgres, type Postgres } from '../storage/postgres/postgres.js';
import type { EngineTimings } from '../util/histogram.js';

/**
 * The engines a node runs on, opened once from its settings and handed to every service through its
 * ServiceHost (services never open a backend themselves):
 * - embedded: no engine; the bus is in-process (LocalBus);
 * - postgres: one PostgreSQL pool and one NATS connection for the whole node; the bus is NATS, its
 *   subjects prefixed with the cluster name.
 */
export interface Engines {
  readonly mode: StorageMode;
  readonly postgres: Postgres | undefined;
  readonly nats: Nats | undefined;
  readonly bus: Bus;
  /** Each engine's health (empty in embedded mode). */
  health(): EngineHealth[];
  /** Every engine is reachable. */
  ready(): boolean;
  close(): Promise<void>;
}

/**
 * Opens what `options.storage` asks for. A schema other than `public` is chosen in the URL, libpq style:
 * `postgres://host/db?options=-c%20search_path%3Dmyschema` (tests use it to share one database).
 */
export async function openEngines(
  options: ServerOptions,
  log: Logger,
  timings: EngineTimings,
): Promise<Engines> {
  const onBusError = (err: unknown, subject: string) => log.error({ err, subject }, 'bus subscriber failed');
  if (options.storage === 'embedded')
    return embedded(timedBus(new LocalBus(onBusError), timings.bus, 'local'));
  const engineLog = log.child({ component: 'engines' });
  // Both are required (options.ts); opened in turn so a refusal names the engine that refused.
  const postgres = await openPostgres(options.postgres!, {
    log: engineLog,
    applicationName: `nexo ${options.nodeId ?? ''}`.trim(),
    timings: timings.store,
  });
  let nats: Nats;
  try {
    nats = await openNats(options.nats, {
      cluster: options.cluster,
      name: `nexo ${options.nodeId ?? ''}`.trim(),
      log: engineLog,
    });
  } catch (err) {
    await postgres.close();
    throw err;
  }
  const bus = timedBus(new NatsBus(nats, onBusError), timings.bus, 'nats');
  log.info(
    { storage: 'postgres', postgres: postgres.url, nats: nats.url, cluster: options.cluster },
    'shared engines connected',
  );
  return {
    mode: 'postgres',
    postgres,
    nats,
    bus,
    health: () => [postgres.health(), nats.health()],
    ready: () => postgres.health().up && nats.health().up,
    close: async () => {
      await bus.close();
      await nats.close();
      await postgres.close();
    },
  };
}

/**
 * What services see of the engines (ServiceHost.storage): `engines()` is undefined until the node starts, and
 * an engine the storage mode does not use throws.
 */
export function storageHost(
  mode: StorageMode,
  engines: () => Engines | undefined,
  timings: EngineTimings,
): StorageHost {
  const engine = (): Engines => {
    const opened = engines();
    if (opened === undefined) throw new Error('storage engines open when the node starts');
    return opened;
  };
  return {
    mode,
    postgres: () => {
      const pg = engine().postgres;
      if (pg === undefined) throw new Error('PostgreSQL is used only with storage: postgres');
      return pg;
    },
    nats: () => {
      const nats = engine().nats;
      if (nats === undefined) throw new Error('NATS is used only with storage: postgres');
      return nats;
    },
    bus: () => engine().bus,
    timings,
  };
}

function embedded(bus: Bus): Engines {
  return {
    mode: 'embedded',
    postgres: undefined,
    nats: undefined,
    bus,
    health: () => [],
    ready: () => true,
    close: () => bus.close(),
  };
}
