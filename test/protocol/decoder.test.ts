import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NexoError } from '../../src/errors.js';
import { FrameType, HEADER_SIZE, PREFACE } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import type { DecodedFrame } from '../../src/protocol/frame.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

function drain(decoder: FrameDecoder): DecodedFrame[] {
  const out: DecodedFrame[] = [];
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f);
  return out;
}

function decodeSplit(
  bytes: Uint8Array,
  cuts: number[],
  maxPayload = 1 << 20,
  preface = false,
): DecodedFrame[] {
  const decoder = new FrameDecoder({ maxPayload, preface });
  const out: DecodedFrame[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    decoder.push(bytes.subarray(start, cut));
    out.push(...drain(decoder));
    start = cut;
  }
  return out;
}

const normalize = (frames: DecodedFrame[]) =>
  frames.map((f) => ({
    type: f.type,
    flags: f.flags,
    id: f.id,
    payload: f.payload === null ? null : Buffer.from(f.payload).toString('hex'),
  }));

describe('FrameDecoder', () => {
  it('decodes the exact bytes of a frame (fixture)', () => {
    // REQUEST id 7, payload 93 a4 'echo' a4 'echo' a2 'hi'
    const bytes = hex('0000000e 10 00 00000007 93a46563686fa46563686fa26869');
    const [frame] = decodeSplit(bytes, []);
    expect(frame).toMatchObject({ type: FrameType.REQUEST, flags: 0, id: 7 });
    expect(Buffer.from(frame!.payload!).toString('hex')).toBe('93a46563686fa46563686fa26869');
  });

  it('checks the preface and rejects anything else as NOT_NEXO', () => {
    const ok = new FrameDecoder({ maxPayload: 100, preface: true });
    ok.push(PREFACE);
    ok.push(encodeFrame(FrameType.PING, 0, 0));
    expect(drain(ok)).toHaveLength(1);

    const bad = new FrameDecoder({ maxPayload: 100, preface: true });
    bad.push(Buffer.from('GET / HTTP/1.1\r\n'));
    expect(() => bad.next()).toThrowError(expect.objectContaining({ code: 'NOT_NEXO' }));
  });

  it('rejects a wrong preface at its first wrong byte, before four bytes arrive', () => {
    const decoder = new FrameDecoder({ maxPayload: 100, preface: true });
    decoder.push(Uint8Array.of(0x8e, 0x00));
    expect(() => decoder.next()).toThrowError(expect.objectContaining({ code: 'NOT_NEXO' }));
  });

  it('decodes the same frames for a split at every byte offset', () => {
    const stream = Buffer.concat([
      PREFACE,
      encodeFrame(FrameType.HELLO, 0, 0, Uint8Array.of(1, 2, 3)),
      encodeFrame(FrameType.REQUEST, 0, 1, new Uint8Array(300).fill(7)),
      encodeFrame(FrameType.CANCEL, 0, 1),
      encodeFrame(FrameType.CHUNK, 1, 0xffffffff, Uint8Array.of(9)),
    ]);
    const whole = normalize(decodeSplit(stream, [], 1 << 20, true));
    expect(whole).toHaveLength(4);
    for (let cut = 1; cut < stream.length; cut++) {
      expect(normalize(decodeSplit(stream, [cut], 1 << 20, true))).toEqual(whole);
    }
    // and fed one byte at a time
    const bytewise = [...Array(stream.length - 1).keys()].map((i) => i + 1);
    expect(normalize(decodeSplit(stream, bytewise, 1 << 20, true))).toEqual(whole);
  });

  it('reports an oversize frame from its header alone and skips its payload without buffering it', () => {
    const decoder = new FrameDecoder({ maxPayload: 16 });
    const big = encodeFrame(FrameType.REQUEST, 0, 5, new Uint8Array(1000));
    decoder.push(big.subarray(0, HEADER_SIZE));
    const first = decoder.next();
    expect(first).toEqual({ type: FrameType.REQUEST, flags: 0, id: 5, payload: null, length: 1000 });
    for (let i = HEADER_SIZE; i < big.length; i += 100) {
      decoder.push(big.subarray(i, i + 100));
      expect(decoder.next()).toBeUndefined();
      expect(decoder.bufferedBytes).toBe(0);
    }
    decoder.push(encodeFrame(FrameType.PING, 0, 0));
    expect(decoder.next()).toMatchObject({ type: FrameType.PING });
  });

  it('rejects an unknown frame type as PROTOCOL_ERROR, and stays failed', () => {
    const decoder = new FrameDecoder({ maxPayload: 100 });
    decoder.push(hex('00000000 7f 00 00000000'));
    expect(() => decoder.next()).toThrowError(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
    expect(() => decoder.next()).toThrowError(NexoError);
    expect(() => decoder.push(Uint8Array.of(1))).toThrowError(NexoError);
  });

  it('returns payload views without copying when a frame lies in one chunk', () => {
    const bytes = encodeFrame(FrameType.CHUNK, 0, 1, new Uint8Array(64).fill(1));
    const decoder = new FrameDecoder({ maxPayload: 100 });
    decoder.push(bytes);
    const frame = decoder.next()!;
    expect(frame.payload!.buffer).toBe(bytes.buffer);
  });

  const arbFrame = fc.record({
    type: fc.constantFrom(...Object.values(FrameType)),
    flags: fc.integer({ min: 0, max: 255 }),
    id: fc.integer({ min: 0, max: 0xffffffff }),
    payload: fc.uint8Array({ maxLength: 200 }),
  });

  it('property: any split or coalescing of a valid stream decodes to the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(arbFrame, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (frames, rawCuts) => {
          const stream = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.flags, f.id, f.payload)));
          const cuts = [...new Set(rawCuts.map((c) => (stream.length === 0 ? 0 : c % stream.length)))].sort(
            (a, b) => a - b,
          );
          const decoded = decodeSplit(stream, cuts);
          expect(
            decoded.map((f) => ({
              type: f.type,
              flags: f.flags,
              id: f.id,
              payload: Buffer.from(f.payload!),
            })),
          ).toEqual(frames.map((f) => ({ ...f, payload: Buffer.from(f.payload) })));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: random bytes never throw anything but a NexoError, and never buffer beyond what was pushed', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        (preface, chunks) => {
          const decoder = new FrameDecoder({ maxPayload: 32, preface });
          let pushed = 0;
          try {
            for (const chunk of chunks) {
              decoder.push(chunk);
              pushed += chunk.length;
              drain(decoder);
              expect(decoder.bufferedBytes).toBeLessThanOrEqual(pushed);
              expect(decoder.bufferedBytes).toBeLessThanOrEqual(32 + HEADER_SIZE + 64);
            }
          } catch (err) {
            expect(err).toBeInstanceOf(NexoError);
            expect(['PROTOCOL_ERROR', 'NOT_NEXO']).toContain((err as NexoError).code);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
