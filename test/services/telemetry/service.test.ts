import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../../src/client/client.js';
import type { NexoNode } from '../../../src/node/node.js';
import { FrameType } from '../../../src/protocol/constants.js';
import { encodeFrame } from '../../../src/protocol/encoder.js';
import { packValue, unpackValue } from '../../../src/protocol/payload.js';
import type { LiveReading } from '../../../src/wire/telemetry.js';
import { startNode, tempDataDir, textSession } from '../../helpers/node.js';
import { RawPeer } from '../../helpers/raw-peer.js';
import { client, eventually, failure } from '../../helpers/telemetry.js';

let node: NexoNode & { port: number };
let c: NexoClient;

beforeAll(async () => {
  node = await startNode({ telemetry: { rate: 0 } });
  c = await client(node.port);
});
afterAll(async () => {
  await c?.close();
  await node?.close({ timeoutMs: 2000 });
});

const MIN = 60_000;

describe('telemetry: reports and acks', () => {
  it('acks a reading once stored; the same (sensor, seq) again is a duplicate, not a second row', async () => {
    expect(
      await c.telemetry.report(
        'a1',
        { metric: 'temperature', value: 21.5, unit: '°C', seq: 1 },
        { kind: 'thermometer', location: 'lab 3' },
      ),
    ).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    expect(await c.telemetry.report('a1', { metric: 'temperature', value: 99, seq: 1 })).toEqual({
      accepted: 0,
      duplicates: 1,
    });
    const batch = Array.from({ length: 100 }, (_, i) => ({
      metric: 'humidity',
      value: 40 + i / 10,
      seq: 2 + i,
      unit: '%',
    }));
    expect(await c.telemetry.reportBatch('a1', batch)).toEqual({ accepted: 100, duplicates: 0 });
    // Resent after a lost ack, with two new ones: only the new ones count.
    const resend = [
      ...batch.slice(90),
      { metric: 'humidity', value: 1, seq: 500 },
      { metric: 'humidity', value: 2, seq: 501 },
    ];
    expect(await c.telemetry.reportBatch('a1', resend)).toEqual({ accepted: 2, duplicates: 10 });

    const sensor = await c.telemetry.sensor('a1');
    expect(sensor).toMatchObject({ sensor: 'a1', kind: 'thermometer', location: 'lab 3', readings: 103 });
    expect(sensor.metrics.map((m) => [m.metric, m.unit, m.count])).toEqual([
      ['humidity', '%', 102],
      ['temperature', '°C', 1],
    ]);
    const stored = await c.telemetry.readings({ sensor: 'a1', metric: 'temperature' });
    expect(stored.readings.map((r) => [r.seq, r.value])).toEqual([[1, 21.5]]);
    expect(stored.unit).toBe('°C');
    const { readings: latest } = await c.telemetry.latest({ sensor: 'a1' });
    expect(latest.map((r) => [r.metric, r.value])).toEqual([
      ['humidity', 2],
      ['temperature', 21.5],
    ]);
  });

  it('records the sensor time and the receive time; a reading without ts gets the receive time', async () => {
    const before = Date.now();
    await c.telemetry.report('a2', { metric: 't', value: 1, ts: before - 5 * MIN });
    await c.telemetry.report('a2', { metric: 't', value: 2 });
    const { readings } = await c.telemetry.readings({ sensor: 'a2', metric: 't' });
    expect(readings[0]).toMatchObject({ ts: before - 5 * MIN, value: 1 });
    expect(readings[0]!.recv).toBeGreaterThanOrEqual(before);
    expect(readings[1]!.ts).toBe(readings[1]!.recv);
    expect(readings[1]!.seq).toBeUndefined(); // numbered by the node: not the sensor's business
  });
});

describe('telemetry: malformed reports get clear errors', () => {
  it.each([
    ['NaN', { metric: 'temperature', value: Number.NaN }, 'value NaN is not a finite number'],
    ['a string value', { metric: 'temperature', value: 'hot' }, 'value must be a number, got string "hot"'],
    [
      'a numeric string',
      { metric: 'temperature', value: '21.5' },
      'value must be a number, got string "21.5"',
    ],
    [
      'year 3000',
      { metric: 'temperature', value: 1, ts: Date.UTC(3000, 0, 1) },
      "(3000-01-01T00:00:00.000Z) is more than 1 day ahead of the node's clock",
    ],
    [
      'seconds',
      { metric: 'temperature', value: 1, ts: 1_750_000_000 },
      'ts 1750000000 is before 2000-01-01 (it looks like seconds: send milliseconds)',
    ],
    [
      '1 MB of tags',
      { metric: 'temperature', value: 1, tags: { note: 'x'.repeat(1_000_000) } },
      "tag 'note' is 1000000 characters long; at most 128",
    ],
    [
      'a timestamp extension',
      { metric: 'temperature', value: 1, ts: new Date() },
      'ts must be an integer number of milliseconds since 1970, got a timestamp extension',
    ],
  ])('%s', async (_, reading, message) => {
    const error = await failure(c.request('telemetry', 'report', { sensor: 'bad1', ...reading }));
    expect(error.code).toBe('TELEMETRY_INVALID_READING');
    expect(error.message).toContain(message);
  });

  it('refuses a batch with one bad reading as a whole, naming it; nothing of it is stored', async () => {
    const readings = [
      { metric: 'temperature', value: 20, seq: 1 },
      { metric: 'temperature', value: Number.POSITIVE_INFINITY, seq: 2 },
    ];
    const error = await failure(c.telemetry.reportBatch('bad2', readings as never));
    expect(error).toMatchObject({
      code: 'TELEMETRY_INVALID_READING',
      message: 'reading 1: value Infinity is not a finite number',
      details: { index: 1, field: 'value' },
    });
    expect((await failure(c.telemetry.sensor('bad2'))).code).toBe('TELEMETRY_UNKNOWN_SENSOR');
  });

  it('refuses bad sensor ids, oversized batches and a unit change, and goes on working', async () => {
    expect((await failure(c.telemetry.report('a b', { metric: 't', value: 1 }))).message).toMatch(
      /sensor id "a b" is not valid/,
    );
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ metric: 't', value: i }));
    expect((await failure(c.telemetry.reportBatch('big', tooMany))).message).toMatch(
      /args.readings: expected array length to be less or equal to 1000/i,
    );
    await c.telemetry.report('u1', { metric: 'temperature', value: 20, unit: '°C' });
    const unit = await failure(c.telemetry.report('u1', { metric: 'temperature', value: 68, unit: '°F' }));
    expect(unit.message).toBe(
      "sensor 'u1' reports temperature in '°C', not '°F': a series keeps one unit (report it under another metric name, e.g. temperature_F)",
    );
    expect(await c.telemetry.report('u1', { metric: 'temperature', value: 21 })).toEqual({
      accepted: 1,
      duplicates: 0,
    });
  });

  it('survives hostile payloads at the frame level and answers each one', async () => {
    const peer = await RawPeer.open(node.port);
    const hostile: unknown[] = [
      null,
      [],
      'report',
      { sensor: 's', readings: 'all' },
      { sensor: 's', readings: [null, 1, 'x', [[[]]]] },
      { sensor: 's', metric: { toString: 'x' }, value: 1 },
      { sensor: 's', metric: 't', value: 1, tags: JSON.parse('{"__proto__": {"polluted": "yes"}}') },
      { sensor: 's', metric: 't', value: 1, seq: -0.5 },
      { sensor: 'x'.repeat(10_000), metric: 't', value: 1 },
    ];
    for (const [i, args] of hostile.entries())
      peer.request('telemetry', i === 4 ? 'reportBatch' : 'report', args, i + 1);
    for (let i = 0; i < hostile.length; i++) {
      const reply = await peer.reply(i + 1);
      expect(reply.type, JSON.stringify(hostile[i]).slice(0, 60)).toBe(FrameType.ERROR);
      expect((reply.value as { code: string }).code).toMatch(/^(INVALID_ARGS|TELEMETRY_INVALID_READING)$/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined(); // `__proto__` never became a prototype
    peer.request('telemetry', 'report', { sensor: 'after-hostile', metric: 't', value: 1 }, 99);
    expect((await peer.reply(99)).value).toEqual({ accepted: 1, duplicates: 0 });
    peer.close();
  });
});

describe('telemetry: floods and limits', () => {
  it('rate-limits a flooding sensor by name while other sensors keep reporting', async () => {
    const limited = await startNode({ telemetry: { rate: 500, burst: 1000 } });
    const flooder = await client(limited.port);
    const other = await client(limited.port);
    try {
      const batch = (seq0: number) =>
        Array.from({ length: 100 }, (_, i) => ({ metric: 't', value: i, seq: seq0 + i }));
      const flood = Array.from({ length: 40 }, (_, k) =>
        flooder.telemetry.reportBatch('flood', batch(k * 100)).then(
          () => 'ok',
          (e: { code: string; message: string; details: Record<string, unknown> }) => e,
        ),
      );
      // Meanwhile a well-behaved sensor sends 10 batches of 40 (400 readings/s, under its own limit).
      const steady: string[] = [];
      for (let k = 0; k < 10; k++) {
        const ack = await other.telemetry.reportBatch(
          'steady',
          Array.from({ length: 40 }, (_, i) => ({ metric: 't', value: i, seq: k * 40 + i })),
        );
        steady.push(`${ack.accepted}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const results = await Promise.all(flood);
      const refused = results.filter((r) => r !== 'ok') as {
        code: string;
        message: string;
        details: Record<string, unknown>;
      }[];
      expect(results.filter((r) => r === 'ok').length).toBeGreaterThanOrEqual(10); // the burst went through
      expect(refused.length).toBeGreaterThan(20);
      expect(refused[0]!.code).toBe('RATE_LIMITED');
      expect(refused[0]!.message).toMatch(
        /^sensor 'flood' is over its limit of 500 readings\/s \(bursts of 1000\); retry in \d+ ms$/,
      );
      expect(refused[0]!.details).toMatchObject({
        sensor: 'flood',
        limit: 500,
        burst: 1000,
        retryAfterMs: expect.any(Number),
      });
      expect(steady).toEqual(Array(10).fill('40'));
    } finally {
      await flooder.close();
      await other.close();
      await limited.close({ timeoutMs: 2000 });
    }
  });

  it('bounds the node-wide write queue: beyond it, reports are refused, not buffered', async () => {
    const small = await startNode({ telemetry: { rate: 0, maxQueued: 1000 } });
    const x = await client(small.port);
    try {
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, k) =>
          x.telemetry
            .reportBatch(
              `q${k % 3}`,
              Array.from({ length: 400 }, (_, i) => ({ metric: 't', value: i, seq: k * 1000 + i })),
            )
            .then(
              (a) => a.accepted,
              (e: { code: string; message: string }) => e,
            ),
        ),
      );
      const refused = results.filter((r) => typeof r !== 'number') as { code: string; message: string }[];
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]).toMatchObject({
        code: 'RATE_LIMITED',
        message: expect.stringMatching(/readings waiting to be written to disk \(at most 1000\)/),
      });
      const accepted = results.filter((r) => typeof r === 'number').reduce((a, b) => a + b, 0);
      const stats = await x.telemetry.stats();
      expect(stats.readings).toBe(accepted);
    } finally {
      await x.close();
      await small.close({ timeoutMs: 2000 });
    }
  });

  it('bounds the number of series', async () => {
    const small = await startNode({ telemetry: { maxSeries: 2 } });
    const x = await client(small.port);
    try {
      await x.telemetry.report('s', { metric: 'a', value: 1 });
      await x.telemetry.report('s', { metric: 'b', value: 1 });
      const error = await failure(x.telemetry.report('t', { metric: 'a', value: 1 }));
      expect(error).toMatchObject({
        code: 'TELEMETRY_LIMIT',
        message: 'this node already stores 2 series (sensor × metric); at most 2 (telemetry.maxSeries)',
      });
      expect(await x.telemetry.report('s', { metric: 'a', value: 2 })).toEqual({
        accepted: 1,
        duplicates: 0,
      });
    } finally {
      await x.close();
      await small.close({ timeoutMs: 2000 });
    }
  });
});

describe('telemetry: queries', () => {
  const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000; // the start of the previous hour

  beforeAll(async () => {
    // 3 readings per minute for 10 minutes: values 0..29, at base + 20 s * i.
    const readings = Array.from({ length: 30 }, (_, i) => ({
      metric: 'temperature',
      value: i,
      seq: i,
      ts: base + i * 20_000,
    }));
    await c.telemetry.reportBatch('q1', readings);
  });

  it('downsamples into min/avg/max/count per bucket, from the rollup for whole minutes', async () => {
    const result = await c.telemetry.buckets({
      sensor: 'q1',
      metric: 'temperature',
      from: base,
      to: base + 10 * MIN,
      every: 5 * MIN,
    });
    expect(result.source).toBe('rollup');
    expect(result.buckets).toEqual([
      { t: base, min: 0, max: 14, avg: 7, count: 15 },
      { t: base + 5 * MIN, min: 15, max: 29, avg: 22, count: 15 },
    ]);
    // A range that starts and ends inside minutes is exact too: its edges come from the readings.
    const edges = await c.telemetry.buckets({
      sensor: 'q1',
      metric: 'temperature',
      from: base + 30_000,
      to: base + 150_000,
      every: MIN,
    });
    expect(edges.buckets.map((b) => [b.t - base, b.count, b.min, b.max])).toEqual([
      [0, 1, 2, 2],
      [MIN, 3, 3, 5],
      [2 * MIN, 2, 6, 7],
    ]);
    const raw = await c.telemetry.buckets({
      sensor: 'q1',
      metric: 'temperature',
      from: base,
      to: base + MIN,
      every: 30_000,
    });
    expect(raw.source).toBe('raw');
    expect(raw.buckets.map((b) => b.count)).toEqual([2, 1]);
  });

  it('pages through raw readings', async () => {
    const first = await c.telemetry.readings({ sensor: 'q1', metric: 'temperature', from: base, limit: 12 });
    expect(first.readings.map((r) => r.value)).toEqual([...Array(12).keys()]);
    expect(first.next).toBeDefined();
    const all = [];
    for await (const r of c.telemetry.allReadings({
      sensor: 'q1',
      metric: 'temperature',
      from: base,
      limit: 7,
    }))
      all.push(r.value);
    expect(all).toEqual([...Array(30).keys()]);
    const newest = await c.telemetry.readings({
      sensor: 'q1',
      metric: 'temperature',
      order: 'desc',
      limit: 2,
    });
    expect(newest.readings.map((r) => r.value)).toEqual([29, 28]);
  });

  it('says what exists when asked for something that does not, and refuses huge answers', async () => {
    expect(
      await failure(c.telemetry.buckets({ sensor: 'nope', metric: 't', from: base, every: MIN })),
    ).toMatchObject({
      code: 'TELEMETRY_UNKNOWN_SENSOR',
      message: "no sensor 'nope' has reported to this node",
    });
    expect((await failure(c.telemetry.readings({ sensor: 'q1', metric: 'pressure' }))).message).toBe(
      "sensor 'q1' has no metric 'pressure' (it reports: temperature)",
    );
    const huge = await failure(
      c.telemetry.buckets({
        sensor: 'q1',
        metric: 'temperature',
        from: base - 86_400_000,
        to: base,
        every: 1000,
      }),
    );
    expect(huge).toMatchObject({
      code: 'TELEMETRY_QUERY_TOO_LARGE',
      message: expect.stringMatching(/^86400 buckets of 1000 ms would cover that range; at most 10080/),
    });
    expect(
      (
        await failure(
          c.telemetry.buckets({ sensor: 'q1', metric: 'temperature', from: base, to: base, every: MIN }),
        )
      ).code,
    ).toBe('INVALID_ARGS');
  });
});

describe('telemetry: watch and alerts', () => {
  it('pushes durable readings that match the filter, then alert events; the history keeps them', async () => {
    const events: LiveReading[] = [];
    const alerts: { state: string; value: number }[] = [];
    const watch = await c.telemetry.watch(
      { sensors: ['w1'], metrics: ['temperature'] },
      { onReading: (r) => events.push(r), onAlert: (e) => alerts.push(e) },
    );
    const { rule } = await c.telemetry.addAlert('temperature > 30', { sensors: ['w1'] });
    expect(rule).toMatchObject({
      metric: 'temperature',
      op: '>',
      threshold: 30,
      forMs: 0,
      text: 'temperature > 30',
    });
    await c.telemetry.report('w1', { metric: 'temperature', value: 25, unit: '°C' });
    await c.telemetry.report('w1', { metric: 'humidity', value: 50 });
    await c.telemetry.report('w2', { metric: 'temperature', value: 40 });
    await c.telemetry.report('w1', { metric: 'temperature', value: 31 });
    await c.telemetry.report('w1', { metric: 'temperature', value: 29 });
    await eventually(() => (events.length >= 3 && alerts.length >= 2 ? true : undefined));
    expect(events.map((e) => [e.sensor, e.metric, e.value, e.unit])).toEqual([
      ['w1', 'temperature', 25, '°C'],
      ['w1', 'temperature', 31, '°C'],
      ['w1', 'temperature', 29, '°C'],
    ]);
    expect(alerts.map((a) => [a.state, a.value])).toEqual([
      ['firing', 31],
      ['resolved', 29],
    ]);
    watch.stop();
    await watch.done;
    const { events: history } = await eventually(async () => {
      const h = await c.telemetry.alertEvents({ sensor: 'w1' });
      return h.events.length >= 2 ? h : undefined;
    });
    expect(history.map((e) => [e.state, e.rule, e.value])).toEqual([
      ['resolved', 'temperature > 30', 29],
      ['firing', 'temperature > 30', 31],
    ]);
    expect((await c.telemetry.alerts()).rules.find((r) => r.id === rule.id)).toMatchObject({ firing: [] });
    expect((await c.telemetry.removeAlert(rule.id)).removed.id).toBe(rule.id);
    expect(await failure(c.telemetry.removeAlert(rule.id))).toMatchObject({
      code: 'TELEMETRY_UNKNOWN_ALERT',
    });
    expect(await failure(c.telemetry.addAlert('temperature is hot'))).toMatchObject({
      code: 'TELEMETRY_BAD_RULE',
    });
  });

  it('drops events for a watcher that stops reading, and tells it how many when it catches up', async () => {
    const peer = await RawPeer.open(node.port);
    peer.request('telemetry', 'watch', { sensors: ['slow1'] }, 1);
    await eventually(() =>
      peer.frames.some((f) => f.id === 1 && f.type === FrameType.RESPONSE) ? true : undefined,
    );
    peer.socket.pause(); // stop reading: the node's writes to it back up
    const writer = await client(node.port);
    const tags = { note: 'x'.repeat(120) }; // larger events fill the socket buffers sooner
    for (let k = 0; k < 120; k++) {
      await writer.telemetry.reportBatch(
        'slow1',
        Array.from({ length: 1000 }, (_, i) => ({ metric: 't', value: i, seq: k * 1000 + i, tags })),
      );
    }
    peer.socket.resume();
    const dropped = await eventually(() => {
      const frame = peer.frames.find(
        (f) =>
          f.id === 1 &&
          f.type === FrameType.EVENT &&
          (unpackValue(f.payload!) as { type: string }).type === 'dropped',
      );
      return frame === undefined ? undefined : (unpackValue(frame.payload!) as { count: number }).count;
    }, 15_000);
    expect(dropped).toBeGreaterThan(0);
    const delivered = peer.frames
      .filter((f) => f.id === 1 && f.type === FrameType.EVENT)
      .map((f) => unpackValue(f.payload!) as { type: string; readings?: unknown[] })
      .reduce((n, e) => n + (e.readings?.length ?? 0), 0);
    expect(delivered + dropped).toBeLessThanOrEqual(120_000);
    expect(delivered).toBeLessThan(120_000);
    await writer.close();
    peer.close();
  });
});

describe('telemetry: text mode', () => {
  it('acks a report line once stored, and explains bad lines', async () => {
    const out = await textSession(
      node.port,
      'report t1 temperature 21.5 C\nreport t1 humidity 40 %\nreport t1 temperature NaN\nreport t1 temperature warm\nreport t1 temperature 1e999\nreport t1\nreport t1 temperature 22 F\nfim\n',
    );
    expect(out.split('\n')).toEqual([
      'ack t1 temperature 21.5 C',
      'ack t1 humidity 40 %',
      'error: value "NaN" is not a finite number (TELEMETRY_INVALID_READING)',
      'error: value must be a number, got "warm" (TELEMETRY_INVALID_READING)',
      'error: value "1e999" is not a finite number (TELEMETRY_INVALID_READING)',
      'error: usage: report <sensor> <metric> <value> [unit], e.g. report s1 temperature 21.5 C (INVALID_ARGS)',
      "error: sensor 't1' reports temperature in 'C', not 'F': a series keeps one unit (report it under another metric name, e.g. temperature_F) (TELEMETRY_INVALID_READING)",
      '',
    ]);
    const listing = await textSession(node.port, 'sensors\nlatest t1\nfim\n');
    expect(listing).toMatch(/^t1: humidity=40 % temperature=21\.5 C \(2 readings, last \d+s ago\)$/m);
    expect(listing).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z t1 temperature 21\.5 C$/m);
  });

  it('watch prints a line per reading until the next line', async () => {
    const lines: string[] = [];
    const session = textSession(node.port, 'watch t2\n', { until: /t2 humidity 41/, timeoutMs: 8000 });
    await new Promise((r) => setTimeout(r, 300));
    await c.telemetry.report('t2', { metric: 'humidity', value: 41, unit: '%' });
    lines.push(...(await session).trim().split('\n'));
    expect(lines.at(-1)).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z t2 humidity 41 %$/);
  });
});

describe('telemetry: restart and retention', () => {
  it('keeps sensors, counts, latest values and alert rules across a restart', async () => {
    const dataDir = tempDataDir();
    const first = await startNode({ dataDir });
    let x = await client(first.port);
    await x.telemetry.reportBatch(
      'r1',
      [
        { metric: 'temperature', value: 20, seq: 1, unit: '°C' },
        { metric: 'temperature', value: 21, seq: 2 },
      ],
      { location: 'roof' },
    );
    await x.telemetry.addAlert('temperature > 50 for 5m');
    await x.close();
    await first.close({ timeoutMs: 2000 });

    const second = await startNode({ dataDir });
    x = await client(second.port);
    try {
      expect(await x.telemetry.sensor('r1')).toMatchObject({
        location: 'roof',
        readings: 2,
        metrics: [{ metric: 'temperature', unit: '°C', last: { value: 21 } }],
      });
      expect((await x.telemetry.alerts()).rules.map((r) => r.text)).toEqual(['temperature > 50 for 5m']);
      expect(
        await x.telemetry.reportBatch('r1', [
          { metric: 'temperature', value: 21, seq: 2 },
          { metric: 'temperature', value: 22, seq: 3 },
        ]),
      ).toEqual({ accepted: 1, duplicates: 1 });
    } finally {
      await x.close();
      await second.close({ timeoutMs: 2000 });
    }
  });

  it('deletes readings older than the retention in the background while reports keep being acked', async () => {
    const dataDir = tempDataDir();
    const first = await startNode({ dataDir, telemetry: { rate: 0 } });
    let x = await client(first.port);
    const old = Date.now() - 3 * 3_600_000;
    for (let k = 0; k < 20; k++) {
      await x.telemetry.reportBatch(
        'old',
        Array.from({ length: 1000 }, (_, i) => ({
          metric: 't',
          value: i,
          seq: k * 1000 + i,
          ts: old + k * 1000 + i,
        })),
      );
    }
    await x.close();
    await first.close({ timeoutMs: 2000 });

    const second = await startNode({ dataDir, telemetry: { retention: '1h' } });
    x = await client(second.port);
    try {
      // The pass runs as the store opens; reports are acked meanwhile.
      for (let i = 0; i < 20; i++)
        expect(await x.telemetry.report('old', { metric: 't', value: i, seq: 100_000 + i })).toEqual({
          accepted: 1,
          duplicates: 0,
        });
      const stats = await eventually(async () => {
        const s = await x.telemetry.stats();
        return s.readings === 20 ? s : undefined;
      }, 10_000);
      expect(stats.readings).toBe(20);
      const { readings } = await x.telemetry.readings({ sensor: 'old', metric: 't' });
      expect(readings.every((r) => r.ts > Date.now() - 3_600_000)).toBe(true);
      expect(
        (
          await x.telemetry.buckets({ sensor: 'old', metric: 't', from: old - MIN, every: 3_600_000 })
        ).buckets.reduce((n, b) => n + b.count, 0),
      ).toBe(20);
    } finally {
      await x.close();
      await second.close({ timeoutMs: 2000 });
    }
  });
});

describe('telemetry: storage problems', () => {
  it('a data directory that cannot hold the store fails reports with TELEMETRY_STORAGE; the node keeps serving', async () => {
    const { writeFileSync } = await import('node:fs');
    const path = await import('node:path');
    const dataDir = tempDataDir();
    writeFileSync(path.join(dataDir, 'telemetry'), 'not a directory');
    const broken = await startNode({ dataDir });
    const x = await client(broken.port);
    try {
      const error = await failure(x.telemetry.report('s', { metric: 't', value: 1 }));
      expect(error.code).toBe('TELEMETRY_STORAGE');
      expect(error.message).toMatch(/^could not open the telemetry store: .*telemetry/);
      expect(error.retryable).toBe(true);
      expect(await x.calc.eval('1+1')).toEqual({ value: '2' });
    } finally {
      await x.close();
      await broken.close({ timeoutMs: 2000 });
    }
  });
});

describe('telemetry: frames', () => {
  it('answers reports sent in one write, split at every byte', async () => {
    const peer = await RawPeer.open(node.port);
    const frames = Buffer.concat(
      Array.from({ length: 3 }, (_, i) =>
        Buffer.from(
          encodeFrame(
            FrameType.REQUEST,
            0,
            i + 1,
            packValue(['telemetry', 'report', { sensor: 'split', metric: 't', value: i, seq: i }]),
          ),
        ),
      ),
    );
    for (const byte of frames) {
      peer.write(Uint8Array.of(byte));
    }
    for (let i = 1; i <= 3; i++) expect((await peer.reply(i)).value).toEqual({ accepted: 1, duplicates: 0 });
    peer.close();
  });
});
