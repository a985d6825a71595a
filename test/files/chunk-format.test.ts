import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesToHex,
  CHUNK_HEADER_SIZE,
  decodeChunk,
  encodeTrailer,
  hexToBytes,
  writeChunkHeader,
} from '../../src/wire/chunk-format.js';

function chunk(offset: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(CHUNK_HEADER_SIZE + data.length);
  out.set(data, CHUNK_HEADER_SIZE);
  writeChunkHeader(out, offset, crc32(data));
  return out;
}

describe('file chunk format (protocol §9 files)', () => {
  it('lays out offset u64 BE, CRC-32 u32 BE, then the data (the spec example)', () => {
    const bytes = chunk(2 ** 32 + 5, new TextEncoder().encode('hola'));
    expect(bytesToHex(bytes)).toBe('0000000100000005' + '6fa0f988' + '686f6c61');
    expect(crc32(new TextEncoder().encode('hola'))).toBe(0x6fa0f988);
  });

  it('round-trips any offset below 2^53 and any data (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ maxLength: 300 }),
        (offset, data) => {
          const decoded = decodeChunk(chunk(offset, data), 0);
          expect(decoded.offset).toBe(offset);
          expect(decoded.crc).toBe(crc32(data));
          expect([...decoded.data]).toEqual([...data]);
        },
      ),
    );
  });

  it('refuses payloads shorter than the header with FILES_BAD_CHUNK naming the offset to resume from', () => {
    for (const length of [0, 1, 11]) {
      expect(() => decodeChunk(new Uint8Array(length), 4096)).toThrowError(
        expect.objectContaining({ code: 'FILES_BAD_CHUNK', details: { offset: 4096 } }),
      );
    }
  });

  it('refuses offsets of 2^53 and beyond (they cannot be exact in every language)', () => {
    const bytes = new Uint8Array(CHUNK_HEADER_SIZE);
    bytes[1] = 0x20; // 2^53
    expect(() => decodeChunk(bytes, 0)).toThrowError(expect.objectContaining({ code: 'FILES_BAD_CHUNK' }));
    bytes.fill(0xff, 0, 8);
    expect(() => decodeChunk(bytes, 0)).toThrowError(expect.objectContaining({ code: 'FILES_BAD_CHUNK' }));
  });

  it('encodes the END trailer: offset = size, data = the SHA-256 or nothing', () => {
    const sha = hexToBytes('ab'.repeat(32));
    const trailer = encodeTrailer(1000, sha, crc32);
    const decoded = decodeChunk(trailer, 1000);
    expect(decoded.offset).toBe(1000);
    expect(bytesToHex(decoded.data)).toBe('ab'.repeat(32));
    expect(decoded.crc).toBe(crc32(sha));
    expect([...encodeTrailer(7, undefined, crc32)]).toEqual([0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0]);
    expect(() => encodeTrailer(7, new Uint8Array(31), crc32)).toThrow(RangeError);
  });

  it('hex helpers are inverse', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect([...hexToBytes(bytesToHex(b))]).toEqual([...b]);
      }),
    );
  });
});
