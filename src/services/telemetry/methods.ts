import { Type } from '@sinclair/typebox';
import { defineMethod, type MethodDefinition } from '../../contract/service.js';
import { NexoError } from '../../errors.js';
import { clip } from '../../util/clip.js';
import {
  type Ack,
  type AlertEvent,
  type AlertRule,
  type Bucket,
  type BucketsResult,
  type LatestReading,
  LIMITS,
  type ReadingsPage,
  type SensorSummary,
} from '../../wire/telemetry.js';
import type { SeriesEntry } from './registry.js';
import type { Telemetry } from './runtime.js';
import { checkMeta, checkMetric, checkReading, checkSensorId, type ValidReading } from './validate.js';

/** Buckets one query may return (a day of minutes is 1,440; a week of minutes 10,080). */
export const MAX_BUCKETS = 10_080;
export const MAX_PAGE = 10_000;
const DEFAULT_PAGE = 1000;

/**
 * The envelope of a report. The fields of each reading are checked by validate.ts, not by the schema, so that
 * a bad reading gets a message that names the reading and what is allowed. Unknown keys are ignored (§4.5.3).
 */
const Meta = {
  kind: Type.Optional(Type.Unknown()),
  location: Type.Optional(Type.Unknown()),
};
const ReportArgs = Type.Object({
  sensor: Type.String({ maxLength: 1024 }),
  metric: Type.Optional(Type.Unknown()),
  value: Type.Optional(Type.Unknown()),
  seq: Type.Optional(Type.Unknown()),
  ts: Type.Optional(Type.Unknown()),
  unit: Type.Optional(Type.Unknown()),
  tags: Type.Optional(Type.Unknown()),
  echo: Type.Optional(Type.Boolean()),
  ...Meta,
});
const ReportBatchArgs = Type.Object({
  sensor: Type.String({ maxLength: 1024 }),
  readings: Type.Array(Type.Unknown(), { minItems: 1, maxItems: LIMITS.batch }),
  ...Meta,
});
const Time = Type.Integer({ minimum: 0, maximum: 8.64e15 });
const SensorName = Type.String({ minLength: 1, maxLength: 1024 });
const Limit = Type.Integer({ minimum: 1, maximum: MAX_PAGE });
const Nothing = Type.Union([Type.Null(), Type.Object({})]);

export function telemetryMethods(t: Telemetry): Record<string, MethodDefinition> {
  /**
   * §9.T.7.2: every sensor of a shared store brought up to date, a page at a time; bounded, because more
   * than MAX_PAGE sensors hold more than MAX_PAGE series, which `latest` refuses anyway.
   */
  const refreshAll = async () => {
    let after: string | undefined;
    for (let seen = 0; seen <= MAX_PAGE; ) {
      const names = await t.listed(after, DEFAULT_PAGE);
      if (names === undefined || names.length < DEFAULT_PAGE) break;
      seen += names.length;
      after = names.at(-1);
    }
    return t.ready();
  };

  /** The series of `sensor` × `metric`, or a 404 that says what does exist. */
  const seriesOf = async (sensor: string, metric: string): Promise<SeriesEntry> => {
    const { registry } = await t.readyFor([sensor]);
    const entry = registry.sensor(sensor);
    if (entry === undefined) {
      throw new NexoError(
        'TELEMETRY_UNKNOWN_SENSOR',
        `no sensor '${clip(sensor)}' has reported to this node`,
        {
          sensor: clip(sensor),
        },
      );
    }
    const series = entry.series.get(metric);
    if (series === undefined) {
      const metrics = [...entry.series.keys()];
      throw new NexoError(
        'TELEMETRY_UNKNOWN_SENSOR',
        `sensor '${sensor}' has no metric '${clip(metric)}' (it reports: ${metrics.join(', ') || 'nothing yet'})`,
        { sensor, metric: clip(metric), metrics },
      );
    }
    return series;
  };

  return {
    report: defineMethod({
      description: 'Stores one reading; the ack comes once it is on disk.',
      args: ReportArgs,
      async handler(args, ctx): Promise<Ack & { reading?: unknown }> {
        const recv = Date.now();
        const sensor = checkSensorId(args.sensor);
        let reading: ValidReading | undefined;
        const ack = await t.reportFromClient(
          sensor,
          1,
          recv,
          () => {
            reading = checkReading(args, recv);
            return { meta: checkMeta(args), readings: [reading] };
          },
          () => ctx.signal,
        );
        if (args.echo !== true || reading === undefined) return ack;
        if (args.echo !== true) return ack;
        const echo: Record<string, unknown> = {
          sensor,
          metric: reading.metric,
          value: reading.value,
          ts: reading.ts,
        };
        if (reading.unit !== undefined) echo.unit = reading.unit;
        return { ...ack, reading: echo };
      },
    }),

    reportBatch: defineMethod({
      description: `Stores up to ${LIMITS.batch} readings of one sensor in one durable commit.`,
      args: ReportBatchArgs,
      handler(args, ctx): Promise<Ack> {
        const recv = Date.now();
        const sensor = checkSensorId(args.sensor);
        return t.reportFromClient(
          sensor,
          args.readings.length,
          recv,
          () => ({ meta: checkMeta(args), readings: args.readings.map((r, i) => checkReading(r, recv, i)) }),
          () => ctx.signal,
        );
      },
    }),

    sensors: defineMethod({
      description: 'Sensors that have reported, with their metrics and latest readings, by id.',
      args: Type.Union([
        Type.Null(),
        Type.Object({
          sensor: Type.Optional(SensorName),
          after: Type.Optional(Type.String({ maxLength: 1024 })),
          limit: Type.Optional(Limit),
        }),
      ]),
      async handler(args): Promise<{ sensors: SensorSummary[]; next?: string }> {
        if (args?.sensor !== undefined) {
          // §9.T.7.2: through any node, the statistics the shared store holds
          const { registry } = await t.refreshed([args.sensor]);
          const entry = registry.sensor(args.sensor);
          if (entry === undefined) {
            throw new NexoError(
              'TELEMETRY_UNKNOWN_SENSOR',
              `no sensor '${clip(args.sensor)}' has reported to this node`,
            );
          }
          return { sensors: [entry.summary()] };
        }
        const limit = args?.limit ?? DEFAULT_PAGE;
        const after = args?.after;
        // §9.T.7.2: a shared store lists every node's sensors; the embedded registry holds them all.
        const listed = await t.listed(after, limit + 1);
        const { registry } = await t.ready();
        const names =
          listed ??
          [...registry.sensors()].map((s) => s.name).filter((n) => after === undefined || n > after);
        if (listed === undefined) names.sort();
        const page = names.slice(0, limit).filter((n) => registry.sensor(n) !== undefined);
        const sensors = page.map((n) => registry.sensor(n)!.summary());
        return names.length > limit ? { sensors, next: page.at(-1)! } : { sensors };
      },
    }),

    latest: defineMethod({
      description: 'The latest reading of each series (sensor × metric), optionally of one sensor or metric.',
      args: Type.Union([
        Type.Null(),
        Type.Object({
          sensor: Type.Optional(SensorName),
          metric: Type.Optional(Type.String({ maxLength: 1024 })),
        }),
      ]),
      async handler(args): Promise<{ readings: LatestReading[] }> {
        const { registry } =
          args?.sensor === undefined ? await refreshAll() : await t.refreshed([args.sensor]);
        if (args?.sensor !== undefined && registry.sensor(args.sensor) === undefined) {
          throw new NexoError(
            'TELEMETRY_UNKNOWN_SENSOR',
            `no sensor '${clip(args.sensor)}' has reported to this node`,
          );
        }
        const readings = registry.latest({ sensor: args?.sensor, metric: args?.metric });
        if (readings.length > MAX_PAGE) {
          throw new NexoError(
            'TELEMETRY_QUERY_TOO_LARGE',
            `${readings.length} series match; ask for one sensor or one metric`,
          );
        }
        return { readings };
      },
    }),

    readings: defineMethod({
      description: 'Stored readings of one series in a time range, a page at a time.',
      args: Type.Object({
        sensor: SensorName,
        metric: Type.String({ minLength: 1, maxLength: 1024 }),
        from: Type.Optional(Time),
        to: Type.Optional(Time),
        limit: Type.Optional(Limit),
        order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
        after: Type.Optional(Type.Object({ ts: Time, seq: Type.Integer() })),
      }),
      async handler(args): Promise<ReadingsPage> {
        const series = await seriesOf(args.sensor, args.metric);
        const limit = args.limit ?? DEFAULT_PAGE;
        const page = await t.store.readings({
          series: series.id,
          from: args.from ?? 0,
          to: args.to ?? Date.now() + LIMITS.maxFutureMs + 1,
          after: args.after,
          limit,
          order: args.order ?? 'asc',
        });
        const out: ReadingsPage = {
          sensor: args.sensor,
          metric: args.metric,
          readings: page.readings,
        };
        if (series.unit !== undefined) out.unit = series.unit;
        if (page.readings.length === limit && page.last !== undefined) out.next = page.last;
        return out;
      },
    }),

    buckets: defineMethod({
      description: 'min/avg/max/count of one series per bucket of `every` ms (downsampling).',
      args: Type.Object({
        sensor: SensorName,
        metric: Type.String({ minLength: 1, maxLength: 1024 }),
        from: Time,
        to: Type.Optional(Time),
        every: Type.Integer({ minimum: 1, maximum: 366 * 86_400_000 }),
      }),
      async handler(args): Promise<BucketsResult> {
        const series = await seriesOf(args.sensor, args.metric);
        const to = args.to ?? Date.now() + 1;
        if (to <= args.from) {
          throw new NexoError(
            'INVALID_ARGS',
            `the range is empty: to (${to}) must be after from (${args.from})`,
          );
        }
        const start = Math.floor(args.from / args.every) * args.every;
        const count = Math.ceil((to - start) / args.every);
        if (count > MAX_BUCKETS) {
          throw new NexoError(
            'TELEMETRY_QUERY_TOO_LARGE',
            `${count} buckets of ${args.every} ms would cover that range; at most ${MAX_BUCKETS}: use larger buckets or a shorter range`,
            { buckets: count, limit: MAX_BUCKETS },
          );
        }
        const columns = await t.store.buckets({ series: series.id, from: args.from, to, every: args.every });
        const buckets: Bucket[] = [];
        for (let i = 0; i < columns.t.length; i++) {
          const n = columns.count[i]!;
          buckets.push({
            t: columns.t[i]!,
            min: columns.min[i]!,
            max: columns.max[i]!,
            avg: columns.sum[i]! / n,
            count: n,
          });
        }
        const out: BucketsResult = {
          sensor: args.sensor,
          metric: args.metric,
          every: args.every,
          from: args.from,
          to,
          source: columns.rollup ? 'rollup' : 'raw',
          buckets,
        };
        if (series.unit !== undefined) out.unit = series.unit;
        return out;
      },
    }),

    watch: defineMethod({
      description: 'Live readings (and alert events) matching a filter, as EVENT frames until cancelled.',
      args: Type.Union([
        Type.Null(),
        Type.Object({
          sensors: Type.Optional(Type.Array(SensorName, { maxItems: 1000 })),
          metrics: Type.Optional(
            Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 100 }),
          ),
          alerts: Type.Optional(Type.Boolean()),
        }),
      ]),
      longLived: true,
      async handler(args, ctx) {
        const sensors = (args?.sensors ?? []).map((s) => checkSensorId(s));
        const { registry } = await t.readyFor(sensors);
        const metrics = (args?.metrics ?? []).map((m) => checkMetric(m));
        const filter = { sensors: new Set(sensors), metrics: new Set(metrics), alerts: args?.alerts ?? true };
        const latest = registry
          .latest({})
          .filter(
            (r) =>
              (filter.sensors.size === 0 || filter.sensors.has(r.sensor)) &&
              (filter.metrics.size === 0 || filter.metrics.has(r.metric)),
          )
          .slice(0, 1000);
        const subscription = t.subscriptions.add(filter, ctx);
        ctx.progress({ watching: { sensors, metrics, alerts: filter.alerts }, latest });
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        return subscription.remove();
      },
    }),

    alerts: defineMethod({
      description: 'Alert rules, with the series each one is firing for.',
      args: Nothing,
      async handler() {
        const { alerts } = await t.ready();
        const firing = alerts.firing();
        return {
          rules: alerts.rules().map((rule) => ({
            ...rule,
            firing: firing
              .filter((f) => f.ruleId === rule.id)
              .map((f) => ({ sensor: f.sensor, since: f.since })),
          })),
        };
      },
    }),

    addAlert: defineMethod({
      description: 'Adds a threshold rule such as `temperature > 30 for 1m`.',
      args: Type.Object({
        rule: Type.String({ minLength: 1, maxLength: 256 }),
        sensors: Type.Optional(Type.Array(SensorName, { maxItems: 100 })),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
      }),
      async handler(args): Promise<{ rule: AlertRule }> {
        const sensors = (args.sensors ?? []).map((s) => checkSensorId(s));
        return { rule: await t.addRule(args.rule, sensors, args.name) };
      },
    }),

    removeAlert: defineMethod({
      description: 'Removes an alert rule by id.',
      args: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      async handler(args): Promise<{ removed: AlertRule }> {
        return { removed: await t.removeRule(args.id) };
      },
    }),

    alertEvents: defineMethod({
      description: 'Recorded alert events (firing, resolved), newest first.',
      args: Type.Union([
        Type.Null(),
        Type.Object({
          from: Type.Optional(Time),
          to: Type.Optional(Time),
          sensor: Type.Optional(SensorName),
          ruleId: Type.Optional(Type.Integer({ minimum: 1 })),
          limit: Type.Optional(Limit),
        }),
      ]),
      async handler(args): Promise<{ events: AlertEvent[] }> {
        await t.ready();
        const events = await t.store.alertEvents({
          from: args?.from ?? 0,
          to: args?.to ?? Date.now() + 1,
          sensor: args?.sensor,
          ruleId: args?.ruleId,
          limit: args?.limit ?? DEFAULT_PAGE,
        });
        return { events };
      },
    }),

    stats: defineMethod({
      description: 'Counters of the telemetry service: sensors, series, commits, queue, MQTT.',
      args: Nothing,
      async handler() {
        const { registry, ingest } = await t.ready();
        let readings = 0;
        for (const sensor of registry.sensors()) for (const s of sensor.series.values()) readings += s.count;
        return {
          sensors: registry.sensorCount,
          series: registry.seriesCount,
          readings,
          queued: ingest.queued,
          ...ingest.stats,
          watchers: t.subscriptions.size,
          rate: t.options.rate,
          burst: t.options.burst,
          retentionMs: t.options.retentionMs,
          mqtt: t.mqttStats(),
        };
      },
    }),
  };
}
