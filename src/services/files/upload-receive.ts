import { createHash, type Hash } from 'node:crypto';
import type { CallContext } from '../../contract/service.js';
import { NexoError } from '../../errors.js';
import type { FilesOptions } from '../../options/options.js';
import { CHUNK_HEADER_SIZE, DEFAULT_CHUNK_DATA } from '../../wire/chunk-format.js';
import type { UploadCommitted } from '../../wire/files.js';
import { AppendQueue } from './append-queue.js';
import { type CommitParts, commitUpload, type OpenPartial } from './upload-commit.js';
import type { Run } from './upload-run.js';
import type { Session } from './upload-sessions.js';
import type { DataSource } from './upload-sources.js';

/** Verified bytes that may wait for the disk per upload before the upload waits (and its sender with it). */
const MAX_PENDING_WRITES = 2 * 1024 * 1024;

export interface ReceiveParts extends CommitParts {
  readonly options: FilesOptions;
  /** The node's largest frame: a chunk's data is that less its header. */
  readonly maxFrame: number;
}

/**
 * One run of an upload: its bytes from `source`, appended in order to the partial file under a stall
 * watchdog (which also keeps the record fresh), then verified and committed. The run is released however it
 * ends; a run that fails leaves the upload resumable unless the failure discarded it.
 */
export async function receiveUpload(
  parts: ReceiveParts,
  session: Session,
  run: Run,
  ctx: CallContext,
  source: DataSource,
): Promise<UploadCommitted> {
  const { catalog, options, sessions } = parts;
  const stallMs = options.stallTimeoutMs;
  // A long upload keeps its record fresh, so no node sharing the catalog expires it while it is receiving.
  const touchEvery = options.partialExpiryMs / 4;
  let touchedAt = Date.now();
  const watchdog = setInterval(
    () => {
      const now = Date.now();
      if (now - touchedAt > touchEvery) {
        touchedAt = now;
        catalog.touchUpload(session.record.uploadId, now).catch(() => {});
      }
      if (now - run.lastChunkAt > stallMs) {
        run.stop(
          new NexoError(
            'TIMEOUT',
            `no upload data for ${Math.round(stallMs / 1000)} s; resume with uploadId ${session.record.uploadId}`,
            { uploadId: session.record.uploadId },
          ),
        );
      }
    },
    Math.max(100, Math.min(stallMs / 4, 5000)),
  );
  watchdog.unref();
  let settled = false;
  try {
    const result = await receive(parts, session, run, ctx, source);
    settled = true;
    return result;
  } finally {
    clearInterval(watchdog);
    if (!settled && sessions.current(session)) {
      const at = Date.now();
      session.record.touchedAt = at;
      catalog.touchUpload(session.record.uploadId, at).catch(() => {});
    }
    sessions.release(session, run);
  }
}

async function receive(
  parts: ReceiveParts,
  session: Session,
  run: Run,
  ctx: CallContext,
  source: DataSource,
): Promise<UploadCommitted> {
  const { store } = parts;
  const record = session.record;
  const uploadId = record.uploadId;
  let file = await store.openPartial(uploadId);
  let open = true;
  const partial: OpenPartial = {
    get file() {
      return file;
    },
    async close() {
      await file.close();
      open = false;
    },
  };
  try {
    if (file.size > record.size || (!session.sized && file.size > 0)) {
      // Cannot happen through this code; a damaged or foreign file: start it over.
      await file.close();
      await store.discardPartial(uploadId);
      file = await store.openPartial(uploadId);
      session.hash = undefined;
    }
    let offset = file.size;
    let hash: Hash;
    if (session.hash !== undefined && session.hashed === offset) hash = session.hash;
    else hash = await rehash(parts, uploadId, offset, ctx.signal);
    session.hash = undefined; // this run owns it now; handed back below if it still matches the file
    const maxChunk = parts.maxFrame - CHUNK_HEADER_SIZE;
    ctx.progress({ uploadId, offset, chunkSize: Math.min(DEFAULT_CHUNK_DATA, maxChunk), maxChunk });
    run.lastChunkAt = Date.now();

    const writes = new AppendQueue(file, MAX_PENDING_WRITES);
    let trailer: string | undefined;
    try {
      for (;;) {
        const data = await source.next(offset);
        if (!(data instanceof Uint8Array)) {
          trailer = data.sha256;
          break;
        }
        hash.update(data);
        offset += data.length;
        parts.stats.receivedBytes += data.length;
        // Written in order, one batch in flight: the partial file is always a contiguous prefix of the
        // upload, even if the process dies, so its length is the offset to resume from.
        await writes.push(data);
      }
      await writes.drain();
    } catch (err) {
      // Verified chunks still queued are written too, so the hash matches the file and a resume loses nothing.
      await writes.drain().catch(() => {});
      if (writes.error === undefined) {
        session.hash = hash;
        session.hashed = offset;
      }
      if (writes.error === undefined) throw err;
      // A store's own verdict (FILES_UPLOAD_BUSY: another node writes it) reaches the client as it is.
      if (writes.error instanceof NexoError) throw writes.error;
      throw new NexoError('INTERNAL_ERROR', `writing the upload failed: ${writes.error.message}`);
    }
    return await commitUpload(parts, session, partial, offset, hash, trailer);
  } finally {
    if (open) await file.close();
  }
}

/** Rebuilds the running hash of the bytes already received (after a restart or a failed write). */
async function rehash(
  parts: ReceiveParts,
  uploadId: string,
  length: number,
  signal: AbortSignal,
): Promise<Hash> {
  const hash = createHash('sha256');
  if (length === 0) return hash;
  for await (const bytes of parts.store.readPartial(uploadId, length, signal)) hash.update(bytes);
  return hash;
}
