import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameType } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { encodeFrame, FrameBatch } from '../../src/protocol/encoder.js';

describe('encodeFrame', () => {
  it('writes the header of spec §4.1 big-endian', () => {
    const bytes = encodeFrame(FrameType.RESPONSE, 0x01, 0x01020304, Uint8Array.of(0xaa, 0xbb));
    expect(Buffer.from(bytes).toString('hex')).toBe('00000002' + '11' + '01' + '01020304' + 'aabb');
  });
});

describe('FrameBatch', () => {
  it('puts a burst of small frames in one contiguous part', () => {
    const batch = new FrameBatch();
    for (let i = 1; i <= 100; i++) batch.add(FrameType.RESPONSE, 0, i, Uint8Array.of(i));
    const parts = batch.take();
    expect(parts).toHaveLength(1);
    expect(parts[0]!.length).toBe(100 * 11);
    expect(batch.isEmpty).toBe(true);
  });

  it('keeps big payloads as their own part without copying them', () => {
    const batch = new FrameBatch();
    const big = new Uint8Array(100_000).fill(3);
    batch.add(FrameType.CHUNK, 0, 1, big);
    batch.add(FrameType.CHUNK, 1, 1, Uint8Array.of(4));
    const parts = batch.take();
    expect(parts).toContain(big);
  });

  it('property: the parts of any batch decode back to the frames added, in order', () => {
    const arb = fc.array(
      fc.record({
        type: fc.constantFrom(FrameType.RESPONSE, FrameType.CHUNK, FrameType.EVENT),
        id: fc.integer({ min: 1, max: 0xffffffff }),
        size: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 16_000, max: 70_000 })),
        how: fc.constantFrom('add', 'copy', 'written'),
      }),
      { maxLength: 12 },
    );
    // addCopy's source is reused at once (as packScratch's is): a frame that kept a view of it would show
    // this garbage instead of its own bytes.
    const scratch = new Uint8Array(80_000);
    const fillWriter = (
      fill: { size: number; byte: number },
      target: Uint8Array,
      at: number,
      limit: number,
    ) => {
      if (at + fill.size > limit) return -1;
      target.fill(fill.byte, at, at + fill.size);
      return at + fill.size;
    };
    fc.assert(
      fc.property(arb, fc.integer({ min: 1, max: 3 }), (frames, takes) => {
        const batch = new FrameBatch();
        const parts: Uint8Array[] = [];
        frames.forEach((f, i) => {
          const byte = i & 0xff;
          if (f.how === 'copy') {
            scratch.fill(byte, 7, 7 + f.size);
            batch.addCopy(f.type, 0, f.id, scratch, 7, 7 + f.size);
            scratch.fill(0xee);
          } else if (
            f.how !== 'written' ||
            !batch.addWritten(f.type, 0, f.id, { size: f.size, byte }, fillWriter, 1 << 20)
          ) {
            batch.add(f.type, 0, f.id, new Uint8Array(f.size).fill(byte));
          }
          if (i % takes === 0) parts.push(...batch.take());
        });
        parts.push(...batch.take());
        const decoder = new FrameDecoder({ maxPayload: 1 << 20 });
        for (const p of parts) decoder.push(p);
        const out = [];
        for (let f = decoder.next(); f; f = decoder.next()) out.push(f);
        expect(out.map((f) => [f.type, f.id, f.payload!.length])).toEqual(
          frames.map((f) => [f.type, f.id, f.size]),
        );
        for (const [i, f] of out.entries()) expect(f.payload!.every((b) => b === (i & 0xff))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('addWritten adds nothing when the writer declines, and respects maxPayload', () => {
    const batch = new FrameBatch();
    expect(batch.addWritten(FrameType.RESPONSE, 0, 1, 0, () => -1, 100)).toBe(false);
    expect(batch.isEmpty).toBe(true);
    let limitSeen = 0;
    batch.addWritten(
      FrameType.RESPONSE,
      0,
      1,
      0,
      (_v, _t, at, limit) => {
        limitSeen = limit - at;
        return at;
      },
      100,
    );
    expect(limitSeen).toBe(100);
    expect(Buffer.concat(batch.take()).toString('hex')).toBe('00000000' + '11' + '00' + '00000001');
  });
});
