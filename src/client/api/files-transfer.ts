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
import { NexoError, toNexoError } from '../../errors.js';
import { crc32 } from '../../util/crc32.js';
import { safeLocalName } from '../../util/local-names.js';
import { bytesToHex, decodeChunk, SHA256_SIZE } from '../../wire/chunk-format.js';
import type { FileEntry } from '../../wire/files.js';
import { FileSink, SINK_HIGH, type Sink, StreamSink } from './download-sinks.js';
import { pause, RETRYABLE, resolveEntry, throwIfAborted } from './files-common.js';
import type {
  DownloadOptions,
  DownloadResult,
  FileSpecifier,
  FilesRequester,
  UploadOptions,
  UploadResult,
} from './files-options.js';
import { type UploadPlatform, type UploadSource, uploadFrom } from './files-upload.js';

const HASH_READ = 1 << 20;

// ---- upload --------------------------------------------------------------------------------------

/** Node's native SHA-256 and CRC-32, and buffers without a zero fill. */
const NODE: UploadPlatform = {
  sha256: () => createHash('sha256'),
  crc32: (data) => crc32(data),
  alloc: (size) => Buffer.allocUnsafeSlow(size),
};

async function fileSource(file: string): Promise<UploadSource> {
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

function streamSource(stream: Readable | AsyncIterable<Uint8Array>, size: number | undefined): UploadSource {
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
/** Uploads a file (path) or a stream (needs options.size and options.name); resumes and retries. */
export async function upload(
  r: FilesRequester,
  input: string | Readable | AsyncIterable<Uint8Array>,
  options: UploadOptions,
): Promise<UploadResult> {
  const source = typeof input === 'string' ? await fileSource(input) : streamSource(input, options.size);
  return uploadFrom(r, source, options, NODE);
}

// ---- download ------------------------------------------------------------------------------------

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
    options.onStart?.({ entry, path: undefined, offset: 0 });
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
  const sink = new FileSink(handle);
  try {
    await receive(r, entry, offset, hash, sink, options);
  } catch (err) {
    sink.stop();
    await handle.close();
    throw err; // the partial and its state stay: the same call again resumes
  }
  sink.stop();
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
