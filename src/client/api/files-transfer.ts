/**
 * Uploads and downloads for Node (files on disk, streams): the client half of the files protocol
 * (docs/protocol.md §9). Loaded on first use by api/files.ts so that the client core stays free of Node APIs.
 *
 * Both directions verify every chunk (offset + CRC-32) and the whole file (SHA-256), keep memory at a few
 * chunks whatever the size (the sender waits for the socket; the receiver pauses the socket while its disk
 * is behind), and resume from the last good offset after a lost connection or a damaged chunk.
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { NexoError, toNexoError } from '../../errors.js';
import {
  bytesToHex,
  CHUNK_HEADER_SIZE,
  DEFAULT_CHUNK_DATA,
  decodeChunk,
  encodeTrailer,
  hexToBytes,
  SHA256_SIZE,
  writeChunkHeader,
} from '../../services/files/chunk-format.js';
import type { FileEntry, FileRef } from '../../services/files/model.js';
import { SerialWriter } from '../../util/serial-writer.js';
import type { RequestOptions } from '../client.js';
import type {
  DownloadOptions,
  DownloadResult,
  FileSpecifier,
  FilesRequester,
  UploadOptions,
  UploadResult,
} from './files.js';
import { safeLocalName } from './local-names.js';
import { guessMediaType } from './media-types.js';

const ENTRY_ID = /^[a-z2-7]{16}$/;
const HASH_READ = 1 << 20;
/** A download pauses the socket when this much received data waits for the disk, resumes below LOW. */
const SINK_HIGH = 8 << 20;
const SINK_LOW = 2 << 20;

/** Failures after which the same transfer may continue from the last good offset. */
const RETRYABLE = new Set<string>([
  'CONNECTION_LOST',
  'CONNECTION_REFUSED',
  'FILES_CHUNK_CORRUPT',
  'FILES_TOO_MANY_UPLOADS',
  'TIMEOUT',
  'SHUTTING_DOWN',
  'GOING_AWAY',
  'SLOW_CONSUMER',
  'SERVER_BUSY',
  'HEARTBEAT_TIMEOUT',
  'IDLE_TIMEOUT',
]);

// ---- looking files up ------------------------------------------------------------------------------

/** A string is tried as an entry id (if it looks like one), then as a name. */
export async function resolveEntry(
  r: FilesRequester,
  file: FileSpecifier,
  options?: RequestOptions,
): Promise<FileEntry> {
  if (typeof file !== 'string') return r.request<FileEntry>('files', 'info', file, options);
  if (ENTRY_ID.test(file)) {
    try {
      return await r.request<FileEntry>('files', 'info', { id: file }, options);
    } catch (err) {
      if ((err as NexoError).code !== 'FILES_NOT_FOUND') throw err;
    }
  }
  return r.request<FileEntry>('files', 'info', { name: file }, options);
}

/** The ref to send for a delete: the id when the string is an existing id, else the name. */
export async function refOf(
  r: FilesRequester,
  file: FileSpecifier,
  options?: RequestOptions,
): Promise<FileRef> {
  if (typeof file !== 'string') return file;
  if (ENTRY_ID.test(file)) {
    try {
      await r.request<FileEntry>('files', 'info', { id: file }, options);
      return { id: file };
    } catch (err) {
      if ((err as NexoError).code !== 'FILES_NOT_FOUND') throw err;
    }
  }
  return { name: file };
}

// ---- upload --------------------------------------------------------------------------------------

/** Where upload bytes come from: a file (can start anywhere) or a stream (only goes forward). */
interface Source {
  readonly size: number;
  readonly name: string | undefined;
  readonly seekable: boolean;
  /** Fills `target[at .. at+length)` with the bytes at `position`; returns how many it read. */
  read(target: Uint8Array, at: number, length: number, position: number): Promise<number>;
  /** Fills the targets in order from `position` in one call (files: one preadv); returns bytes read. */
  readv?(targets: Uint8Array[], position: number): Promise<number>;
  close(): Promise<void>;
}

async function fileSource(file: string): Promise<Source> {
  const handle = await fs.open(file, 'r');
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new NexoError('INVALID_ARGS', `${file} is not a regular file`);
  }
  return {
    size: stat.size,
    name: path.basename(file),
    seekable: true,
    read: async (target, at, length, position) => (await handle.read(target, at, length, position)).bytesRead,
    readv: async (targets, position) => (await handle.readv(targets, position)).bytesRead,
    close: () => handle.close(),
  };
}

function streamSource(stream: Readable | AsyncIterable<Uint8Array>, size: number | undefined): Source {
  if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
    throw new TypeError('files.upload: a stream needs options.size (its exact length in bytes)');
  }
  const iterator = (stream as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  let pending: Uint8Array = new Uint8Array(0);
  let consumed = 0;
  return {
    size,
    name: undefined,
    seekable: false,
    async read(target, at, length, position) {
      if (position !== consumed)
        throw new Error(`a stream cannot seek to ${position} (it is at ${consumed})`);
      let done = 0;
      while (done < length) {
        if (pending.length === 0) {
          const next = await iterator.next();
          if (next.done) break;
          pending = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
          continue;
        }
        const n = Math.min(pending.length, length - done);
        target.set(pending.subarray(0, n), at + done);
        pending = pending.subarray(n);
        done += n;
      }
      consumed += done;
      return done;
    },
    close: async () => {
      await iterator.return?.();
    },
  };
}

interface UploadProgressReply {
  uploadId: string;
  offset: number;
  chunkSize: number;
  maxChunk: number;
}

type UploadReply = Omit<UploadResult, 'resumedFrom'>;

export async function upload(
  r: FilesRequester,
  input: string | Readable | AsyncIterable<Uint8Array>,
  options: UploadOptions,
): Promise<UploadResult> {
  const source = typeof input === 'string' ? await fileSource(input) : streamSource(input, options.size);
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
  readonly source: Source;
  readonly options: UploadOptions;
  readonly name: string;
  readonly type: string;
  readonly declared: string | undefined;
  uploadId: string | undefined;
  /** SHA-256 of the source's first `hashed` bytes (when the hash was not declared). */
  hash: Hash | undefined;
  hashed: number;
  /** Data chunks sent by this call, over all attempts (for the test hook). */
  chunkIndex: number;
  /** Highest offset the server acknowledged or we sent: progress, to tell a stuck retry from a useful one. */
  sent: number;
  /** A stream source was read from (it cannot be read again). */
  streamRead: boolean;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new NexoError('CANCELLED', 'cancelled');
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
    const read = readChunks(source, at, chunkData, size);
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
      let crc = crc32(data);
      const hooks = options.testHooks;
      if (hooks?.corruptChunk === job.chunkIndex++) {
        data[data.length >> 1]! ^= 0x5a; // damage after hashing, as a bad link would
        if (hooks.keepChecksum === true) crc = crc32(data);
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
  await handle.end(encodeTrailer(size, digest, crc32));
  const result = await handle.result;
  return { ...result, resumedFrom: start.offset };
}

/** Brings the running hash to `offset`: reads what a previous process already sent, or starts over. */
async function catchUpHash(job: UploadJob, offset: number): Promise<void> {
  if (job.hash !== undefined && job.hashed === offset) return;
  if (job.hash === undefined || job.hashed > offset) {
    job.hash = createHash('sha256');
    job.hashed = 0;
  }
  const buffer = Buffer.allocUnsafe(HASH_READ);
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
  source: Source,
  position: number,
  chunkData: number,
  size: number,
): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (let at = position; at < size && chunks.length < (source.readv ? READ_BATCH : 1); ) {
    const length = Math.min(chunkData, size - at);
    chunks.push(Buffer.allocUnsafeSlow(CHUNK_HEADER_SIZE + length));
    at += length;
  }
  let targets = chunks.map((c) => c.subarray(CHUNK_HEADER_SIZE));
  let at = position;
  while (targets.length > 0) {
    let n = source.readv
      ? await source.readv(targets, at)
      : await source.read(targets[0]!, 0, targets[0]!.length, at);
    if (n === 0) {
      throw new NexoError(
        'INVALID_ARGS',
        `the source ended at byte ${at}, before its declared size; was the file truncated?`,
      );
    }
    at += n;
    while (n > 0 && targets.length > 0) {
      const first = targets[0]!;
      if (first.length <= n) {
        n -= first.length;
        targets = targets.slice(1);
      } else {
        targets = [first.subarray(n), ...targets.slice(1)];
        n = 0;
      }
    }
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

function withUploadId(error: NexoError, uploadId: string | undefined): NexoError {
  if (uploadId === undefined || error.details?.uploadId !== undefined) return error;
  return new NexoError(error.code, error.message, { ...error.details, uploadId }, { cause: error });
}

// ---- download ------------------------------------------------------------------------------------

/** Where downloaded bytes go, in order. `write` queues; the receiver pauses the socket while it is full. */
interface Sink {
  readonly buffered: number;
  write(data: Uint8Array, position: number): void;
  /** Resolves when `buffered` fell below the low mark (or a write failed). */
  whenLow(): Promise<void>;
  /** Everything queued is written; throws the first write error. */
  flush(): Promise<void>;
}

/** Bytes written to a download between background syncs (see SerialWriter). */
const SINK_SYNC_EVERY = 32 * 1024 * 1024;

/**
 * Writes a download to a local file through a SerialWriter: in order, one write in flight, batches of what
 * arrived meanwhile (a single pwritev), a background sync every 32 MiB so the final fsync is short.
 */
class FileSink implements Sink {
  readonly #writer: SerialWriter;
  #position: number | undefined;

  constructor(readonly handle: fs.FileHandle) {
    this.#writer = new SerialWriter((batch) => this.#writeAll(batch), {
      sync: () => handle.sync(),
      syncEvery: SINK_SYNC_EVERY,
    });
  }

  get buffered(): number {
    return this.#writer.queuedBytes;
  }

  write(data: Uint8Array, position: number): void {
    // Downloads arrive in order: each write starts where the previous one ended.
    this.#position ??= position;
    this.#writer.push(data);
  }

  whenLow(): Promise<void> {
    return this.#writer.whenBelow(SINK_LOW + 1);
  }

  flush(): Promise<void> {
    return this.#writer.drain();
  }

  async #writeAll(batch: Uint8Array[]): Promise<void> {
    let buffers = batch;
    while (buffers.length > 0) {
      let { bytesWritten } = await this.handle.writev(buffers, this.#position);
      this.#position = (this.#position ?? 0) + bytesWritten;
      while (bytesWritten > 0 && buffers.length > 0) {
        const first = buffers[0]!;
        if (first.length <= bytesWritten) {
          bytesWritten -= first.length;
          buffers = buffers.slice(1);
        } else {
          buffers = [first.subarray(bytesWritten), ...buffers.slice(1)];
          bytesWritten = 0;
        }
      }
    }
  }
}

/** Writes to a stream (stdout, a socket), using its own buffer and 'drain' for pacing. */
class StreamSink implements Sink {
  #error: Error | undefined;

  constructor(readonly stream: NodeJS.WritableStream & { writableLength?: number }) {
    stream.on('error', (err: Error) => {
      this.#error ??= err;
    });
  }

  get buffered(): number {
    return this.stream.writableLength ?? 0;
  }

  write(data: Uint8Array): void {
    this.stream.write(data);
  }

  whenLow(): Promise<void> {
    if (this.buffered <= SINK_LOW || this.#error !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      this.stream.once('drain', resolve);
      this.stream.once('error', () => resolve());
    });
  }

  /** Resolves once the stream has processed every byte written so far (an empty write's callback). */
  async flush(): Promise<void> {
    if (this.#error !== undefined) throw this.#error;
    await new Promise<void>((resolve) => {
      this.stream.write(new Uint8Array(0), () => resolve());
    });
    if (this.#error !== undefined) throw this.#error;
  }
}

interface PartialState {
  sha256: string;
  size: number;
  id: string;
  name: string;
}

/** The local side of a file download: the partial file next to the destination and its small state file. */
class LocalTarget {
  readonly partial: string;
  readonly state: string;

  constructor(readonly target: string) {
    this.partial = `${target}.nexo-part`;
    this.state = `${target}.nexo-part.json`;
  }

  /** Offset to resume from: the partial's length, if it was left by a download of the same content. */
  async resumableOffset(entry: FileEntry): Promise<number> {
    try {
      const state = JSON.parse(await fs.readFile(this.state, 'utf8')) as Partial<PartialState>;
      if (state.sha256 !== entry.sha256 || state.size !== entry.size) return 0;
      const { size } = await fs.stat(this.partial);
      return size <= entry.size ? size : 0;
    } catch {
      return 0;
    }
  }

  async open(entry: FileEntry, offset: number): Promise<fs.FileHandle> {
    const state: PartialState = { sha256: entry.sha256, size: entry.size, id: entry.id, name: entry.name };
    await fs.writeFile(this.state, `${JSON.stringify(state)}\n`);
    const handle = await fs.open(this.partial, offset > 0 ? 'r+' : 'w');
    if (offset > 0) await handle.truncate(offset);
    return handle;
  }

  /** Durable, then renamed into place: the destination only ever holds a complete, verified file. */
  async complete(handle: fs.FileHandle): Promise<void> {
    await handle.sync();
    await handle.close();
    await fs.rename(this.partial, this.target);
    await fs.rm(this.state, { force: true });
  }

  async discard(): Promise<void> {
    await fs.rm(this.partial, { force: true });
    await fs.rm(this.state, { force: true });
  }
}

async function isDirectory(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

export async function download(
  r: FilesRequester,
  file: FileSpecifier,
  dest: string | NodeJS.WritableStream,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const entry = await resolveEntry(r, file);
  if (typeof dest !== 'string') {
    const hash = createHash('sha256');
    await receive(r, entry, 0, hash, new StreamSink(dest), options);
    verifyHash(entry, hash);
    return { entry, path: undefined, resumedFrom: 0 };
  }
  // A directory (existing, or named with a trailing separator: created) receives the file under its name.
  const intoDirectory = /[\\/]$/.test(dest) || (await isDirectory(dest));
  if (intoDirectory) {
    await fs.mkdir(dest, { recursive: true }).catch((err: Error) => {
      throw new NexoError('INVALID_ARGS', `cannot create the directory ${dest}: ${err.message}`, {
        path: dest,
      });
    });
  }
  const target = intoDirectory ? path.join(dest, safeLocalName(entry.name)) : dest;
  if (options.overwrite !== true && (await exists(target))) {
    throw new NexoError(
      'INVALID_ARGS',
      `${target} already exists; choose another destination or allow overwriting (nexo download --force)`,
      { path: target },
    );
  }
  const local = new LocalTarget(target);
  const offset = options.resume === false ? 0 : await local.resumableOffset(entry);
  const hash = createHash('sha256');
  if (offset > 0) {
    // The receiver verifies the whole file: hash the bytes an earlier call already has.
    const handle = await fs.open(local.partial, 'r');
    try {
      const buffer = Buffer.allocUnsafe(HASH_READ);
      for (let at = 0; at < offset; ) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(HASH_READ, offset - at), at);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        at += bytesRead;
      }
    } finally {
      await handle.close();
    }
  }
  let handle: fs.FileHandle;
  try {
    handle = await local.open(entry, offset);
  } catch (err) {
    throw new NexoError('INVALID_ARGS', `cannot write ${target}: ${(err as Error).message}`, {
      path: target,
    });
  }
  options.onStart?.({ entry, path: local.partial, offset });
  try {
    await receive(r, entry, offset, hash, new FileSink(handle), options);
  } catch (err) {
    await handle.close();
    throw err; // the partial and its state stay: the same call again resumes
  }
  try {
    verifyHash(entry, hash);
  } catch (err) {
    await handle.close();
    await local.discard();
    throw err;
  }
  await local.complete(handle);
  return { entry, path: target, resumedFrom: offset };
}

function verifyHash(entry: FileEntry, hash: Hash): void {
  const actual = hash.digest('hex');
  if (actual !== entry.sha256) {
    throw new NexoError(
      'FILES_HASH_MISMATCH',
      `the downloaded bytes hash to ${actual}, not ${entry.sha256} as stored; the partial file was removed: download again`,
      { expected: entry.sha256, actual },
    );
  }
}

/** Receives from `offset` to the end into `sink`, retrying from the last verified byte. */
async function receive(
  r: FilesRequester,
  entry: FileEntry,
  offset: number,
  hash: Hash,
  sink: Sink,
  options: DownloadOptions,
): Promise<void> {
  const state = { expected: offset, chunkIndex: 0 };
  const retries = options.retries ?? 5;
  let failures = 0;
  for (;;) {
    const before = state.expected;
    try {
      await receiveOnce(r, entry, offset, state, hash, sink, options);
      await sink.flush();
      return;
    } catch (err) {
      await sink.flush();
      const error = toNexoError(err);
      if (options.signal?.aborted || !RETRYABLE.has(error.code)) throw error;
      failures = state.expected > before ? 1 : failures + 1;
      if (failures > retries) throw error;
      options.onRetry?.(error, failures);
      await pause(Math.min(100 * 2 ** (failures - 1), 3000), options.signal);
      await r.ready().catch(() => {
        throw error;
      });
    }
  }
}

async function receiveOnce(
  r: FilesRequester,
  entry: FileEntry,
  resumedFrom: number,
  state: { expected: number; chunkIndex: number },
  hash: Hash,
  sink: Sink,
  options: DownloadOptions,
): Promise<void> {
  throwIfAborted(options.signal);
  let error: Error | undefined;
  let trailerSeen = false;
  let paused = false;
  let cancel: (() => void) | undefined;
  const fail = (err: Error) => {
    if (error !== undefined) return;
    error = err;
    cancel?.();
  };
  const handle = await r.call(
    'files',
    'download',
    { id: entry.id, offset: state.expected },
    {
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onProgress: (value) => {
        const p = value as Partial<FileEntry>;
        if (p.sha256 !== entry.sha256 || p.size !== entry.size) {
          fail(new NexoError('FILES_NOT_FOUND', `'${entry.name}' changed on the server during the download`));
        }
      },
      onChunk: (bytes, end) => {
        if (error !== undefined) return;
        try {
          const chunk = decodeChunk(bytes, state.expected);
          if (chunk.offset !== state.expected) {
            throw new NexoError(
              'FILES_BAD_CHUNK',
              `the server sent offset ${chunk.offset}, expected ${state.expected}`,
              { offset: state.expected },
            );
          }
          if (end || chunk.offset === entry.size) {
            const digest = chunk.data;
            if (
              chunk.offset !== entry.size ||
              digest.length !== SHA256_SIZE ||
              crc32(digest) !== chunk.crc ||
              bytesToHex(digest) !== entry.sha256
            ) {
              throw new NexoError(
                'FILES_BAD_CHUNK',
                'the END chunk of the download is not the expected trailer',
                {
                  offset: state.expected,
                },
              );
            }
            trailerSeen = true;
            return;
          }
          let data = chunk.data;
          if (options.testHooks?.corruptChunk === state.chunkIndex++) {
            data = Uint8Array.from(data);
            data[data.length >> 1]! ^= 0x5a;
          }
          if (crc32(data) !== chunk.crc) {
            throw new NexoError(
              'FILES_CHUNK_CORRUPT',
              `the chunk at offset ${state.expected} failed its CRC-32 check (damaged in transit)`,
              { offset: state.expected },
            );
          }
          hash.update(data);
          sink.write(data, state.expected);
          state.expected += data.length;
          options.onProgress?.({ name: entry.name, size: entry.size, bytes: state.expected, resumedFrom });
          if (!paused && sink.buffered > SINK_HIGH) {
            // The disk is behind the network: stop reading the socket; the server then waits for us.
            paused = true;
            handle.pause();
            sink.whenLow().then(() => {
              paused = false;
              handle.resume();
            });
          }
        } catch (err) {
          fail(err as Error);
        }
      },
    },
  );
  cancel = () => handle.cancel();
  if (error !== undefined) handle.cancel();
  try {
    await handle.result;
  } catch (err) {
    throw error ?? err;
  } finally {
    handle.resume();
  }
  if (error !== undefined) throw error;
  if (!trailerSeen) {
    throw new NexoError('FILES_BAD_CHUNK', 'the download ended without its END chunk', {
      offset: state.expected,
    });
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new NexoError('CANCELLED', 'cancelled'));
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new NexoError('CANCELLED', 'cancelled'));
      },
      { once: true },
    );
  });
}
