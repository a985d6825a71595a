import fc from 'fast-check';
import { FrameType, PREFACE } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { type DecodedFrame, isOversize } from '../../src/protocol/frame.js';
import { assertEqual, documented, type FuzzTarget, mutated, splitAt, variants } from '../engine.js';

/** What the decoder may throw on bad bytes (§3.1, §4.2): sticky, and nothing else. */
const CODES = ['NOT_NEXO', 'PROTOCOL_ERROR'];

interface Input {
  bytes: Uint8Array;
  cuts: number[];
  maxPayload: number;
  preface: boolean;
  /** The frames the bytes were made from, when they were not mutated (then decoding must give them back). */
  frames: { type: number; flags: number; id: number; payload: Uint8Array }[] | undefined;
}

const frame = fc.record({
  type: fc.oneof(fc.constantFrom(...Object.values(FrameType)), fc.integer({ min: 0, max: 255 })),
  flags: fc.integer({ min: 0, max: 255 }),
  id: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.nat({ max: 0xffff_ffff })),
  payload: fc.uint8Array({ maxLength: 300 }),
});

const encoded = (preface: boolean, frames: { type: number; flags: number; id: number; payload: Uint8Array }[]) =>
  Buffer.concat([
    ...(preface ? [PREFACE] : []),
    ...frames.map((f) => encodeFrame(f.type, f.flags, f.id, f.payload)),
  ]);

const input: fc.Arbitrary<Input> = fc
  .record({
    frames: fc.array(frame, { maxLength: 8 }),
    preface: fc.boolean(),
    maxPayload: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constant(1 << 20)),
    cuts: fc.array(fc.nat(), { maxLength: 12 }),
    kind: fc.constantFrom('valid', 'mutated', 'random'),
    random: fc.uint8Array({ maxLength: 512 }),
    edits: fc.integer({ min: 1, max: 4 }),
  })
  .chain((r): fc.Arbitrary<Input> => {
    const base = { cuts: r.cuts, maxPayload: r.maxPayload, preface: r.preface };
    const bytes = encoded(r.preface, r.frames);
    if (r.kind === 'valid') return fc.constant({ ...base, bytes, frames: r.frames });
    if (r.kind === 'random') {
      const random = r.preface ? Buffer.concat([PREFACE, r.random]) : Buffer.from(r.random);
      return fc.constant({ ...base, bytes: random, frames: undefined });
    }
    return mutated(fc.constant(bytes), r.edits).map((m) => ({ ...base, bytes: m, frames: undefined }));
  });

const MUTATIONS = 40;

function seedOf(input: Input): number {
  return input.cuts.reduce((a, c) => (a * 31 + c) >>> 0, input.bytes.length * 7 + input.maxPayload);
}

interface Outcome {
  frames: unknown[];
  error: string | undefined;
}

function view(f: DecodedFrame): unknown {
  return isOversize(f)
    ? { type: f.type, flags: f.flags, id: f.id, oversize: f.length }
    : { type: f.type, flags: f.flags, id: f.id, payload: Buffer.from(f.payload).toString('hex') };
}

function decode(parts: Uint8Array[], input: Input): Outcome {
  const decoder = new FrameDecoder({ maxPayload: input.maxPayload, preface: input.preface });
  const frames: unknown[] = [];
  let total = 0;
  const result = documented(CODES, () => {
    for (const part of parts) {
      decoder.push(part);
      total += part.length;
      for (let f = decoder.next(); f !== undefined; f = decoder.next()) frames.push(view(f));
      // It holds only what it was given and has not returned.
      if (decoder.bufferedBytes < 0 || decoder.bufferedBytes > total) {
        throw new Error(`bufferedBytes ${decoder.bufferedBytes} of ${total} pushed`);
      }
    }
  });
  if (result instanceof Error) {
    // Sticky (the docstring's promise): the next call throws the same error.
    const again = documented(CODES, () => decoder.next());
    if (!(again instanceof Error) || again.code !== result.code) throw new Error('decoder error is not sticky');
    return { frames, error: result.code };
  }
  return { frames, error: undefined };
}

/**
 * §4 frame decoder: any split of the same bytes decodes to the same frames and the same error; valid
 * frames decode to themselves (oversize ones as OversizeFrame with their length, §4.4); bad bytes give
 * only NOT_NEXO or PROTOCOL_ERROR.
 */
export const frameDecoder: FuzzTarget<Input> = {
  name: 'frame-decoder',
  arbitrary: input,
  check(input) {
    const whole = decode([input.bytes], input);
    const split = decode(splitAt(input.bytes, input.cuts), input);
    const bytewise = input.bytes.length <= 64 ? decode(splitAt(input.bytes, [...input.bytes.keys()]), input) : split;
    assertEqual(split, whole, 'split decode differs from whole decode');
    assertEqual(bytewise, whole, 'byte-by-byte decode differs from whole decode');
    if (input.frames !== undefined) {
      const known = new Set<number>(Object.values(FrameType));
      const firstUnknown = input.frames.findIndex((f) => !known.has(f.type));
      const good = firstUnknown === -1 ? input.frames : input.frames.slice(0, firstUnknown);
      assertEqual(
        whole.frames,
        good.map((f) =>
          f.payload.length > input.maxPayload
            ? { type: f.type, flags: f.flags, id: f.id, oversize: f.payload.length }
            : { type: f.type, flags: f.flags, id: f.id, payload: Buffer.from(f.payload).toString('hex') },
        ),
        'valid frames did not decode to themselves',
      );
      assertEqual(whole.error, firstUnknown === -1 ? undefined : 'PROTOCOL_ERROR', 'error after valid frames');
    }
    // Then mutations of the same bytes, each decoded whole and split at the same offsets.
    return 1 + variants(input.bytes, MUTATIONS, seedOf(input), (bytes) => {
      const v = { ...input, bytes, frames: undefined };
      assertEqual(decode(splitAt(bytes, input.cuts), v), decode([bytes], v), 'split decode differs (mutated)');
    });
  },
};
