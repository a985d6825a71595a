import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NexoError } from '../../../src/errors.js';
import { AlertEngine, parseRule } from '../../../src/services/telemetry/alerts.js';
import { MAX_MQTT_PAYLOAD, parseMqttMessage } from '../../../src/services/telemetry/mqtt.js';
import { telemetryCommands } from '../../../src/services/telemetry/text.js';
import {
  checkReading,
  checkSensorId,
  checkTags,
  parseNumberText,
} from '../../../src/services/telemetry/validate.js';
import { RateLimiter } from '../../../src/util/rate-limit.js';
import { LIMITS } from '../../../src/wire/telemetry.js';

const NOW = Date.UTC(2026, 4, 1, 12);

function reason(fn: () => unknown): { code: string; message: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NexoError);
    const e = err as NexoError;
    return { code: e.code, message: e.message, details: e.details };
  }
  throw new Error('expected an error');
}

describe('reading validation', () => {
  it('accepts a plain reading and fills in the receive time', () => {
    expect(checkReading({ metric: 'temperature', value: 21.5 }, NOW)).toEqual({
      metric: 'temperature',
      value: 21.5,
      seq: Number.NaN,
      ts: NOW,
      unit: undefined,
      tags: undefined,
    });
    const full = checkReading(
      { metric: 'pm2.5', value: -3, seq: 7, ts: NOW - 1000, unit: 'µg/m³', tags: { room: 'lab 3' } },
      NOW,
    );
    expect(full).toMatchObject({ seq: 7, ts: NOW - 1000, unit: 'µg/m³', tags: '{"room":"lab 3"}' });
  });

  it.each([
    ['NaN', { value: Number.NaN }, /value NaN is not a finite number/],
    ['Infinity', { value: Number.POSITIVE_INFINITY }, /value Infinity is not a finite number/],
    ['a string', { value: '21.5' }, /value must be a number, got string "21.5"/],
    ['a missing value', { value: undefined }, /value must be a number, got undefined/],
    ['an object', { value: { v: 1 } }, /value must be a number, got object an object/],
    [
      'year 3000',
      { ts: Date.UTC(3000, 0, 1) },
      /3000-01-01T00:00:00.000Z\) is more than 1 day ahead of the node's clock/,
    ],
    [
      'seconds instead of ms',
      { ts: 1_700_000_000 },
      /before 2000-01-01 \(it looks like seconds: send milliseconds\)/,
    ],
    ['a fractional ts', { ts: NOW + 0.5 }, /ts must be an integer number of milliseconds/],
    ['a huge ts', { ts: 1e300 }, /ts must be an integer|beyond year/],
    ['a negative seq', { seq: -1 }, /seq must be an integer from 0 to 2\^53-1, got -1/],
    ['an unsafe seq', { seq: 2 ** 60 }, /seq must be an integer/],
    ['a bad metric', { metric: 'tem perature' }, /metric "tem perature" is not valid/],
    ['a long metric', { metric: 'm'.repeat(65) }, /is not valid: use 1 to 64/],
    ['a unit with spaces', { unit: 'deg C' }, /unit "deg C" is not valid/],
    ['tags as an array', { tags: ['a'] }, /tags must be a map of names to strings, got array/],
    ['a numeric tag', { tags: { floor: 3 } }, /tag 'floor' must be a string, got number/],
    [
      'too many tags',
      { tags: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`t${i}`, 'x'])) },
      /more than 16 tags/,
    ],
    ['a control character in a tag', { tags: { a: 'x\ny' } }, /contains control characters/],
  ])('refuses %s with a message that says why', (_, patch, message) => {
    const error = reason(() => checkReading({ metric: 'temperature', value: 1, ...patch }, NOW));
    expect(error.code).toBe('TELEMETRY_INVALID_READING');
    expect(error.message).toMatch(message);
  });

  it('refuses 1 MB of tags by their size, without echoing them', () => {
    const error = reason(() => checkTags({ blob: 'x'.repeat(1_000_000) }));
    expect(error.message).toBe(`tag 'blob' is 1000000 characters long; at most ${LIMITS.tagValue}`);
    const many = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`tag${i}`, 'y'.repeat(100)]));
    expect(reason(() => checkTags(many)).message).toMatch(/tags take \d+ bytes as JSON; at most 1024/);
  });

  it('names the reading of a batch that is wrong', () => {
    const error = reason(() => checkReading({ metric: 'x', value: 'hot' }, NOW, 3));
    expect(error.message).toBe('reading 3: value must be a number, got string "hot"');
    expect(error.details).toEqual({ field: 'value', index: 3 });
  });

  it('checks sensor ids', () => {
    expect(checkSensorId('room-1.sensor_A:7')).toBe('room-1.sensor_A:7');
    for (const bad of ['', 'a/b', '-x', 'a b', 'x'.repeat(65), 42, null]) {
      expect(reason(() => checkSensorId(bad)).code).toBe('TELEMETRY_INVALID_READING');
    }
  });

  it('never throws anything but TELEMETRY_INVALID_READING for any input (property)', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withTypedArray: true }), (raw) => {
        try {
          const r = checkReading(raw, NOW);
          // Whatever passed is well-formed.
          expect(Number.isFinite(r.value)).toBe(true);
          expect(r.ts).toBeGreaterThanOrEqual(LIMITS.minTs);
          expect(r.ts).toBeLessThanOrEqual(NOW + LIMITS.maxFutureMs);
        } catch (err) {
          expect((err as NexoError).code).toBe('TELEMETRY_INVALID_READING');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts every well-formed reading (property)', () => {
    const reading = fc.record(
      {
        metric: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/),
        value: fc.double({ noNaN: true, noDefaultInfinity: true }),
        seq: fc.maxSafeNat(),
        ts: fc.integer({ min: LIMITS.minTs, max: NOW + LIMITS.maxFutureMs }),
        tags: fc.dictionary(fc.stringMatching(/^[a-z_][a-z0-9_]{0,15}$/), fc.string({ maxLength: 20 }), {
          maxKeys: 8,
        }),
      },
      { requiredKeys: ['metric', 'value'] },
    );
    fc.assert(
      fc.property(reading, (raw) => {
        const tags = raw.tags as Record<string, string> | undefined;
        const printable =
          tags === undefined || Object.values(tags).every((v) => !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(v));
        fc.pre(printable);
        const r = checkReading(raw, NOW);
        expect(r.value).toBe(raw.value);
      }),
      { numRuns: 1000 },
    );
  });

  it('parses numbers typed in text mode or sent over MQTT, strictly', () => {
    expect(parseNumberText(' 21.5 ')).toBe(21.5);
    expect(parseNumberText('-1e3')).toBe(-1000);
    expect(parseNumberText('.5')).toBe(0.5);
    for (const bad of ['', 'abc', '0x10', '1,5', '21.5C', '1e999']) {
      expect(reason(() => parseNumberText(bad)).code).toBe('TELEMETRY_INVALID_READING');
    }
    expect(reason(() => parseNumberText('NaN')).message).toBe('value "NaN" is not a finite number');
    expect(reason(() => parseNumberText('-Infinity')).message).toMatch(/is not a finite number/);
  });
});

describe('MQTT payloads', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it('takes the sensor and metric from the last two topic levels, and a plain number', () => {
    const m = parseMqttMessage('sensors/s9/temperature', bytes('21.5'), NOW);
    expect(m).toMatchObject({ sensor: 's9', reading: { metric: 'temperature', value: 21.5, ts: NOW } });
    expect(parseMqttMessage('plant/a/b/s2/humidity', bytes('40'), NOW).sensor).toBe('s2');
  });

  it('takes a JSON reading with an ISO or millisecond timestamp, seq, unit, tags and metadata', () => {
    const m = parseMqttMessage(
      'sensors/s9/temperature',
      bytes(
        '{"value":21.5,"unit":"°C","ts":"2026-05-01T11:00:00Z","seq":4,"tags":{"fw":"1.2"},"location":"roof"}',
      ),
      NOW,
    );
    expect(m.reading).toMatchObject({ value: 21.5, unit: '°C', ts: Date.UTC(2026, 4, 1, 11), seq: 4 });
    expect(m.meta).toEqual({ kind: undefined, location: 'roof' });
  });

  it.each([
    ['a word', 'hot', /value must be a number/],
    ['NaN', 'NaN', /not a finite number/],
    ['broken JSON', '{"value": ', /neither a number nor valid JSON/],
    ['a JSON string value', '{"value":"21"}', /value must be a number, got string/],
    ['year 3000', '{"value":1,"ts":"3000-01-01T00:00:00Z"}', /more than 1 day ahead/],
    ['a bad ISO time', '{"value":1,"ts":"yesterday"}', /not an ISO 8601 time/],
  ])('refuses %s', (_, payload, message) => {
    expect(reason(() => parseMqttMessage('sensors/s9/temperature', bytes(payload), NOW)).message).toMatch(
      message,
    );
  });

  it('refuses bad topics and oversized payloads without reading them', () => {
    expect(reason(() => parseMqttMessage('sensors/bad id/temp', bytes('1'), NOW)).message).toMatch(
      /sensor id/,
    );
    expect(reason(() => parseMqttMessage('sensors/s1/te mp', bytes('1'), NOW)).message).toMatch(/metric/);
    expect(reason(() => parseMqttMessage('x', bytes('1'), NOW)).message).toMatch(
      /not <...>\/<sensor>\/<metric>/,
    );
    const big = new Uint8Array(MAX_MQTT_PAYLOAD + 1).fill(0x31);
    expect(reason(() => parseMqttMessage('sensors/s1/t', big, NOW)).message).toMatch(
      /larger than 16384 bytes/,
    );
  });

  it('never throws anything but TELEMETRY_INVALID_READING for any topic and payload (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.uint8Array({ maxLength: 300 }), (topic, payload) => {
        try {
          parseMqttMessage(topic, payload, NOW);
        } catch (err) {
          expect((err as NexoError).code).toBe('TELEMETRY_INVALID_READING');
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('per-sensor rate limit', () => {
  it('lets a burst through, then the rate, and says when to retry', () => {
    const limiter = new RateLimiter(100, 200);
    expect(limiter.take('s1', 200, 0)).toBe(0);
    expect(limiter.take('s1', 1, 0)).toBe(10); // one reading takes 10 ms to earn
    expect(limiter.take('s2', 150, 0)).toBe(0); // another sensor has its own bucket
    expect(limiter.take('s1', 50, 500)).toBe(0); // 500 ms earned 50
    expect(limiter.take('s1', 1000, 500)).toBeGreaterThan(0); // more than the burst: never at once
  });

  it('0 means no limit', () => {
    expect(new RateLimiter(0, 1).take('s', 1e9, 0)).toBe(0);
  });
});

describe('alert rules', () => {
  it('parses rules and normalizes operators', () => {
    expect(parseRule('temperature > 30 for 1m')).toEqual({
      metric: 'temperature',
      op: '>',
      threshold: 30,
      forMs: 60_000,
    });
    expect(parseRule('humidity<=20.5')).toEqual({ metric: 'humidity', op: '<=', threshold: 20.5, forMs: 0 });
    expect(parseRule(' co2 = 1e3 for 90s ')).toMatchObject({ op: '==', threshold: 1000, forMs: 90_000 });
  });

  it.each([
    'temperature >',
    '> 30',
    'temperature ~ 30',
    'temperature > abc',
    'temperature > 30 for ever',
    'temperature > 30 for 30d',
  ])('refuses %j with the expected form', (text) => {
    const error = reason(() => parseRule(text));
    expect(error.code).toBe('TELEMETRY_BAD_RULE');
  });

  it('fires after the condition held for the duration, by sensor time, and resolves once', () => {
    const engine = new AlertEngine([
      {
        id: 1,
        name: 'hot',
        metric: 'temperature',
        op: '>',
        threshold: 30,
        forMs: 60_000,
        sensors: [],
        text: 't > 30 for 1m',
        created: 0,
      },
    ]);
    const sensor = { name: 's1' };
    const series = { id: 5, metric: 'temperature', sensor, unit: undefined };
    const commit = (values: [number, number][]) =>
      engine.evaluate(
        {
          batch: {
            count: values.length,
            ts: Float64Array.from(values.map((v) => v[0])),
            value: Float64Array.from(values.map((v) => v[1])),
          },
          fresh: new Uint8Array(values.length).fill(1),
          series: values.map(() => series),
          accepted: values.length,
        } as never,
        NOW,
      );
    expect(
      commit([
        [0, 31],
        [30_000, 32],
      ]),
    ).toEqual([]);
    const fired = commit([[60_000, 33]]);
    expect(fired).toEqual([
      expect.objectContaining({ state: 'firing', sensor: 's1', value: 33, since: 0, ts: 60_000 }),
    ]);
    expect(commit([[70_000, 35]])).toEqual([]); // still firing: no new event
    expect(engine.firing()).toEqual([{ ruleId: 1, sensor: 's1', metric: 'temperature', since: 0 }]);
    expect(commit([[80_000, 29]])).toEqual([expect.objectContaining({ state: 'resolved', value: 29 })]);
    expect(
      commit([
        [90_000, 31],
        [100_000, 20],
      ]),
    ).toEqual([]); // never held for a minute
  });
});

describe('text-mode lines', () => {
  const report = telemetryCommands.find((c) => c.name === 'report')!;

  it('turns `report s1 temperature 21.5 C` into a report that echoes the stored reading', () => {
    expect(report.parse('s1 temperature 21.5 C')).toEqual({
      method: 'report',
      args: { sensor: 's1', metric: 'temperature', value: 21.5, unit: 'C', echo: true },
    });
    expect(
      report.format({
        accepted: 1,
        duplicates: 0,
        reading: { sensor: 's1', metric: 'temperature', value: 21.5, unit: 'C' },
      }),
    ).toBe('ack s1 temperature 21.5 C');
  });

  it('only ever fails a line with INVALID_ARGS or TELEMETRY_INVALID_READING (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (line) => {
        try {
          report.parse(line);
        } catch (err) {
          expect((err as NexoError).code).toMatch(/^(INVALID_ARGS|TELEMETRY_INVALID_READING)$/);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
