import { Type } from '@sinclair/typebox';
import { defineMethod, type ServiceDefinition, type ServiceHost } from '../../contract/service.js';
import { formatStatus, type NodeInfo, type NodeSnapshot } from '../../wire/node.js';
import { RateSampler } from './rates.js';

export const SERVER_NAME = 'nexo/0.1.0';

const NoArgs = Type.Union([Type.Null(), Type.Object({}, { additionalProperties: false })]);

/**
 * `node`: which node this is and how it is doing, for the dashboard's Node page, `curl /api/node` and
 * `status` in text mode. Rates come from counters sampled on a timer, so reading them costs nothing per
 * request. A service that reports counters (telemetry's readings) gets its rates shown here for free.
 */
export function nodeService(host: ServiceHost): ServiceDefinition {
  const view = host.node;

  const counters = (): Map<string, number> => {
    const values = new Map<string, number>([['requests', view.stats.requests]]);
    for (const service of view.services()) {
      const stats = service.stats?.();
      for (const [name, value] of Object.entries(stats?.counters ?? {})) {
        values.set(`${service.name}.${name}`, value);
      }
    }
    return values;
  };
  const sampler = new RateSampler(counters);

  const snapshot = (): NodeSnapshot => {
    const now = Date.now();
    const current = counters();
    const rates = sampler.rates(current, now);
    const services: NodeSnapshot['services'] = {};
    for (const service of view.services()) {
      const stats = service.stats?.();
      if (stats === undefined) continue;
      const entry = {
        counters: { ...stats.counters },
        rates: {} as Record<string, number>,
        gauges: { ...stats.gauges },
      };
      for (const name of Object.keys(entry.counters)) {
        entry.rates[name] = round(rates.get(`${service.name}.${name}`) ?? 0);
      }
      services[service.name] = entry;
    }
    const byTransport = view.connectionsByTransport();
    const total = Object.values(byTransport).reduce((a, b) => a + b, 0);
    return {
      node: host.nodeId(),
      at: now,
      startedAt: view.startedAt,
      uptimeMs: now - view.startedAt,
      draining: view.draining,
      connections: { ...byTransport, total },
      requests: { total: view.stats.requests, perSecond: round(rates.get('requests') ?? 0) },
      errors: view.stats.errors,
      bytesIn: view.stats.bytesIn,
      bytesOut: view.stats.bytesOut,
      storage: view.storage(),
      services,
    };
  };

  return {
    name: 'node',
    description:
      'This node: its name, uptime, open connections by transport, request rate, service counters.',
    start: () => sampler.start(),
    stop: () => sampler.stop(),
    methods: {
      info: defineMethod({
        description: 'Name, server version, start time, HTTP address and the services this node runs.',
        args: NoArgs,
        handler: (): NodeInfo => {
          const http = view.httpAddress();
          return {
            node: host.nodeId(),
            server: SERVER_NAME,
            startedAt: view.startedAt,
            uptimeMs: Date.now() - view.startedAt,
            http: http === undefined ? null : { port: http.port },
            services: view.services().map((s) => s.name),
          };
        },
      }),
      stats: defineMethod({
        description: 'A snapshot of the counters: connections, requests per second, bytes, service numbers.',
        args: NoArgs,
        handler: () => snapshot(),
      }),
      members: defineMethod({
        description:
          "The cluster's live members (id, state, address, ports, version, uptime, load), or this node alone outside cluster mode.",
        args: NoArgs,
        handler: () => view.members(),
      }),
      watch: defineMethod({
        description: 'A subscription: the stats snapshot now and then every intervalMs, until cancelled.',
        args: Type.Union([
          Type.Null(),
          Type.Object(
            { intervalMs: Type.Optional(Type.Integer({ minimum: 200, maximum: 60_000 })) },
            { additionalProperties: false },
          ),
        ]),
        longLived: true,
        handler: (args, ctx) =>
          new Promise((resolve) => {
            let sent = 0;
            const tick = () => {
              // A snapshot replaces the last one: when the client is behind, skip rather than queue.
              if (ctx.emit(snapshot())) sent++;
            };
            tick();
            const timer = setInterval(tick, args?.intervalMs ?? 1000);
            ctx.signal.addEventListener('abort', () => {
              clearInterval(timer);
              // Never sent: CANCEL (or the connection's end) has answered CANCELLED already (§6.6.1).
              resolve({ events: sent });
            });
          }),
      }),
    },
    text: [
      {
        name: 'status',
        usage: 'status',
        summary: 'this node: uptime, connections, requests per second',
        parse: () => ({ method: 'stats', args: null }),
        format: (result) => formatStatus(result as NodeSnapshot),
      },
    ],
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
