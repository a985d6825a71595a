import type { FastifyRequest } from 'fastify';
import { NexoError } from '../../errors.js';
import { type CsvValue, csvRow } from '../../util/csv.js';
import type { Ack, AlertEvent, BucketsResult, SensorSummary, StoredReading } from '../../wire/telemetry.js';
import { sendCsv, wantsCsv } from '../csv-reply.js';
import { duration, integer, list, type QueryValue, single, time } from '../query.js';
import type { RestContext, RestModule } from '../types.js';
import { sendJson } from './api.js';

type Query = Record<string, QueryValue>;
interface SensorParams {
  sensor: string;
}

/** Rows asked of the service per query while a CSV export pages through a range (its largest page). */
const EXPORT_PAGE = 10_000;
const HOUR = 3_600_000;

/**
 * Telemetry for curl users and scripts (docs/http.md). Every route calls a telemetry method, so the checks,
 * limits and error codes are the protocol's; this module only maps query strings to args and results to JSON
 * or CSV.
 *
 *   GET  /api/telemetry/sensors[/<sensor>]                    sensors with their latest values
 *   GET  /api/telemetry/latest?sensor=&metric=                latest reading of each series
 *   GET  /api/telemetry/sensors/<sensor>/readings[.csv]       raw readings (JSON: a page; CSV: every row)
 *   GET  /api/telemetry/sensors/<sensor>/buckets[.csv]        min/avg/max/count per bucket
 *   POST /api/telemetry/sensors/<sensor>/readings             report one reading or a batch (JSON)
 *   GET  /api/telemetry/alerts                                rules, with what is firing
 *   GET  /api/telemetry/alerts/events[.csv]                   alert history, newest first
 */
export const telemetryRest: RestModule = {
  service: 'telemetry',
  register(context) {
    const { app, call } = context;

    app.get<{ Querystring: Query }>('/api/telemetry/sensors', async (request, reply) => {
      const q = request.query;
      const args: Record<string, unknown> = {};
      const after = single('after', q.after);
      if (after !== undefined) args.after = after;
      const limit = integer('limit', q.limit, 1, EXPORT_PAGE);
      if (limit !== undefined) args.limit = limit;
      return sendJson(reply, await call(request, 'telemetry', 'sensors', args));
    });

    app.get<{ Params: SensorParams }>('/api/telemetry/sensors/:sensor', async (request, reply) =>
      sendJson(reply, await call(request, 'telemetry', 'sensors', { sensor: request.params.sensor })),
    );

    app.get<{ Querystring: Query }>('/api/telemetry/latest', async (request, reply) => {
      const args: Record<string, unknown> = {};
      const sensor = single('sensor', request.query.sensor);
      const metric = single('metric', request.query.metric);
      if (sensor !== undefined) args.sensor = sensor;
      if (metric !== undefined) args.metric = metric;
      return sendJson(reply, await call(request, 'telemetry', 'latest', args));
    });

    for (const csvPath of [false, true]) {
      const suffix = csvPath ? '.csv' : '';
      app.get<{ Params: SensorParams; Querystring: Query }>(
        `/api/telemetry/sensors/:sensor/readings${suffix}`,
        (request, reply) =>
          wantsCsv(request, csvPath)
            ? sendCsv(reply, `${request.params.sensor}-readings.csv`, readingsCsv(context, request))
            : readingsJson(context, request).then(({ page, next }) => {
                if (next !== undefined) reply.header('link', `<${next}>; rel="next"`);
                return sendJson(reply, page);
              }),
      );
      app.get<{ Params: SensorParams; Querystring: Query }>(
        `/api/telemetry/sensors/:sensor/buckets${suffix}`,
        async (request, reply) => {
          const csv = wantsCsv(request, csvPath);
          const results = await bucketsOf(context, request, csv);
          if (!csv) return sendJson(reply, results[0]);
          return sendCsv(reply, `${request.params.sensor}-buckets.csv`, bucketsCsv(results));
        },
      );
      app.get<{ Querystring: Query }>(`/api/telemetry/alerts/events${suffix}`, async (request, reply) => {
        const q = request.query;
        const args: Record<string, unknown> = {};
        const from = time('from', q.from);
        const to = time('to', q.to);
        const sensor = single('sensor', q.sensor);
        const ruleId = integer('ruleId', q.ruleId, 1);
        const limit = integer('limit', q.limit, 1, EXPORT_PAGE);
        if (from !== undefined) args.from = from;
        if (to !== undefined) args.to = to;
        if (sensor !== undefined) args.sensor = sensor;
        if (ruleId !== undefined) args.ruleId = ruleId;
        if (limit !== undefined) args.limit = limit;
        const csv = wantsCsv(request, csvPath);
        const result = (await call(request, 'telemetry', 'alertEvents', args)) as { events: AlertEvent[] };
        if (!csv) return sendJson(reply, result);
        return sendCsv(reply, 'alert-events.csv', alertEventsCsv(result.events));
      });
    }

    app.post<{ Params: SensorParams }>('/api/telemetry/sensors/:sensor/readings', async (request, reply) => {
      const sensor = request.params.sensor;
      const body = request.body;
      if (body === null || body === undefined || typeof body !== 'object') {
        throw new NexoError(
          'INVALID_ARGS',
          'send a reading as JSON: {"metric":"temperature","value":21.5}, an array of them, or {"readings":[...]}',
        );
      }
      const fields = body as Record<string, unknown>;
      if (!Array.isArray(body) && fields.sensor !== undefined && fields.sensor !== sensor) {
        throw new NexoError(
          'INVALID_ARGS',
          `the body names sensor '${String(fields.sensor).slice(0, 64)}', the path '${sensor}'`,
        );
      }
      const ack = Array.isArray(body)
        ? await call(request, 'telemetry', 'reportBatch', { sensor, readings: body })
        : Array.isArray(fields.readings)
          ? await call(request, 'telemetry', 'reportBatch', { ...fields, sensor })
          : await call(request, 'telemetry', 'report', { ...fields, sensor });
      return sendJson(reply, ack as Ack);
    });

    app.get('/api/telemetry/alerts', async (request, reply) =>
      sendJson(reply, await call(request, 'telemetry', 'alerts', null)),
    );
  },
};

interface ReadingsPage {
  sensor: string;
  metric: string;
  unit?: string;
  readings: StoredReading[];
  next?: { ts: number; seq: number };
}

/** `after=<ts>:<seq>`: where the previous page ended (the `next` of its answer, or its `link` header). */
function afterParam(value: QueryValue): { ts: number; seq: number } | undefined {
  const text = single('after', value);
  if (text === undefined || text === '') return undefined;
  const match = /^(\d{1,16}):(-?\d{1,16})$/.exec(text);
  if (match === null) {
    throw new NexoError(
      'INVALID_ARGS',
      `after must be <ts>:<seq> as in the previous page's next; got '${text.slice(0, 40)}'`,
      {
        param: 'after',
      },
    );
  }
  return { ts: Number(match[1]), seq: Number(match[2]) };
}

function rangeOf(q: Query): { from: number | undefined; to: number | undefined } {
  const now = Date.now();
  return { from: time('from', q.from, now), to: time('to', q.to, now) };
}

/** One metric named in the query (JSON answers are one series). */
async function oneMetric(
  context: RestContext,
  request: FastifyRequest<{ Params: SensorParams; Querystring: Query }>,
): Promise<string> {
  const metrics = list(request.query.metric);
  if (metrics.length === 1) return metrics[0]!;
  const known = (await metricsOf(context, request)).join(', ');
  throw new NexoError(
    'INVALID_ARGS',
    metrics.length === 0
      ? `name the series: metric=<name> (sensor '${request.params.sensor}' reports: ${known}); CSV exports take several`
      : `JSON answers hold one series: give one metric (CSV exports take several)`,
    { param: 'metric' },
  );
}

async function metricsOf(
  context: RestContext,
  request: FastifyRequest<{ Params: SensorParams }>,
): Promise<string[]> {
  const { sensors } = (await context.call(request, 'telemetry', 'sensors', {
    sensor: request.params.sensor,
  })) as {
    sensors: SensorSummary[];
  };
  return sensors[0]?.metrics.map((m) => m.metric) ?? [];
}

async function readingsJson(
  context: RestContext,
  request: FastifyRequest<{ Params: SensorParams; Querystring: Query }>,
): Promise<{ page: ReadingsPage; next: string | undefined }> {
  const q = request.query;
  const args: Record<string, unknown> = {
    sensor: request.params.sensor,
    metric: await oneMetric(context, request),
  };
  const { from, to } = rangeOf(q);
  if (from !== undefined) args.from = from;
  if (to !== undefined) args.to = to;
  const limit = integer('limit', q.limit, 1, EXPORT_PAGE);
  if (limit !== undefined) args.limit = limit;
  const order = single('order', q.order);
  if (order !== undefined) args.order = order;
  const after = afterParam(q.after);
  if (after !== undefined) args.after = after;
  const page = (await context.call(request, 'telemetry', 'readings', args)) as ReadingsPage;
  let next: string | undefined;
  if (page.next !== undefined) {
    const url = new URL(request.url, 'http://node');
    url.searchParams.set('after', `${page.next.ts}:${page.next.seq}`);
    next = `${url.pathname}${url.search}`;
  }
  return { page, next };
}

/** Every reading in the range (or the first `limit`), metric after metric, a page of rows per piece. */
async function* readingsCsv(
  context: RestContext,
  request: FastifyRequest<{ Params: SensorParams; Querystring: Query }>,
): AsyncGenerator<string> {
  const q = request.query;
  const sensor = request.params.sensor;
  const { from, to } = rangeOf(q);
  const limit = integer('limit', q.limit, 1);
  const order = single('order', q.order);
  let metrics = list(q.metric);
  if (metrics.length === 0) metrics = await metricsOf(context, request);
  let rows = 0;
  for (const [i, metric] of metrics.entries()) {
    let after: { ts: number; seq: number } | undefined;
    do {
      const pageSize = limit === undefined ? EXPORT_PAGE : Math.min(EXPORT_PAGE, limit - rows);
      if (pageSize <= 0) return;
      const args: Record<string, unknown> = { sensor, metric, limit: pageSize };
      if (from !== undefined) args.from = from;
      if (to !== undefined) args.to = to;
      if (order !== undefined) args.order = order;
      if (after !== undefined) args.after = after;
      const page = (await context.call(request, 'telemetry', 'readings', args)) as ReadingsPage;
      let text =
        i === 0 && after === undefined
          ? csvRow(['time', 'ts', 'sensor', 'metric', 'value', 'unit', 'seq', 'tags'])
          : '';
      for (const r of page.readings) {
        text += csvRow([
          new Date(r.ts).toISOString(),
          r.ts,
          sensor,
          metric,
          r.value,
          page.unit,
          r.seq,
          r.tags === undefined ? undefined : JSON.stringify(r.tags),
        ]);
      }
      rows += page.readings.length;
      after = page.next;
      yield text;
    } while (after !== undefined);
  }
}

async function bucketsOf(
  context: RestContext,
  request: FastifyRequest<{ Params: SensorParams; Querystring: Query }>,
  csv: boolean,
): Promise<BucketsResult[]> {
  const q = request.query;
  const now = Date.now();
  const from = time('from', q.from, now) ?? now - HOUR;
  const to = time('to', q.to, now);
  const every = duration('every', q.every) ?? 60_000;
  let metrics = csv ? list(q.metric) : [await oneMetric(context, request)];
  if (metrics.length === 0) metrics = await metricsOf(context, request);
  const results: BucketsResult[] = [];
  for (const metric of metrics) {
    const args: Record<string, unknown> = { sensor: request.params.sensor, metric, from, every };
    if (to !== undefined) args.to = to;
    results.push((await context.call(request, 'telemetry', 'buckets', args)) as BucketsResult);
  }
  return results;
}

async function* bucketsCsv(results: BucketsResult[]): AsyncGenerator<string> {
  yield csvRow(['time', 't', 'sensor', 'metric', 'min', 'avg', 'max', 'count', 'unit', 'every_ms']);
  for (const r of results) {
    let text = '';
    for (const b of r.buckets) {
      text += csvRow([
        new Date(b.t).toISOString(),
        b.t,
        r.sensor,
        r.metric,
        b.min,
        b.avg,
        b.max,
        b.count,
        r.unit,
        r.every,
      ]);
    }
    yield text;
  }
}

async function* alertEventsCsv(events: AlertEvent[]): AsyncGenerator<string> {
  const rows: CsvValue[][] = events.map((e) => [
    new Date(e.at).toISOString(),
    e.id,
    e.state,
    e.ruleId,
    e.rule,
    e.sensor,
    e.metric,
    e.value,
    e.ts,
    e.since,
  ]);
  yield csvRow(['time', 'id', 'state', 'rule_id', 'rule', 'sensor', 'metric', 'value', 'ts', 'since']) +
    rows.map(csvRow).join('');
}
