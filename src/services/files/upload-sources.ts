import type { CallContext } from '../../contract/service.js';
import { NexoError } from '../../errors.js';
import { crc32 } from '../../util/crc32.js';
import { bytesToHex, decodeChunk, SHA256_SIZE } from '../../wire/chunk-format.js';
import type { UploadRecord } from './model.js';
import type { Run } from './upload-run.js';

/**
 * Where an upload's bytes come from: CHUNK frames of a protocol call (each with its offset and CRC-32), or a
 * plain byte stream (an HTTP multipart upload). The upload loop in uploads.ts reads either the same way.
 */
/** The request of a stream upload (HTTP multipart): what `files.upload` declares, minus the exact size. */
export interface StreamUpload {
  readonly name: string;
  readonly type?: string | undefined;
  /** Hex SHA-256 the sender claims; the upload fails with FILES_HASH_MISMATCH if the bytes differ. */
  readonly sha256?: string | undefined;
  /** Bytes the stream cannot exceed (an HTTP Content-Length); undefined: up to the node's limits. */
  readonly maxSize?: number | undefined;
}

/** The end of an upload's data, with the SHA-256 its sender claims (if any). */
export interface DataEnd {
  readonly sha256: string | undefined;
}

/** Where an upload's data comes from: protocol CHUNK frames, or a byte stream fed in-process. */
export interface DataSource {
  /** The next data (checked as far as the source can), in order from `offset`; or the end. */
  next(offset: number): Promise<Uint8Array | DataEnd>;
}

/**
 * The CHUNK frames of `files.upload` (§9.F.1–§9.F.3, §9.F.8): offset, then size, then CRC-32 of every chunk;
 * the trailer (the chunk at offset = size) with its optional SHA-256; nothing after it.
 */
export function chunkFrames(ctx: CallContext, run: Run, record: UploadRecord): DataSource {
  const input = ctx.input![Symbol.asyncIterator]();
  let trailer: string | undefined;
  let sawTrailer = false;
  return {
    async next(offset) {
      for (;;) {
        const next = await nextChunk(input, run);
        if (next.done) return { sha256: trailer };
        run.lastChunkAt = Date.now();
        const chunk = decodeChunk(next.value, offset);
        if (sawTrailer) {
          throw new NexoError('FILES_BAD_CHUNK', 'a chunk arrived after the END chunk', { offset });
        }
        if (chunk.offset !== offset) {
          throw new NexoError(
            'FILES_BAD_CHUNK',
            `chunk for offset ${chunk.offset} arrived, but the upload is at offset ${offset}; send from there`,
            { offset, got: chunk.offset },
          );
        }
        const data = chunk.data;
        if (offset === record.size) {
          sawTrailer = true;
          if (data.length !== 0 && data.length !== SHA256_SIZE) {
            throw new NexoError(
              'FILES_BAD_CHUNK',
              `the END chunk carries nothing or the ${SHA256_SIZE}-byte SHA-256 of the file; it carries ${data.length} bytes`,
              { offset },
            );
          }
          if (data.length === SHA256_SIZE) {
            if (crc32(data) !== chunk.crc) throw corrupt(record.uploadId, offset);
            trailer = bytesToHex(data);
          }
          continue;
        }
        if (data.length === 0) continue;
        if (offset + data.length > record.size) {
          throw new NexoError(
            'FILES_SIZE_MISMATCH',
            `the upload declared ${record.size} bytes, but this chunk reaches byte ${offset + data.length}`,
            { size: record.size, offset },
          );
        }
        if (crc32(data) !== chunk.crc) throw corrupt(record.uploadId, offset);
        return data;
      }
    },
  };
}

/** Plain bytes of unknown length, refused (`tooLarge`) as soon as they go past `limit`. */
export function byteStream(
  source: AsyncIterable<Uint8Array>,
  run: Run,
  limit: number,
  tooLarge: () => NexoError,
): DataSource {
  const input = source[Symbol.asyncIterator]();
  return {
    async next(offset) {
      for (;;) {
        const next = await nextChunk(input, run);
        if (next.done) return { sha256: undefined };
        run.lastChunkAt = Date.now();
        if (next.value.length === 0) continue;
        if (offset + next.value.length > limit) {
          await input.return?.();
          throw tooLarge();
        }
        return next.value;
      }
    },
  };
}

/**
 * The next chunk, or a rejection as soon as the run is stopped. Not Promise.race with a long-lived "stopped"
 * promise: every race would add a reaction to it that keeps its chunk alive until the upload ends (the whole
 * file in memory). One replaceable callback instead.
 */
function nextChunk(input: AsyncIterator<Uint8Array>, run: Run): Promise<IteratorResult<Uint8Array>> {
  if (run.stoppedBy !== undefined) return Promise.reject(run.stoppedBy);
  return new Promise((resolve, reject) => {
    run.interruptRead = reject;
    input.next().then(
      (result) => {
        run.interruptRead = undefined;
        resolve(result);
      },
      (err: unknown) => {
        run.interruptRead = undefined;
        reject(err);
      },
    );
  });
}

function corrupt(uploadId: string, offset: number): NexoError {
  return new NexoError(
    'FILES_CHUNK_CORRUPT',
    `the chunk at offset ${offset} failed its CRC-32 check (damaged in transit); resume upload ${uploadId} from offset ${offset}`,
    { uploadId, offset },
  );
}
