import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';

/**
 * CRC-32 (ISO-HDLC, zlib's) of every file chunk, on both ends of a transfer. zlib's table-driven crc32 runs
 * at 1.3-3.5 GB/s on these machines, as costly as the SHA-256 the transfer also computes; @node-rs/crc32
 * (crc32fast, SIMD) gives the same values at ~18 GB/s. Should its native binary not load on some platform,
 * zlib's is used: slower, never wrong.
 */
export type Crc32 = (data: Uint8Array, initial?: number) => number;

function load(): { crc32: Crc32; native: boolean } {
  try {
    const binding = createRequire(import.meta.url)('@node-rs/crc32') as { crc32: Crc32 };
    return { crc32: (data, initial) => binding.crc32(data, initial), native: true };
  } catch {
    return { crc32: (data, initial) => zlibCrc32(data, initial), native: false };
  }
}

const loaded = load();
export const crc32: Crc32 = loaded.crc32;
/** Whether the SIMD implementation loaded (for tests and diagnostics). */
export const crc32IsNative: boolean = loaded.native;
