import fc from 'fast-check';
import { Unpackr } from 'msgpackr/unpack';
import { FrameType } from '../../src/protocol/constants.js';
import { Frame } from '../../src/protocol/frame.js';
import {
  PACKR_OPTIONS,
  packValue,
  parseErrorPayload,
  parseGoAway,
  parseHello,
  parseRequest,
  parseWelcome,
  unpackValue,
} from '../../src/protocol/payload.js';
import { MISS, readSmall } from '../../src/protocol/small-values.js';
import { assert, assertEqual, documented, type FuzzTarget, mutated, variants } from '../engine.js';

/** msgpackr as the protocol configures it, without the inline reader in front: the reference. */
const reference = new Unpackr({ ...PACKR_OPTIONS });

interface Input {
  bytes: Buffer;
  /** Where the payload lies inside a larger received chunk. */
  before: number;
  after: number;
}

/** Values shaped like requests and replies, with the integers and strings at the edges of each encoding. */
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.integer(),
    fc.maxSafeInteger(),
    fc.constantFrom(0, -1, 127, 128, 255, 256, 65535, 65536, 2 ** 31, 2 ** 32 - 1, 2 ** 32, -(2 ** 31) - 1),
    fc.double(),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 40 }),
  ),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 17 }),
    fc.dictionary(fc.string({ maxLength: 12 }), tie('node'), { maxKeys: 17 }),
  ),
})).node;

const input: fc.Arbitrary<Input> = fc.record({
  bytes: fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    mutated(value.map((v) => packValue(v))),
    mutated(
      fc
        .tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), value)
        .map(([s, m, a]) => packValue([s, m, a])),
    ),
    // Hand-made headers msgpackr never writes: 64-bit ints, str8/16 of every length, containers that lie.
    fc
      .tuple(
        fc.constantFrom(0xc4, 0xc5, 0xc6, 0xc7, 0xcf, 0xd3, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xd4, 0xc1),
        fc.uint8Array({ maxLength: 24 }),
      )
      .map(([head, rest]) => Uint8Array.of(head, ...rest)),
  ).map((b) => Buffer.from(b)),
  before: fc.integer({ min: 0, max: 8 }),
  after: fc.integer({ min: 0, max: 8 }),
});

function holdsInvalidDate(value: unknown): boolean {
  if (value instanceof Date) return Number.isNaN(value.getTime());
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  return Object.values(value).some(holdsInvalidDate);
}

/** The value with every −0 made 0 (a copy only where one is). */
function zeroSigned(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(zeroSigned);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = zeroSigned(v);
  return out;
}

function holdsForeign(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || value instanceof Error) return false;
  if (ArrayBuffer.isView(value) || value instanceof Date) return false;
  if (Array.isArray(value)) return value.some(holdsForeign);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return true;
  return Object.values(value).some(holdsForeign);
}

function replacements(value: unknown): number {
  if (typeof value === 'string') return value.split('\uFFFD').length - 1;
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return 0;
  let n = 0;
  for (const [k, v] of Object.entries(value)) n += replacements(k) + replacements(v);
  return n;
}

function frameOf(type: number, bytes: Buffer, before: number, after: number): Frame {
  const chunk = Buffer.alloc(before + bytes.length + after, 0x93); // filler a reader must never read
  bytes.copy(chunk, before);
  return new Frame(type as Frame['type'], 0, 1, chunk, before, bytes.length);
}

/**
 * §4.5 payloads: any bytes, inside any chunk, decode to a value or to PROTOCOL_ERROR (BAD_REQUEST for a
 * REQUEST, §6.1); the inline reader of small-values.ts, when it takes bytes, gives exactly msgpackr's value;
 * the frame parsers (HELLO, WELCOME, REQUEST, ERROR, GOAWAY) throw only their documented codes.
 */
export const payload: FuzzTarget<Input> = {
  name: 'payload',
  arbitrary: input,
  check({ bytes, before, after }) {
    full(bytes, before, after);
    return 1 + variants(bytes, 100, bytes.length * 131 + before * 7 + after, (v) => full(Buffer.from(v), before, after));
  },
};

function full(bytes: Buffer, before: number, after: number): void {
  {
    const frame = frameOf(FrameType.REQUEST, bytes, before, after);
    const small = readSmall(frame.source, before, before + bytes.length);
    if (small !== MISS) {
      assertEqual(small, reference.unpack(bytes), 'small-values.ts differs from msgpackr');
    }
    const decoded = documented(['PROTOCOL_ERROR'], () => unpackValue(bytes));
    // §4.5.2 Only the core types decode: nothing but plain maps, arrays, bin, timestamps and scalars.
    assert(!holdsForeign(decoded), 'a payload decoded to a value no MessagePack type gives');
    // §4.5.6 What decodes holds no U+FFFD that the bytes did not spell out (ef bf bd): no str was replaced.
    if (!(decoded instanceof Error)) {
      const spelled = bytes.toString('hex').split('efbfbd').length - 1;
      assert(replacements(decoded) <= spelled, 'a str that is not UTF-8 was accepted (§4.5.6)');
    }
    // (An invalid timestamp decodes as an Invalid Date, which equals nothing, itself included.)
    if (!(decoded instanceof Error) && bytes.length > 0 && !holdsInvalidDate(decoded)) {
      // Whatever decodes packs again and decodes to the same value (nothing lost on the way).
      // §4.5.5 −0 is the integer 0 on the way out (its sign is not kept, as in JSON).
      assertEqual(unpackValue(packValue(decoded)), zeroSigned(decoded), 'decode(encode(x)) differs from x');
    }
    const request = documented(['BAD_REQUEST'], () => parseRequest(frame));
    if (!(request instanceof Error)) {
      assert(
        Array.isArray(request) && request.length === 3 && typeof request[0] === 'string' && typeof request[1] === 'string',
        'parseRequest returned a malformed request',
      );
      assert(request[2] !== undefined, 'parseRequest args undefined');
    }
    documented(['PROTOCOL_ERROR'], () => parseHello(frameOf(FrameType.HELLO, bytes, before, after)));
    documented(['PROTOCOL_ERROR'], () => parseWelcome(frameOf(FrameType.WELCOME, bytes, before, after)));
    const error = parseErrorPayload(frameOf(FrameType.ERROR, bytes, before, after));
    assert(typeof error.code === 'string' && typeof error.message === 'string', 'ERROR payload parse');
    const goAway = parseGoAway(frameOf(FrameType.GOAWAY, bytes, before, after));
    assert(typeof goAway.code === 'string', 'GOAWAY parse');
  }
}
