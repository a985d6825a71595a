import type { CallContext } from '../../contract/service.js';
import { NexoError } from '../../errors.js';
import { crc32 } from '../../util/crc32.js';
import {
  CHUNK_HEADER_SIZE,
  DEFAULT_CHUNK_DATA,
  encodeTrailer,
  hexToBytes,
  writeChunkHeader,
} from '../../wire/chunk-format.js';
import type { FileEntry } from '../../wire/files.js';
import type { TransferStats } from './model.js';
import type { BlobReader, FileStore } from './store.js';

/**
 * files.download: streams a stored file from `offset` as CHUNK frames in the upload's format (offset + CRC-32
 * header), then the END trailer with the SHA-256. Reading is paced by the client: the next chunk is read from
 * disk while the current one is sent, and nothing more is read until the connection can take it, so memory
 * stays at about two chunks whatever the file size.
 */
export async function sendFile(
  store: FileStore,
  entry: FileEntry,
  offset: number,
  maxFrame: number,
  ctx: CallContext,
  stats?: TransferStats,
): Promise<{ bytes: number; offset: number; size: number }> {
  if (offset > entry.size) {
    throw new NexoError(
      'INVALID_ARGS',
      `offset ${offset} is past the end of '${entry.name}' (${entry.size} bytes)`,
      { size: entry.size },
    );
  }
  const reader = await store.openBlob(entry.sha256);
  if (reader === undefined) {
    throw new NexoError('FILES_NOT_FOUND', `the content of '${entry.name}' is missing from the store`, {
      id: entry.id,
    });
  }
  try {
    if (stats !== undefined) stats.downloads++;
    // §9.F.12.1 One flat map: the entry's fields and `offset` beside them (not nested under a key).
    const { id, name, size, sha256, type, uploader, uploadedAt } = entry;
    ctx.progress({ id, name, size, sha256, type, uploader, uploadedAt, offset });
    const chunkData = Math.min(DEFAULT_CHUNK_DATA, maxFrame - CHUNK_HEADER_SIZE);
    let position = offset;
    const readAt = (at: number) => {
      if (at >= entry.size) return undefined;
      const read = readChunk(reader, at, Math.min(chunkData, entry.size - at));
      read.catch(() => {}); // awaited on the next turn of the loop; do not report it as unhandled meanwhile
      return read;
    };
    let next = readAt(position);
    while (next !== undefined) {
      const chunk = await next;
      position += chunk.length - CHUNK_HEADER_SIZE;
      next = readAt(position);
      try {
        await ctx.sendChunk(chunk);
        if (stats !== undefined) stats.sentBytes += chunk.length - CHUNK_HEADER_SIZE;
      } catch (err) {
        await next?.catch(() => {});
        throw err;
      }
    }
    await ctx.sendChunk(encodeTrailer(entry.size, hexToBytes(entry.sha256), crc32), true);
    return { bytes: entry.size - offset, offset, size: entry.size };
  } finally {
    await reader.close();
  }
}

/** One CHUNK payload: header + `length` bytes read at `position`. A fresh buffer each time: it is queued. */
async function readChunk(reader: BlobReader, position: number, length: number): Promise<Uint8Array> {
  const buffer = Buffer.allocUnsafeSlow(CHUNK_HEADER_SIZE + length);
  let done = 0;
  while (done < length) {
    const n = await reader.read(buffer, CHUNK_HEADER_SIZE + done, length - done, position + done);
    if (n === 0) throw new NexoError('INTERNAL_ERROR', `stored file ended early at byte ${position + done}`);
    done += n;
  }
  writeChunkHeader(buffer, position, crc32(buffer.subarray(CHUNK_HEADER_SIZE)));
  return buffer;
}
