import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 as browserCrc32 } from '../../src/client/hash/crc32.js';
import { crc32, crc32IsNative } from '../../src/util/crc32.js';

describe('CRC-32 of file chunks', () => {
  it("gives zlib's values, in one call or continued from a previous value (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat(), (bytes, at) => {
        const cut = bytes.length === 0 ? 0 : at % bytes.length;
        expect(crc32(bytes)).toBe(zlibCrc32(bytes));
        expect(crc32(bytes.subarray(cut), crc32(bytes.subarray(0, cut)))).toBe(zlibCrc32(bytes));
        expect(browserCrc32(bytes)).toBe(crc32(bytes)); // the TypeScript one browsers use
      }),
      { numRuns: 500 },
    );
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926); // the CRC-32/ISO-HDLC check value
  });

  it('uses the SIMD implementation (a failed native install would only be slower, so CI insists)', () => {
    if (process.env.CI !== 'true' && !crc32IsNative) {
      console.warn('@node-rs/crc32 did not load: falling back to zlib (slower)');
      return;
    }
    expect(crc32IsNative).toBe(true);
  });
});
