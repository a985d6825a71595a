/**
 * The client half of `files.upload` (docs/protocol.md §9), free of platform APIs: Node (files-transfer.ts:
 * files on disk and streams, native SHA-256 and CRC-32) and browsers (files-blob.ts: a File or Blob,
 * TypeScript hashes) run the same exchange, resume and retry logic with their own sources and digests.
 */
import { NexoError, toNexoError } from '../../errors.js';
import { advanceBuffers } from '../../util/byte-lists.js';
import { guessMediaType } from '../../util/media-types.js';
import {
  CHUNK_HEADER_SIZE,
  DEFAULT_CHUNK_DATA,
  encodeTrailer,
  hexToBytes,
  writeChunkHeader,
} from '../../wire/chunk-format.js';
import { pause, RETRYABLE, throwIfAborted } from './files-common.js';
import type { FilesRequester, UploadOptions, UploadResult } from './files-options.js';

const HASH_READ = 1 << 20;

/** An incremental SHA-256 (Node's `Hash` is one). */
export interface IncrementalHash {
  update(data: Uint8Array): unknown;
  /** A hash in the same state (digested while the original goes on). */
  copy(): IncrementalHash;
  digest(): Uint8Array;
}

/** What an upload needs from the platform it runs on. */
export interface UploadPlatform {
  sha256(): IncrementalHash;
  crc32(data: Uint8Array): number;
  /** A buffer of `size` bytes whose contents will all be overwritten (Node: no zero fill). */
  alloc(size: number): Uint8Array;
}

/** Where upload bytes come from: a file (can start anywhere), a stream (only goes forward), a browser Blob. */
export interface UploadSource {
  readonly size: number;
  readonly name: string | undefined;
  readonly seekable: boolean;
  /** Fills `target[at .. at+length)` with the bytes at `position`; returns how many it read. */
  read(target: Uint8Array, at: number, length: number, position: number): Promise<number>;
  /** Fills the targets in order from `position` in one call (files: one preadv); returns bytes read. */
  readv?(targets: Uint8Array[], position: number): Promise<number>;
  close(): Promise<void>;
}

interface UploadProgressReply {
  uploadId: string;
  offset: number;
  chunkSize: number;
  maxChunk: number;
}

type UploadReply = Omit<UploadResult, 'resumedFrom'>;

/**
 * Uploads `source` with the files protocol (§9): starts or resumes the upload, sends verified chunks, ends
 * with the SHA-256, and after a lost connection or a damaged chunk resumes from the server's offset (a
 * seekable source) or fails (a stream that cannot be read again). `platform` gives the hash and checksum.
 */
export async function uploadFrom(
  r: FilesRequester,
  source: UploadSource,
  options: UploadOptions,
  platform: UploadPlatform,
): Promise<UploadResult> {
  try {
    const name = options.name ?? source.name;
    if (name === undefined) throw new TypeError('files.upload: a stream needs options.name');
    if (options.size !== undefined && options.size !== source.size) {
      throw new TypeError(
        `files.upload: options.size is ${options.size} but the file has ${source.size} bytes`,
      );
    }
    const job: UploadJob = {
      r,
      source,
      platform,
      options,
      name,
      type: options.type ?? guessMediaType(name),
      declared: options.sha256?.toLowerCase(),
      uploadId: options.uploadId,
      hash: undefined,
      hashed: 0,
      chunkIndex: 0,
      sent: 0,
      streamRead: false,
    };
    const retries = options.retries ?? 5;
    let failures = 0;
    for (;;) {
      const before = job.sent;
      try {
        return await uploadOnce(job);
      } catch (err) {
        const error = toNexoError(err);
        if (options.signal?.aborted) throw withUploadId(error, job.uploadId);
        if (error.code === 'FILES_UPLOAD_NOT_FOUND' && job.uploadId !== undefined && source.seekable) {
          // Expired or unknown on this node (another node behind the same address?): start over.
          job.uploadId = undefined;
          continue;
        }
        if (!RETRYABLE.has(error.code)) throw withUploadId(error, job.uploadId);
        failures = job.sent > before ? 1 : failures + 1;
        if (failures > retries) throw withUploadId(error, job.uploadId);
        options.onRetry?.(error, failures);
        await pause(Math.min(100 * 2 ** (failures - 1), 3000), options.signal);
        // No connection any more (the client gave up reconnecting): report what broke the transfer.
        await r.ready().catch(() => {
          throw withUploadId(error, job.uploadId);
        });
      }
    }
  } finally {
    await source.close();
  }
}

interface UploadJob {
  readonly r: FilesRequester;
  readonly source: UploadSource;
  readonly platform: UploadPlatform;
  readonly options: UploadOptions;
  readonly name: string;
  readonly type: string;
  readonly declared: string | undefined;
  uploadId: string | undefined;
  /** SHA-256 of the source's first `hashed` bytes (when the hash was not declared). */
  hash: IncrementalHash | undefined;
  hashed: number;
  /** Data chunks sent by this call, over all attempts (for the test hook). */
  chunkIndex: number;
  /** Highest offset the server acknowledged or we sent: progress, to tell a stuck retry from a useful one. */
  sent: number;
  /** A stream source was read from (it cannot be read again). */
  streamRead: boolean;
}

async function uploadOnce(job: UploadJob): Promise<UploadResult> {
  const { r, source, options } = job;
  throwIfAborted(options.signal);
  const size = source.size;
  const args: Record<string, unknown> = { name: job.name, size, type: job.type };
  if (job.declared !== undefined) args.sha256 = job.declared;
  if (job.uploadId !== undefined) args.uploadId = job.uploadId;

  let go!: (reply: UploadProgressReply) => void;
  const started = new Promise<UploadProgressReply>((resolve) => {
    go = resolve;
  });
  const handle = await r.call<UploadReply>('files', 'upload', args, {
    onProgress: (value) => go(value as UploadProgressReply),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  let failure: unknown;
  handle.result.catch((err: unknown) => {
    failure = err;
  });
  // The server answers "send from offset N", or at once the final reply (an upload completed earlier), or
  // an error (size, quota, name...) before any byte is sent.
  const first = await Promise.race([started, handle.result.then((done) => ({ done }))]);
  if ('done' in first) return { ...first.done, resumedFrom: size };
  const start = first;
  job.uploadId = start.uploadId;
  options.onStart?.({ uploadId: start.uploadId, name: job.name, size, offset: start.offset });

  if (!source.seekable) {
    // A stream only goes forward: it can only (re)start from 0, before any of it was read.
    if (start.offset !== 0 || job.streamRead) throw cannotRewind(start.offset);
    job.streamRead = true;
  }
  if (job.declared === undefined) await catchUpHash(job, start.offset);
  const chunkData = Math.max(
    1,
    Math.min(options.chunkSize ?? start.chunkSize ?? DEFAULT_CHUNK_DATA, start.maxChunk),
  );
  let position = start.offset;
  job.sent = Math.max(job.sent, position);
  const progress = () =>
    options.onProgress?.({ name: job.name, size, bytes: position, resumedFrom: start.offset });
  progress();

  // Chunks are read a batch at a time (one preadv: one thread-pool hand-off), the next batch while this one
  // is sent.
  const readAt = (at: number): Promise<Uint8Array[]> | undefined => {
    if (at >= size) return undefined;
    const read = readChunks(source, at, chunkData, size, job.platform);
    read.catch(() => {}); // awaited on the next turn; not unhandled meanwhile
    return read;
  };
  let next = readAt(position);
  while (next !== undefined && failure === undefined) {
    const chunks = await next;
    next = readAt(position + chunks.reduce((n, c) => n + c.length - CHUNK_HEADER_SIZE, 0));
    for (const chunk of chunks) {
      if (failure !== undefined) break;
      const data = chunk.subarray(CHUNK_HEADER_SIZE);
      if (job.hash !== undefined && job.hashed === position) {
        job.hash.update(data);
        job.hashed += data.length;
      }
      let crc = job.platform.crc32(data);
      const hooks = options.testHooks;
      if (hooks?.corruptChunk === job.chunkIndex++) {
        data[data.length >> 1]! ^= 0x5a; // damage after hashing, as a bad link would
        if (hooks.keepChecksum === true) crc = job.platform.crc32(data);
      }
      writeChunkHeader(chunk, position, crc);
      position += data.length;
      await handle.write(chunk);
      job.sent = Math.max(job.sent, position);
      progress();
    }
  }
  if (failure !== undefined) {
    await next?.catch(() => {});
    throw failure;
  }
  const digest = job.hash !== undefined ? job.hash.copy().digest() : hexToBytes(job.declared!);
  await handle.end(encodeTrailer(size, digest, job.platform.crc32));
  const result = await handle.result;
  return { ...result, resumedFrom: start.offset };
}

/** Brings the running hash to `offset`: reads what a previous process already sent, or starts over. */
async function catchUpHash(job: UploadJob, offset: number): Promise<void> {
  if (job.hash !== undefined && job.hashed === offset) return;
  if (job.hash === undefined || job.hashed > offset) {
    job.hash = job.platform.sha256();
    job.hashed = 0;
  }
  const buffer = job.platform.alloc(HASH_READ);
  while (job.hashed < offset) {
    const n = await job.source.read(buffer, 0, Math.min(HASH_READ, offset - job.hashed), job.hashed);
    if (n === 0) throw new NexoError('INVALID_ARGS', 'the file got shorter while it was being uploaded');
    job.hash.update(buffer.subarray(0, n));
    job.hashed += n;
  }
}

/** Chunks read per batch: about 1 MiB at the default chunk size. */
const READ_BATCH = 4;

/**
 * The next CHUNK payloads from `position`: each a fresh buffer (it is queued on the socket) with room for
 * the header, then its data. Files fill a batch with one preadv; streams chunk by chunk.
 */
async function readChunks(
  source: UploadSource,
  position: number,
  chunkData: number,
  size: number,
  platform: UploadPlatform,
): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (let at = position; at < size && chunks.length < (source.readv ? READ_BATCH : 1); ) {
    const length = Math.min(chunkData, size - at);
    chunks.push(platform.alloc(CHUNK_HEADER_SIZE + length));
    at += length;
  }
  let targets: Uint8Array[] = chunks.map((c) => c.subarray(CHUNK_HEADER_SIZE));
  let at = position;
  while (targets.length > 0) {
    const n = source.readv
      ? await source.readv(targets, at)
      : await source.read(targets[0]!, 0, targets[0]!.length, at);
    if (n === 0) {
      throw new NexoError(
        'INVALID_ARGS',
        `the source ended at byte ${at}, before its declared size; was the file truncated?`,
      );
    }
    at += n;
    targets = advanceBuffers(targets, n);
  }
  return chunks;
}

function cannotRewind(offset: number): NexoError {
  return new NexoError(
    'FILES_UPLOAD_MISMATCH',
    `the upload must continue from offset ${offset}, but a stream cannot be read again: upload from a file to resume`,
    { offset },
  );
}

export function withUploadId(error: NexoError, uploadId: string | undefined): NexoError {
  if (uploadId === undefined || error.details?.uploadId !== undefined) return error;
  return new NexoError(error.code, error.message, { ...error.details, uploadId }, { cause: error });
}
