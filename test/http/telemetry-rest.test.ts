import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import { ERRORS, type ErrorCode } from '../../src/errors.js';
import type { NexoNode } from '../../src/node/node.js';
import { csvCell, csvRow } from '../../src/util/csv.js';
import { startNode } from '../helpers/node.js';
import { client as connectClient } from '../helpers/telemetry.js';
import { httpPort } from '../helpers/transports.js';

/**
 * Telemetry over HTTP: sensors, latest values, raw readings (a JSON page with a `next` link, or every row as
 * streamed CSV), downsampled buckets, alerts and their history, and reports posted as JSON; the errors are
 * the service's, with the registry's statuses; CSV cells that a spreadsheet would run as formulas are
 * defused.
 */
let node: NexoNode & { port: number };
let base: string;
let proto: NexoClient;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const BULK = 25_000;

beforeAll(async () => {
  node = await startNode({ nodeId: 'tele-http', http: { port: 0 }, telemetry: { rate: 0 } });
  base = `http://127.0.0.1:${httpPort(node)}`;
  proto = await connectClient(node.port);
  // 25,000 readings of bulk/temperature, one a second from T0, value = i / 10 - 1000 (negatives included).
  for (let start = 0; start < BULK; start += 1000) {
    const readings = Array.from({ length: 1000 }, (_, k) => {
      const i = start + k;
      return { metric: 'temperature', value: i / 10 - 1000, ts: T0 + i * 1000, seq: i, unit: 'C' };
    });
    await proto.telemetry.reportBatch('bulk', readings);
  }
});
afterAll(async () => {
  await proto?.close();
  await node?.close({ timeoutMs: 2000 });
});

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(base + path, { headers });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

async function post(path: string, body: unknown): Promise<Answer> {
  const response = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: JSON.parse(text) };
}

function expectError(r: Answer, code: ErrorCode): void {
  expect(r.json, r.text).toMatchObject({ error: { code, message: expect.any(String) } });
  expect(r.status).toBe(ERRORS[code].status);
}

/** RFC 4180 records (quoted fields, doubled quotes, CRLF or LF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

describe('telemetry over HTTP: queries', () => {
  it('exports every reading of a range as streamed CSV, paging through the store', async () => {
    const response = await fetch(
      `${base}/api/telemetry/sensors/bulk/readings.csv?metric=temperature&from=${T0}`,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="bulk-readings.csv"');
    // Streamed: no length known up front, sent in chunks as the pages are read.
    expect(response.headers.get('content-length')).toBeNull();
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    const rows = parseCsv(await response.text());
    expect(rows[0]).toEqual(['time', 'ts', 'sensor', 'metric', 'value', 'unit', 'seq', 'tags']);
    expect(rows.length).toBe(BULK + 1);
    for (const i of [0, 1, 9_999, 10_000, 10_001, 19_999, 20_000, BULK - 1]) {
      const r = rows[i + 1]!;
      expect(r).toEqual([
        new Date(T0 + i * 1000).toISOString(),
        String(T0 + i * 1000),
        'bulk',
        'temperature',
        String(i / 10 - 1000), // negative numbers are numbers, not formulas: no quote prefix
        'C',
        String(i),
        '',
      ]);
    }
    // A limit, a range and the same with Accept: text/csv or ?format=csv.
    const limited = parseCsv(
      (
        await get(
          `/api/telemetry/sensors/bulk/readings?metric=temperature&from=${T0 + 100_000}&to=${T0 + 200_000}&format=csv`,
        )
      ).text,
    );
    expect(limited.length).toBe(101);
    expect(limited[1]![6]).toBe('100');
    const accepted = await get(`/api/telemetry/sensors/bulk/readings?metric=temperature&from=${T0}&limit=5`, {
      accept: 'text/csv',
    });
    expect(accepted.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(parseCsv(accepted.text).length).toBe(6);
    const json = await get(`/api/telemetry/sensors/bulk/readings.csv?metric=temperature&limit=5&format=json`);
    expect(json.headers.get('content-type')).toMatch(/^text\/csv/); // the .csv path wins
  });

  it('JSON readings come a page at a time; `next` and the Link header lead to the following page', async () => {
    const collected: number[] = [];
    let url: string | undefined =
      `/api/telemetry/sensors/bulk/readings?metric=temperature&from=${T0}&limit=10000`;
    let pages = 0;
    while (url !== undefined) {
      const r = await get(url);
      expect(r.status).toBe(200);
      const page = r.json as {
        readings: { seq: number; value: number }[];
        next?: { ts: number; seq: number };
        unit: string;
      };
      expect(page.unit).toBe('C');
      collected.push(...page.readings.map((x) => x.seq));
      const link = r.headers.get('link');
      if (page.next === undefined) {
        expect(link).toBeNull();
        url = undefined;
      } else {
        expect(link).toMatch(
          /^<\/api\/telemetry\/sensors\/bulk\/readings\?.*after=\d+%3A\d+.*>; rel="next"$/,
        );
        url = /^<([^>]+)>/.exec(link!)![1];
      }
      pages++;
    }
    expect(pages).toBe(3);
    expect(collected).toEqual(Array.from({ length: BULK }, (_, i) => i));
    const desc = (await get(`/api/telemetry/sensors/bulk/readings?metric=temperature&order=desc&limit=2`))
      .json as {
      readings: { seq: number }[];
    };
    expect(desc.readings.map((r) => r.seq)).toEqual([BULK - 1, BULK - 2]);
  });

  it('buckets: min/avg/max/count per bucket, as JSON or CSV', async () => {
    const every = 600_000; // 10 minutes = 600 readings per bucket
    const r = await get(
      `/api/telemetry/sensors/bulk/buckets?metric=temperature&from=${T0}&to=${T0 + 3_600_000}&every=10m`,
    );
    expect(r.status).toBe(200);
    const result = r.json as {
      every: number;
      source: string;
      buckets: { t: number; min: number; max: number; avg: number; count: number }[];
    };
    expect(result.every).toBe(every);
    expect(result.source).toBe('rollup');
    expect(result.buckets).toHaveLength(6);
    for (const [k, b] of result.buckets.entries()) {
      const first = k * 600;
      const last = first + 599;
      expect(b).toMatchObject({
        t: T0 + k * every,
        count: 600,
        min: first / 10 - 1000,
        max: last / 10 - 1000,
      });
      expect(b.avg).toBeCloseTo((first + last) / 20 - 1000, 9);
    }
    const csv = parseCsv(
      (await get(`/api/telemetry/sensors/bulk/buckets.csv?from=${T0}&to=${T0 + 3_600_000}&every=600000`))
        .text,
    );
    expect(csv[0]).toEqual([
      'time',
      't',
      'sensor',
      'metric',
      'min',
      'avg',
      'max',
      'count',
      'unit',
      'every_ms',
    ]);
    expect(csv).toHaveLength(7);
    expect(csv[1]!.slice(1)).toEqual([
      String(T0),
      'bulk',
      'temperature',
      '-1000',
      String(result.buckets[0]!.avg),
      '-940.1',
      '600',
      'C',
      '600000',
    ]);
  });

  it('sensors and latest values', async () => {
    const sensors = (await get('/api/telemetry/sensors')).json as {
      sensors: { sensor: string; readings: number }[];
    };
    expect(sensors.sensors.find((s) => s.sensor === 'bulk')?.readings).toBe(BULK);
    const one = (await get('/api/telemetry/sensors/bulk')).json as {
      sensors: { metrics: { metric: string }[] }[];
    };
    expect(one.sensors[0]!.metrics.map((m) => m.metric)).toEqual(['temperature']);
    const latest = (await get('/api/telemetry/latest?sensor=bulk')).json as { readings: { value: number }[] };
    expect(latest.readings).toEqual([
      expect.objectContaining({ sensor: 'bulk', metric: 'temperature', value: (BULK - 1) / 10 - 1000 }),
    ]);
  });

  it("errors are the service's, with the registry's statuses", async () => {
    expectError(await get('/api/telemetry/sensors/nobody/readings?metric=x'), 'TELEMETRY_UNKNOWN_SENSOR');
    expectError(await get('/api/telemetry/sensors/nobody/readings.csv'), 'TELEMETRY_UNKNOWN_SENSOR');
    expectError(
      await get('/api/telemetry/sensors/bulk/readings?metric=pressure'),
      'TELEMETRY_UNKNOWN_SENSOR',
    );
    const noMetric = await get('/api/telemetry/sensors/bulk/readings');
    expectError(noMetric, 'INVALID_ARGS');
    expect(noMetric.text).toContain('temperature'); // says what the sensor reports
    expectError(
      await get('/api/telemetry/sensors/bulk/readings?metric=temperature&from=yesterday'),
      'INVALID_ARGS',
    );
    expectError(await get('/api/telemetry/sensors/bulk/readings?metric=temperature&limit=0'), 'INVALID_ARGS');
    expectError(
      await get('/api/telemetry/sensors/bulk/readings?metric=temperature&after=nope'),
      'INVALID_ARGS',
    );
    expectError(
      await get('/api/telemetry/sensors/bulk/readings?metric=temperature&format=xml'),
      'INVALID_ARGS',
    );
    expectError(
      await get('/api/telemetry/sensors/bulk/readings?metric=temperature&order=sideways'),
      'INVALID_ARGS',
    );
    expectError(
      await get('/api/telemetry/sensors/bulk/buckets?metric=temperature&from=30d&every=1ms'),
      'TELEMETRY_QUERY_TOO_LARGE',
    );
    expectError(
      await get('/api/telemetry/sensors/bulk/buckets?metric=temperature&every=soon'),
      'INVALID_ARGS',
    );
    expectError(
      await get(`/api/telemetry/sensors/bulk/buckets?metric=temperature&from=${T0}&to=${T0}`),
      'INVALID_ARGS',
    );
    expectError(await get('/api/telemetry/sensors/bulk/readings?metric=a&metric=b'), 'INVALID_ARGS');
    expectError(await get(`/api/telemetry/sensors/${'x'.repeat(100)}`), 'TELEMETRY_UNKNOWN_SENSOR');
    expectError(await get(`/api/telemetry/sensors/${'x'.repeat(300)}`), 'NOT_FOUND'); // past the router's limit
  });

  it('property: any query string gets a 2xx or an error with a registry code and its status, never a 5xx', async () => {
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.integer().map(String),
      fc.constantFrom('1h', '-1h', '0', '1ms', '2026-01-01', 'NaN', '1e30', 'csv', 'json', '9'.repeat(40)),
    );
    const param = fc.tuple(
      fc.constantFrom(
        'metric',
        'from',
        'to',
        'every',
        'limit',
        'after',
        'order',
        'format',
        'sensor',
        'ruleId',
      ),
      value,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          '/api/telemetry/sensors/bulk/readings',
          '/api/telemetry/sensors/bulk/readings.csv',
          '/api/telemetry/sensors/bulk/buckets',
          '/api/telemetry/sensors/bulk/buckets.csv',
          '/api/telemetry/alerts/events',
          '/api/telemetry/latest',
          '/api/telemetry/sensors',
        ),
        fc.array(param, { maxLength: 4 }),
        async (path, params) => {
          const query = new URLSearchParams(params).toString();
          const r = await get(`${path}?${query}`);
          expect(r.status, `${path}?${query}: ${r.text.slice(0, 200)}`).toBeLessThan(500);
          if (r.status >= 400) {
            const code = (r.json as { error: { code: ErrorCode } }).error.code;
            expect(ERRORS[code].status).toBe(r.status);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('telemetry over HTTP: reports and alerts', () => {
  it('POST a reading, an array or {readings}; the answer comes once they are durable', async () => {
    expect(
      (await post('/api/telemetry/sensors/posted/readings', { metric: 'humidity', value: 41.5, unit: '%' }))
        .json,
    ).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    expect(
      (
        await post('/api/telemetry/sensors/posted/readings', [
          { metric: 'humidity', value: 42, seq: 7 },
          { metric: 'humidity', value: 43, seq: 8 },
        ])
      ).json,
    ).toEqual({ accepted: 2, duplicates: 0 });
    expect(
      (
        await post('/api/telemetry/sensors/posted/readings', {
          readings: [{ metric: 'humidity', value: 42, seq: 7 }],
          location: 'lab',
        })
      ).json,
    ).toEqual({ accepted: 0, duplicates: 1 });
    // The generic method route works too.
    expect(
      (await post('/api/telemetry/report', { sensor: 'posted', metric: 'humidity', value: 44 })).json,
    ).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    const sensor = (await get('/api/telemetry/sensors/posted')).json as {
      sensors: { readings: number; location: string }[];
    };
    expect(sensor.sensors[0]).toMatchObject({ readings: 4, location: 'lab' });

    expectError(
      await post('/api/telemetry/sensors/posted/readings', { metric: 'humidity', value: 'wet' }),
      'TELEMETRY_INVALID_READING',
    );
    expectError(
      await post('/api/telemetry/sensors/posted/readings', { metric: 'humidity', value: 1, sensor: 'other' }),
      'INVALID_ARGS',
    );
    expectError(
      await post('/api/telemetry/sensors/bad%20id/readings', { metric: 'humidity', value: 1 }),
      'TELEMETRY_INVALID_READING',
    );
    expectError(await post('/api/telemetry/sensors/posted/readings', 42), 'INVALID_ARGS');
    expectError(
      await post('/api/telemetry/sensors/posted/readings', [{ metric: 'h', value: 1 }, { metric: 'h' }]),
      'TELEMETRY_INVALID_READING',
    );
  });

  it('alerts and their history, as JSON and CSV', async () => {
    const rule = await post('/api/telemetry/addAlert', {
      rule: 'pressure > 1000',
      name: '=HYPERLINK("http://evil")',
    });
    expect(rule.status).toBe(200);
    await post('/api/telemetry/sensors/alerting/readings', { metric: 'pressure', value: 1010 });
    await post('/api/telemetry/sensors/alerting/readings', { metric: 'pressure', value: 990 });
    const alerts = (await get('/api/telemetry/alerts')).json as {
      rules: { name: string; firing: unknown[] }[];
    };
    expect(alerts.rules[0]).toMatchObject({ name: '=HYPERLINK("http://evil")', firing: [] });
    await expect
      .poll(
        async () => ((await get('/api/telemetry/alerts/events')).json as { events: unknown[] }).events.length,
      )
      .toBe(2);
    const events = (await get('/api/telemetry/alerts/events')).json as { events: { state: string }[] };
    expect(events.events.map((e) => e.state)).toEqual(['resolved', 'firing']); // newest first
    const csv = parseCsv((await get('/api/telemetry/alerts/events.csv?sensor=alerting')).text);
    expect(csv[0]).toEqual([
      'time',
      'id',
      'state',
      'rule_id',
      'rule',
      'sensor',
      'metric',
      'value',
      'ts',
      'since',
    ]);
    expect(csv.slice(1).map((r) => [r[2], r[5], r[6], r[7]])).toEqual([
      ['resolved', 'alerting', 'pressure', '990'],
      ['firing', 'alerting', 'pressure', '1010'],
    ]);
  });

  it('CSV injection: text cells that a spreadsheet would evaluate are prefixed with a quote', async () => {
    await post('/api/telemetry/sensors/sneaky/readings', {
      metric: 'level',
      value: -1,
      unit: '=1+1',
      tags: { note: '@SUM(A1:A9)', other: '+cmd', plain: 'ok, "quoted"' },
    });
    const rows = parseCsv((await get('/api/telemetry/sensors/sneaky/readings.csv')).text);
    expect(rows[1]![4]).toBe('-1'); // a number stays a number
    expect(rows[1]![5]).toBe("'=1+1");
    expect(JSON.parse(rows[1]![7]!)).toEqual({ note: '@SUM(A1:A9)', other: '+cmd', plain: 'ok, "quoted"' });
    // The cell encoder itself, for every dangerous first character.
    for (const start of ['=', '+', '-', '@', '\t', '\r']) expect(csvCell(`${start}x`)).toMatch(/^"?'/);
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvRow(['x', 1, undefined])).toBe('x,1,\r\n');
    fc.assert(
      fc.property(fc.string(), (text) => {
        const parsed = parseCsv(csvRow([text, 'end']))[0]!;
        const cell = parsed[0]!;
        expect(parsed[1]).toBe('end');
        expect(/^[=+\-@\t\r]/.test(cell)).toBe(false);
        expect(cell === text || cell === `'${text}`).toBe(true);
      }),
    );
  });
});
