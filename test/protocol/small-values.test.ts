import fc from 'fast-check';
import { Packr } from 'msgpackr/pack';
import { describe, expect, it } from 'vitest';
import { NexoError } from '../../src/errors.js';
import { FrameType } from '../../src/protocol/constants.js';
import { Frame } from '../../src/protocol/frame.js';
import { NameTable } from '../../src/protocol/names.js';
import {
  invalidUtf8At,
  PACKR_OPTIONS,
  packValue,
  parseRequest,
  unpackValue,
  widenIntegers,
} from '../../src/protocol/payload.js';
import { MISS, readSmall, writeRequest, writeSmall } from '../../src/protocol/small-values.js';

/**
 * msgpackr configured as the protocol configures it, integers beyond 32 bits widened as §4.5.5 says: the
 * reference for every check here.
 */
const packr = new Packr({ ...PACKR_OPTIONS });
const reference = {
  pack: (value: unknown) => packr.pack(widenIntegers(value)),
  unpack: (bytes: Uint8Array, options?: { start: number; end: number }) => packr.unpack(bytes, options),
};

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function written(value: unknown): Buffer | undefined {
  const target = new Uint8Array(1 << 17);
  const end = writeSmall(value, target, 3, target.length);
  return end < 0 ? undefined : Buffer.from(target.subarray(3, end));
}

/** Values of every kind, biased towards the small shapes so both outcomes are common. */
const values = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }),
  fc.dictionary(
    fc.string({ maxLength: 40 }),
    fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null)),
  ),
  fc.array(fc.oneof(fc.integer({ min: -(2 ** 33), max: 2 ** 33 }), fc.string({ maxLength: 300 }))),
  fc.array(
    fc.oneof(fc.maxSafeInteger(), fc.double(), fc.constantFrom(2 ** 63, 2 ** 64, -(2 ** 63), 2 ** 53 + 2)),
  ),
);

describe('writeSmall', () => {
  it('writes exactly the bytes msgpackr writes, whenever it takes a value (property)', () => {
    let taken = 0;
    fc.assert(
      fc.property(values, (value) => {
        const bytes = written(value);
        if (bytes === undefined) return;
        taken++;
        expect(bytes.toString('hex')).toBe(Buffer.from(reference.pack(value)).toString('hex'));
      }),
      { numRuns: 3000 },
    );
    expect(taken).toBeGreaterThan(300); // the property says something only if values were taken
  });

  it('takes the usual replies, and leaves the rest to msgpackr', () => {
    for (const v of [
      'hello, nexo bench',
      '',
      14,
      -1,
      70000,
      -70000,
      2 ** 32 - 1,
      -(2 ** 31),
      2 ** 32,
      -(2 ** 31) - 1,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      1733300000000,
      true,
      null,
      undefined,
    ]) {
      expect(written(v), String(v)).toEqual(Buffer.from(reference.pack(v)));
    }
    expect(written({ value: '14' })?.toString('hex')).toBe('81a576616c7565a23134');
    expect(written({ greetings: ['¡Hola, Ana!'] })).toBeUndefined(); // not ASCII
    for (const v of [
      1.5,
      Number.NaN,
      2 ** 53 + 2, // an integer, but not one small-values.ts writes: msgpackr's
      10n,
      new Uint8Array(2),
      new Date(0),
      new Map(),
    ]) {
      expect(written(v), String(v)).toBeUndefined();
    }
    expect(written('x'.repeat(256))).toBeUndefined();
    expect(written(Array.from({ length: 16 }, () => 1))).toBeUndefined();
    expect(written([[[[1]]]])).toBeUndefined(); // deeper than MAX_DEPTH
    expect(written(Object.create(null))).toBeUndefined();
  });

  it('declines (returns -1) rather than write past the limit', () => {
    const target = new Uint8Array(64);
    expect(writeSmall('x'.repeat(40), target, 30, 64)).toBe(-1);
    expect(writeSmall({ a: 'x'.repeat(40) }, target, 0, 20)).toBe(-1);
    expect(writeSmall(70000, target, 60, 64)).toBe(-1);
    expect(writeSmall(2 ** 40, target, 56, 64)).toBe(-1);
    expect(writeSmall(2 ** 40, target, 55, 64)).toBe(64);
    expect(writeSmall('x'.repeat(40), target, 0, 64)).toBe(42);
  });
});

describe('writeRequest', () => {
  /** What the client sent before writeRequest: msgpackr's bytes of the request array (§6.1.1, §6.1.4). */
  const packed = (service: string, method: string, args: unknown, rid: string | undefined) =>
    Buffer.from(
      reference.pack(
        rid === undefined ? [service, method, args ?? null] : [service, method, args ?? null, { rid }],
      ),
    ).toString('hex');
  const requestWritten = (
    service: string,
    method: string,
    args: unknown,
    rid: string | undefined,
    limit = 1 << 17,
  ) => {
    const target = new Uint8Array(1 << 17);
    const end = writeRequest(service, method, args, rid, target, 5, Math.min(target.length, 5 + limit));
    return end < 0 ? undefined : Buffer.from(target.subarray(5, end)).toString('hex');
  };
  const names = fc.oneof(fc.constantFrom('echo', 'calc', 'eval', 'telemetry'), fc.string({ maxLength: 40 }));

  it('writes exactly the bytes msgpackr writes for [service, method, args(, {rid})], whenever it takes one (property)', () => {
    let taken = 0;
    fc.assert(
      fc.property(
        names,
        names,
        fc.oneof(values, fc.constant(undefined)),
        fc.option(fc.string({ minLength: 1, maxLength: 64 }), { nil: undefined }),
        fc.nat(300),
        (service, method, args, rid, limit) => {
          const bytes = requestWritten(service, method, args, rid);
          if (bytes === undefined) return;
          taken++;
          expect(bytes).toBe(packed(service, method, args, rid));
          // Within a smaller room it either writes the same bytes or declines, never something else.
          const within = requestWritten(service, method, args, rid, limit);
          if (within !== undefined) expect(within).toBe(bytes);
          else expect(bytes.length / 2).toBeGreaterThan(limit);
        },
      ),
      { numRuns: 3000 },
    );
    expect(taken).toBeGreaterThan(300);
  });

  it('takes the usual requests, and declines what writeSmall would not take', () => {
    expect(requestWritten('echo', 'echo', 'hello, nexo bench', undefined)).toBe(
      packed('echo', 'echo', 'hello, nexo bench', undefined),
    );
    expect(requestWritten('calc', 'eval', { expr: '2*(3+4)' }, 'req-1')).toBe(
      packed('calc', 'eval', { expr: '2*(3+4)' }, 'req-1'),
    );
    expect(requestWritten('calc', 'vars', undefined, undefined)).toBe(
      packed('calc', 'vars', null, undefined),
    );
    expect(requestWritten('échos', 'echo', 1, undefined)).toBeUndefined(); // not ASCII: msgpackr's
    expect(requestWritten('echo', 'echo', 0.5, undefined)).toBeUndefined(); // a float: msgpackr's
    expect(requestWritten('echo', 'echo', [[[1]]], undefined)).toBeUndefined(); // as deep as writeSmall([s, m, args]) declines
    expect(requestWritten('echo', 'echo', 1, 'é')).toBeUndefined();
    // A number where a name goes is the server's to refuse; the bytes are still msgpackr's.
    expect(requestWritten(42 as unknown as string, 'echo', 1, undefined)).toBe(
      packed(42 as unknown as string, 'echo', 1, undefined),
    );
  });
});

describe('readSmall', () => {
  it('reads exactly what msgpackr reads from anything msgpackr wrote (property)', () => {
    let taken = 0;
    fc.assert(
      fc.property(values, (value) => {
        const bytes = Buffer.from(reference.pack(value));
        const small = readSmall(bytes, 0, bytes.length);
        if (small === MISS) return;
        taken++;
        expect(small).toStrictEqual(reference.unpack(bytes));
      }),
      { numRuns: 3000 },
    );
    expect(taken).toBeGreaterThan(300);
  });

  it('on random bytes, either misses or agrees with msgpackr, and never throws (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(5), (raw, start) => {
        const bytes = Buffer.from(raw);
        const from = Math.min(start, bytes.length);
        const small = readSmall(bytes, from, bytes.length);
        if (small === MISS) return;
        expect(small).toStrictEqual(reference.unpack(bytes, { start: from, end: bytes.length }));
      }),
      { numRuns: 5000 },
    );
  });

  it('reads the usual arguments from exact bytes, and nothing with bytes left over or missing', () => {
    expect(readSmall(hex('b1 68656c6c6f2c206e65786f2062656e6368'), 0, 18)).toBe('hello, nexo bench');
    expect(readSmall(hex('81 a465787072 a7322a28332b3429'), 0, 14)).toEqual({ expr: '2*(3+4)' });
    expect(readSmall(hex('d1 fc18'), 0, 3)).toBe(-1000);
    expect(readSmall(hex('ce ffffffff'), 0, 5)).toBe(2 ** 32 - 1);
    expect(readSmall(hex('d2 80000000'), 0, 5)).toBe(-(2 ** 31));
    expect(readSmall(hex('c0 c0'), 0, 2)).toBe(MISS); // two values
    expect(readSmall(hex('a3 6162'), 0, 3)).toBe(MISS); // truncated
    expect(readSmall(hex('a2 c3a9'), 0, 3)).toBe(MISS); // 'é': not ASCII, msgpackr's job
    expect(readSmall(hex('cb 3ff8000000000000'), 0, 9)).toBe(MISS); // floats too
  });

  it('leaves __proto__ keys to msgpackr, which never lets a payload set a prototype', () => {
    const bytes = hex('81 a95f5f70726f746f5f5f 81 a161 01'); // {"__proto__": {"a": 1}}
    expect(readSmall(bytes, 0, bytes.length)).toBe(MISS);
    const decoded = unpackValue(bytes) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect((decoded as { a?: number }).a).toBeUndefined();
  });

  it('misses on sources that are not Buffers (browsers), leaving them to msgpackr', () => {
    const bytes = Uint8Array.from(hex('a26869'));
    expect(readSmall(bytes, 0, 3)).toBe(MISS);
    expect(unpackValue(bytes)).toBe('hi');
  });
});

describe('NameTable', () => {
  it('returns the same string object for the same name, and the right string for any name (property)', () => {
    const names = new NameTable();
    const bytes = (s: string) => Buffer.concat([Buffer.of(0xa0 | s.length), Buffer.from(s)]);
    const a = names.read(bytes('calc'), 0, 5);
    expect(a).toBe('calc');
    expect(names.end).toBe(5);
    expect(names.read(bytes('calc'), 0, 5)).toBe(a);
    fc.assert(
      fc.property(fc.stringMatching(/^[ -~]{0,31}$/), (name) => {
        const b = bytes(name);
        expect(names.read(b, 0, b.length)).toBe(name);
        expect(names.end).toBe(b.length);
        expect(names.read(b, 0, b.length - 1)).toBeUndefined(); // cut short
      }),
      { numRuns: 3000 }, // more than the table holds: names past the bound still read right
    );
    expect(names.read(Buffer.from('a2c3a9', 'hex'), 0, 3)).toBeUndefined(); // not ASCII
    expect(names.read(Buffer.from('d904abcd', 'hex'), 0, 4)).toBeUndefined(); // str8: the general path
  });
});

/** parseRequest as it was before its fast path: msgpackr decodes everything. The reference. */
function referenceRequest(bytes: Uint8Array): unknown {
  let value: unknown;
  try {
    value = bytes.length === 0 ? undefined : reference.unpack(bytes);
  } catch {
    return 'BAD_REQUEST';
  }
  // §4.5.6 msgpackr puts U+FFFD for bytes that are not UTF-8: more U+FFFD than the payload spells out
  // (ef bf bd) means some str was not valid UTF-8.
  if (replacements(value) > Buffer.from(bytes).toString('hex').split('efbfbd').length - 1)
    return 'BAD_REQUEST';
  if (!Array.isArray(value) || value.length < 2 || value.length > 4) return 'BAD_REQUEST';
  if (typeof value[0] !== 'string' || typeof value[1] !== 'string') return 'BAD_REQUEST';
  if (value.length < 4) return [value[0], value[1], value[2] ?? null];
  // §6.1.4 meta: nil, or a map whose rid (if any) is 1-64 printable ASCII characters without spaces.
  const meta = value[3] as unknown;
  if (meta === null) return [value[0], value[1], value[2] ?? null, undefined];
  if (typeof meta !== 'object' || Array.isArray(meta)) return 'BAD_REQUEST';
  const rid = (meta as { rid?: unknown }).rid;
  if (rid === undefined || rid === null) return [value[0], value[1], value[2] ?? null, undefined];
  if (typeof rid !== 'string' || !/^[!-~]{1,64}$/.test(rid)) return 'BAD_REQUEST';
  return [value[0], value[1], value[2] ?? null, rid];
}

function replacements(value: unknown): number {
  if (typeof value === 'string') return value.split('\uFFFD').length - 1;
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return 0;
  let n = 0;
  for (const [k, v] of Object.entries(value)) n += replacements(k) + replacements(v);
  return n;
}

function parsed(bytes: Uint8Array): unknown {
  // The payload in the middle of a bigger received chunk, as the decoder hands it over.
  const source = Buffer.concat([Buffer.from('ffff', 'hex'), bytes, Buffer.from('c1', 'hex')]);
  try {
    return parseRequest(new Frame(FrameType.REQUEST, 0, 1, source, 2, bytes.length));
  } catch (err) {
    expect(err).toBeInstanceOf(NexoError);
    return (err as NexoError).code;
  }
}

describe('parseRequest', () => {
  it('gives what the general decoder gives, for well-formed and malformed requests (property)', () => {
    const requests = fc.oneof(
      fc.tuple(
        fc.constantFrom('echo', 'calc', 'files', 'é'),
        fc.constantFrom('echo', 'eval', 'x'.repeat(40)),
        values,
      ),
      fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })),
      fc.array(values, { maxLength: 4 }),
      fc.tuple(
        fc.constant('echo'),
        fc.constant('echo'),
        values,
        fc.oneof(
          fc.record({ rid: fc.string({ maxLength: 70 }) }),
          fc.constant(null),
          fc.constant({ other: 1 }),
          values,
        ),
      ),
      values,
    );
    fc.assert(
      fc.property(requests, fc.nat(6), (request, cut) => {
        const bytes = Buffer.from(packValue(request));
        expect(parsed(bytes)).toStrictEqual(referenceRequest(bytes));
        // Truncated and extended payloads: errors must match too.
        const short = bytes.subarray(0, Math.max(0, bytes.length - cut));
        expect(parsed(short)).toStrictEqual(referenceRequest(short));
        const long = Buffer.concat([bytes, Buffer.of(cut)]);
        expect(parsed(long)).toStrictEqual(referenceRequest(long));
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees on random bytes behind a request head (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom('92', '93'), fc.uint8Array({ maxLength: 24 }), (head, rest) => {
        const bytes = Buffer.concat([hex(`${head} a4 6563686f`), rest]);
        expect(parsed(bytes)).toStrictEqual(referenceRequest(bytes));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('§4.5.5 integers beyond 32 bits are MessagePack integers, never float64', () => {
  it('packs them as int 64 (0xd3), or uint 64 (0xcf) from 2^63; fractions and |n| >= 2^64 stay float64', () => {
    const h = (v: unknown) => Buffer.from(packValue(v)).toString('hex');
    expect(h(2 ** 32)).toBe('d30000000100000000');
    expect(h(-(2 ** 31) - 1)).toBe('d3ffffffff7fffffff');
    expect(h(1733300000000)).toBe('d30000019390bb1500');
    expect(h(Number.MAX_SAFE_INTEGER)).toBe('d3001fffffffffffff');
    expect(h(2 ** 63)).toBe('cf8000000000000000');
    expect(h(2 ** 64)).toBe('cb43f0000000000000');
    expect(h(1.5)).toBe('cb3ff8000000000000');
    expect(h({ t: 2 ** 40, list: [1, 2 ** 33] })).toBe(
      '82a174d30000010000000000a46c69737492' + '01d30000000200000000',
    );
    // the caller's value is not changed
    const value = { size: 2 ** 40 };
    packValue(value);
    expect(value.size).toBe(2 ** 40);
  });

  it('decodes int 64 and uint 64 to numbers (the inline reader agrees with msgpackr)', () => {
    for (const v of [
      2 ** 32,
      -(2 ** 31) - 1,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      1733300000000,
    ]) {
      const bytes = Buffer.from(packValue(v));
      expect(readSmall(bytes, 0, bytes.length)).toBe(v);
      expect(unpackValue(bytes)).toBe(v);
    }
    expect(readSmall(hex('cf ffffffffffffffff'), 0, 9)).toBe(2 ** 64);
    expect(readSmall(hex('d3 8000000000000000'), 0, 9)).toBe(-(2 ** 63));
  });
});

describe('§4.5.6 every str is valid UTF-8', () => {
  const strict = new TextDecoder('utf-8', { fatal: true });
  const isUtf8 = (b: Uint8Array) => {
    try {
      strict.decode(b);
      return true;
    } catch {
      return false;
    }
  };
  it('refuses a str exactly when its bytes are not UTF-8, at any depth and in any str form (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.constantFrom('fixstr', 'str8', 'str16', 'str32'),
        values,
        (body, form, around) => {
          const header =
            form === 'fixstr' && body.length < 32
              ? Buffer.of(0xa0 | body.length)
              : form === 'str16'
                ? Buffer.of(0xda, 0, body.length)
                : form === 'str32'
                  ? Buffer.of(0xdb, 0, 0, 0, body.length)
                  : Buffer.of(0xd9, body.length);
          // [around, {k: <str>}, around]: the str sits among other values of every kind.
          const rest = Buffer.from(packValue(around));
          const bytes = Buffer.concat([
            Buffer.of(0x93),
            rest,
            Buffer.of(0x81, 0xa1, 0x6b),
            header,
            body,
            rest,
          ]);
          let code: string | undefined;
          try {
            unpackValue(bytes);
          } catch (err) {
            code = (err as NexoError).code;
          }
          expect(code).toBe(isUtf8(body) ? undefined : 'PROTOCOL_ERROR');
          expect(invalidUtf8At(bytes, 0, bytes.length)).toBe(isUtf8(body) ? -1 : 1 + rest.length + 3);
          // The client's lenient reading takes it with U+FFFD.
          expect(() => unpackValue(bytes, 'PROTOCOL_ERROR', 'replace')).not.toThrow();
        },
      ),
      { numRuns: 3000 },
    );
  });
});
