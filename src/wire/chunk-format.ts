/**
 * The payload of one CHUNK frame of `files.upload` and `files.download` (docs/protocol.md §9, files). Pure:
 * no I/O and no Node APIs, so the server, the client and other tools share one definition. The checksum is
 * computed by the caller (Node: `src/util/crc32.ts`), which keeps this file free of platform code.
 *
 * ```
 * offset  size  field
 * 0       8     offset  u64 big-endian: where in the file the data starts
 * 8       4     crc     u32 big-endian: CRC-32 (ISO-HDLC, as zlib's crc32) of the bytes after the header
 * 12      n     data
 * ```
 *
 * Every CHUNK without the END flag carries file data (n >= 1). The CHUNK with END is the trailer: its offset
 * is the file's size (the sender says "that was everything") and its data is empty or the 32-byte SHA-256 of
 * the whole file.
 */
import { NexoError } from '../errors.js';

export const CHUNK_HEADER_SIZE = 12;
export const SHA256_SIZE = 32;
/** Data bytes per chunk that both sides use unless told otherwise; chosen by measurement (bench/files.ts). */
export const DEFAULT_CHUNK_DATA = 256 * 1024;

export interface DecodedChunk {
  /** File offset of the first data byte. */
  readonly offset: number;
  readonly crc: number;
  readonly data: Uint8Array;
}

/** Writes the 12-byte header at the start of `target` (the data is expected at `target[12..]`). */
export function writeChunkHeader(target: Uint8Array, offset: number, crc: number): void {
  if (target.length < CHUNK_HEADER_SIZE) throw new RangeError('chunk buffer shorter than its header');
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`bad chunk offset ${offset}`);
  const view = new DataView(target.buffer, target.byteOffset, CHUNK_HEADER_SIZE);
  view.setUint32(0, Math.floor(offset / 2 ** 32));
  view.setUint32(4, offset >>> 0);
  view.setUint32(8, crc >>> 0);
}

/**
 * Splits a CHUNK payload into header and data. Throws FILES_BAD_CHUNK when it is shorter than the header or
 * its offset does not fit a safe integer; `expected` (the receiver's current offset) goes into the details so
 * the sender knows where to resume.
 */
export function decodeChunk(payload: Uint8Array, expected: number): DecodedChunk {
  if (payload.length < CHUNK_HEADER_SIZE) {
    throw new NexoError(
      'FILES_BAD_CHUNK',
      `a file chunk must start with a ${CHUNK_HEADER_SIZE}-byte header (offset u64, crc32 u32); got ${payload.length} bytes`,
      { offset: expected },
    );
  }
  const view = new DataView(payload.buffer, payload.byteOffset, CHUNK_HEADER_SIZE);
  const high = view.getUint32(0);
  if (high >= 2 ** 21) {
    throw new NexoError('FILES_BAD_CHUNK', `chunk offset is larger than 2^53; expected ${expected}`, {
      offset: expected,
    });
  }
  return {
    offset: high * 2 ** 32 + view.getUint32(4),
    crc: view.getUint32(8),
    data: payload.subarray(CHUNK_HEADER_SIZE),
  };
}

/** The END chunk: offset = size, data = the SHA-256 (or nothing). */
export function encodeTrailer(
  size: number,
  sha256: Uint8Array | undefined,
  crc32: (data: Uint8Array) => number,
): Uint8Array {
  const hash = sha256 ?? new Uint8Array(0);
  if (hash.length !== 0 && hash.length !== SHA256_SIZE) throw new RangeError('SHA-256 must be 32 bytes');
  const out = new Uint8Array(CHUNK_HEADER_SIZE + hash.length);
  out.set(hash, CHUNK_HEADER_SIZE);
  writeChunkHeader(out, size, hash.length === 0 ? 0 : crc32(hash));
  return out;
}

export function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
