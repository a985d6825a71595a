import os from 'node:os';
import type { ServiceDefinition, ServiceHost } from '../../contract/service.js';
import { telemetryStore } from './backends.js';
import { telemetryMethods } from './methods.js';
import { Telemetry } from './runtime.js';
import { telemetryCommands } from './text.js';

/**
 * `telemetry`: sensors report readings; every acknowledged reading is on disk (group commit in a writer
 * thread); users list sensors, query ranges with downsampling, watch live readings and set threshold alerts.
 * Readings also arrive by text mode (`report s1 temperature 21.5 C`) and MQTT (`--mqtt`). Spec: protocol.md §9.
 */
export function telemetryService(host: ServiceHost): ServiceDefinition {
  const engine = host.storage.mode === 'embedded' ? 'sqlite' : 'postgres';
  const telemetry = new Telemetry(
    host.options.telemetry,
    host.log,
    telemetryStore(host),
    () => host.storage.bus(),
    host.storage.timings.store.get(engine, 'telemetry.commit'),
  );
  return {
    name: 'telemetry',
    description:
      'Sensor readings: durable ingest, queries with downsampling, live watch, alerts, MQTT ingest.',
    methods: telemetryMethods(telemetry),
    text: telemetryCommands,
    start: () => telemetry.start(defaultMqttClientId(host)),
    stop: () => telemetry.stop(),
    // Counters become rates on the Node page: `readings` (stored, new) is the ingest rate.
    stats: () => {
      const open = telemetry.opened;
      return {
        counters: {
          readings: open?.ingest.stats.accepted ?? 0,
          duplicates: open?.ingest.stats.duplicates ?? 0,
          commits: open?.ingest.stats.commits ?? 0,
        },
        gauges: {
          sensors: open?.registry.sensorCount ?? 0,
          series: open?.registry.seriesCount ?? 0,
          watchers: telemetry.subscriptions.size,
          queued: open?.ingest.queued ?? 0,
        },
        ...(open === undefined ? {} : { histograms: { ack: open.ingest.ackTime } }),
      };
    },
  };
}

/**
 * The MQTT client id names the broker session that holds messages while the node is down, so it must be the
 * same across restarts of one node and differ between nodes: `nexo-<node id>`, or `nexo-<host>-<port>`. A node
 * on a random port (0) gets a random id and no persistent session: it has no identity to resume.
 */
function defaultMqttClientId(host: ServiceHost): { id: string; stable: boolean } {
  const o = host.options;
  const stable = o.nodeId !== undefined || o.port !== 0;
  const base =
    o.nodeId ??
    (o.port !== 0
      ? `${os.hostname()}-${o.port}`
      : `${os.hostname()}-${Math.random().toString(36).slice(2, 10)}`);
  return { id: `nexo-${base}`.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64), stable };
}

export { Telemetry } from './runtime.js';
