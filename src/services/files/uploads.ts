import { createHash, type Hash, randomBytes } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { CallContext } from '../../contract/service.js';
import { NexoError } from '../../errors.js';
import type { FilesOptions } from '../../options/options.js';
import { clip } from '../../util/clip.js';
import { formatBytes } from '../../util/format-bytes.js';
import { CHUNK_HEADER_SIZE, DEFAULT_CHUNK_DATA } from '../../wire/chunk-format.js';
import type { FileEntry, UploadCommitted } from '../../wire/files.js';
import { AppendQueue } from './append-queue.js';
import type { FileCatalog } from './catalog.js';
import { newEntryId } from './ids.js';
import { newTransferStats, type TransferStats, type UploadArgs, type UploadRecord } from './model.js';
import { normalizeName, normalizeType } from './names.js';
import type { FileStore } from './store.js';
import type { Run } from './upload-run.js';
import { byteStream, chunkFrames, type DataSource, type StreamUpload } from './upload-sources.js';

export type { StreamUpload };

/** Space left free on the disk besides what uploads declare, so the node never fills it completely. */
const DISK_MARGIN = 64 * 1024 * 1024;
/** Verified bytes that may wait for the disk per upload before the upload waits (and its sender with it). */
const MAX_PENDING_WRITES = 2 * 1024 * 1024;
/** Completed uploads remembered so a client that lost the final reply can ask again (by upload id). */
const REMEMBER_COMPLETED = 1000;

interface Session {
  record: UploadRecord;
  /**
   * `record.size` is the exact size (protocol uploads), or only a bound: a byte stream of unknown length
   * (an HTTP multipart upload) reserves `record.size` and is stored with the length it turns out to have.
   */
  sized: boolean;
  /** Declared later than at the start (a resume may add the hash). */
  declared: string | undefined;
  /** Hash of the partial's first `hashed` bytes, kept across calls so a reconnect does not re-read them. */
  hash: Hash | undefined;
  hashed: number;
  run: Run | undefined;
}

/**
 * Upload sessions: admission (size, quota, disk, concurrency: refused before the client sends a byte), the
 * receiving loop (offset and CRC-32 of every chunk, sequential appends, running SHA-256), resume, commit,
 * and expiry of what was abandoned.
 */
export class Uploads {
  readonly #sessions = new Map<string, Session>();
  readonly #completed = new Map<string, UploadCommitted>();
  #receiving = 0;

  constructor(
    private readonly store: FileStore,
    private readonly catalog: FileCatalog,
    private readonly options: FilesOptions,
    private readonly maxFrame: number,
    private readonly log: Logger,
    private readonly stats: TransferStats = newTransferStats(),
  ) {}

  /** Uploads receiving right now. */
  get receiving(): number {
    return this.#receiving;
  }

  /** files.upload: see docs/protocol.md §9 for the exchange. */
  async receive(args: Static<typeof UploadArgs>, ctx: CallContext): Promise<UploadCommitted> {
    const name = normalizeName(args.name);
    const type = normalizeType(args.type);
    const declared = args.sha256?.toLowerCase();
    const o = this.options;
    if (args.size > o.maxFileSize) {
      throw new NexoError(
        'FILES_TOO_LARGE',
        `the file is ${formatBytes(args.size)}; this node accepts files up to ${formatBytes(o.maxFileSize)}`,
        { limit: o.maxFileSize, size: args.size },
      );
    }
    let session: Session | undefined;
    if (args.uploadId !== undefined) {
      const done = await this.#committed(args.uploadId);
      if (done !== undefined) {
        // §9.F.10.1 Committed earlier (maybe on another node; the client missed the reply): answered again only
        // to a request that describes the same file, as a resume must (§9.F.5).
        if (done.name !== name || done.size !== args.size) {
          throw mismatch(args.uploadId, done, name, args.size);
        }
        if (declared !== undefined && declared !== done.sha256) {
          throw hashMismatch(args.uploadId, done.sha256, declared);
        }
        return done;
      }
      session = await this.#resume(args.uploadId, name, args.size, declared);
    }
    // Taking over an upload that is still receiving (its client reconnected) replaces it: no new slot.
    if (session?.run === undefined && this.#receiving >= o.maxUploads) {
      throw new NexoError(
        'FILES_TOO_MANY_UPLOADS',
        `this node is receiving ${this.#receiving} uploads, its limit; try again in a moment`,
        { limit: o.maxUploads },
      );
    }
    this.#receiving++;
    try {
      session ??= await this.#admit(name, args.size, type, declared, ctx);
      const run = await this.#claim(session);
      // A call we replaced may have finished the upload, or discarded it, meanwhile.
      const uploadId = session.record.uploadId;
      if (this.#sessions.get(uploadId) !== session) {
        this.#release(session, run);
        const finished = this.#completed.get(uploadId);
        if (finished !== undefined) return finished;
        throw notFound(uploadId);
      }
      return await this.#run(session, run, ctx, chunkFrames(ctx, run, session.record));
    } finally {
      this.#receiving--;
    }
  }

  /**
   * Stores a byte stream of unknown length as a new file: an HTTP multipart upload, fed in-process by the
   * gateway. The same admission, slots, ordered appends, running SHA-256, stall watchdog and atomic commit
   * as `files.upload`; what differs is the source (plain bytes: TCP already checks them in transit and there
   * are no chunk headers) and the size, known only at the end. `maxSize` (the request's Content-Length, or
   * the node's limit) is reserved at admission and enforced while the bytes arrive. A stream cannot be
   * resumed: on any failure the partial file is deleted at once and nothing is stored.
   */
  async receiveStream(
    request: StreamUpload,
    source: AsyncIterable<Uint8Array>,
    ctx: CallContext,
  ): Promise<UploadCommitted> {
    const name = normalizeName(request.name);
    const type = normalizeType(request.type);
    const declared = request.sha256?.toLowerCase();
    const o = this.options;
    const bound = Math.min(request.maxSize ?? o.maxFileSize, o.maxFileSize);
    if (this.#receiving >= o.maxUploads) {
      throw new NexoError(
        'FILES_TOO_MANY_UPLOADS',
        `this node is receiving ${this.#receiving} uploads, its limit; try again in a moment`,
        { limit: o.maxUploads },
      );
    }
    this.#receiving++;
    let session: Session | undefined;
    try {
      session = await this.#admit(name, bound, type, declared, ctx, true, request.maxSize === undefined);
      const run = await this.#claim(session);
      const stop = () =>
        run.stop(ctx.signal.reason ?? new NexoError('CANCELLED', 'the upload was cancelled'));
      if (ctx.signal.aborted) stop();
      ctx.signal.addEventListener('abort', stop, { once: true });
      try {
        const reserved = session.record.size;
        const tooLarge = () =>
          reserved < bound
            ? new NexoError(
                'FILES_QUOTA_EXCEEDED',
                `the upload is larger than the ${formatBytes(reserved)} this node had room for; nothing was stored`,
                { reserved },
              )
            : new NexoError(
                'FILES_TOO_LARGE',
                `the upload is larger than ${formatBytes(reserved)}${reserved === o.maxFileSize ? ", this node's largest file" : ''}; nothing was stored`,
                { limit: reserved },
              );
        return await this.#run(session, run, ctx, byteStream(source, run, reserved, tooLarge));
      } finally {
        ctx.signal.removeEventListener('abort', stop);
      }
    } catch (err) {
      if (session !== undefined && this.#sessions.get(session.record.uploadId) === session) {
        await this.#forget(session.record.uploadId).catch((e: unknown) =>
          this.log.warn({ err: e }, 'files: discarding a failed stream upload failed'),
        );
      }
      throw err;
    } finally {
      this.#receiving--;
    }
  }

  /** files.status */
  async status(uploadId: string): Promise<Record<string, unknown>> {
    const done = await this.#committed(uploadId);
    if (done !== undefined)
      return { uploadId, state: 'complete', offset: done.size, size: done.size, file: done };
    const record = this.#sessions.get(uploadId)?.record ?? (await this.catalog.upload(uploadId));
    if (record === undefined) throw notFound(uploadId);
    return {
      uploadId,
      state: this.#sessions.get(uploadId)?.run === undefined ? 'paused' : 'receiving',
      name: record.name,
      size: record.size,
      type: record.type,
      offset: await this.store.partialSize(uploadId),
      expiresAt: new Date(record.touchedAt + this.options.partialExpiryMs).toISOString(),
    };
  }

  /** Deletes unfinished uploads nobody touched for `partialExpiry`. */
  async expire(now = Date.now()): Promise<number> {
    let expired = 0;
    for (const record of await this.catalog.staleUploads(now - this.options.partialExpiryMs)) {
      const session = this.#sessions.get(record.uploadId);
      if (session?.run !== undefined) continue;
      this.#sessions.delete(record.uploadId);
      await this.store.discardPartial(record.uploadId);
      await this.catalog.removeUpload(record.uploadId);
      expired++;
    }
    if (expired > 0) this.log.info({ expired }, 'files: expired unfinished uploads');
    return expired;
  }

  /**
   * After a restart: partial files without a record are leftovers of expired or failed uploads. The partials
   * are listed before the records: an upload admitted meanwhile (on another node sharing the store) has its
   * record before its first byte, so it is either not listed yet or known. Each one is checked again just
   * before it goes, under the admission lock.
   */
  async removeOrphanPartials(): Promise<number> {
    const partials = await this.store.partialIds();
    const known = new Set(await this.catalog.uploadIds());
    let removed = 0;
    for (const id of partials) {
      if (known.has(id) || this.#sessions.has(id)) continue;
      const gone = await this.catalog.exclusive('admission', async () => {
        if ((await this.catalog.upload(id)) !== undefined) return false;
        if ((await this.catalog.committed(id)) !== undefined) return false; // committed meanwhile
        await this.store.discardPartial(id);
        return true;
      });
      if (gone) removed++;
    }
    return removed;
  }

  // ---- starting and resuming ----------------------------------------------------------------------

  async #admit(
    name: string,
    requested: number,
    type: string,
    declared: string | undefined,
    ctx: CallContext,
    /** `requested` is only a bound (a stream of unknown length): true. */
    bound = false,
    /** A bound without a Content-Length behind it: reserve what fits instead of refusing. */
    shrinkToFit = false,
  ): Promise<Session> {
    const sized = !bound;
    return this.catalog.exclusive('admission', async () => {
      let size = requested;
      const quota = this.options.quota;
      // Content already stored costs nothing more once verified (one copy per hash): only a declared hash
      // can tell up front. A false declaration fails verification, so it cannot buy space.
      const known = declared !== undefined && (await this.catalog.refs(declared)) > 0;
      if (quota > 0 && !known) {
        const usage = await this.catalog.usage();
        const used = usage.storedBytes + usage.reservedBytes;
        if (shrinkToFit && used + size > quota && used < quota) size = quota - used;
        if (used + size > quota) {
          throw new NexoError(
            'FILES_QUOTA_EXCEEDED',
            `the file (${formatBytes(size)}) does not fit in this node's quota of ${formatBytes(quota)}: ${formatBytes(used)} is stored or reserved by unfinished uploads`,
            { quota, used, size },
          );
        }
      }
      const free = await this.store.freeBytes();
      if (shrinkToFit && free !== undefined && size + DISK_MARGIN > free && free > DISK_MARGIN) {
        size = free - DISK_MARGIN;
      }
      if (free !== undefined && size + DISK_MARGIN > free) {
        throw new NexoError(
          'FILES_QUOTA_EXCEEDED',
          `the node's disk has ${formatBytes(free)} free; the file needs ${formatBytes(size)} (plus ${formatBytes(DISK_MARGIN)} kept free)`,
          { free, size },
        );
      }
      const now = Date.now();
      const record: UploadRecord = {
        uploadId: randomBytes(16).toString('base64url'),
        name,
        size,
        type,
        sha256: declared,
        uploader: `${ctx.session.role}@${ctx.session.peer.address}`,
        startedAt: now,
        touchedAt: now,
      };
      // Durable before the client hears the id: a restart can always resume what it was told about.
      await this.catalog.addUpload(record);
      const session: Session = { record, sized, declared, hash: undefined, hashed: 0, run: undefined };
      this.#sessions.set(record.uploadId, session);
      return session;
    });
  }

  async #resume(
    uploadId: string,
    name: string,
    size: number,
    declared: string | undefined,
  ): Promise<Session> {
    let session = this.#sessions.get(uploadId);
    if (session === undefined) {
      const record = await this.catalog.upload(uploadId);
      if (record === undefined) throw notFound(uploadId);
      session = this.#sessions.get(uploadId);
      if (session === undefined) {
        session = {
          record,
          sized: true,
          declared: record.sha256,
          hash: undefined,
          hashed: 0,
          run: undefined,
        };
        this.#sessions.set(uploadId, session);
      }
    }
    const r = session.record;
    if (r.size !== size || r.name !== name) throw mismatch(uploadId, r, name, size);
    if (declared !== undefined) {
      if (session.declared !== undefined && session.declared !== declared) {
        throw hashMismatch(uploadId, session.declared, declared);
      }
      session.declared = declared;
    }
    return session;
  }

  /**
   * One call receives an upload at a time: a newer call (the client reconnected) stops an older one and waits
   * for it to finish its last write. The new run is installed in the same turn the slot is seen free, so two
   * calls resuming at once cannot both get it.
   */
  async #claim(session: Session): Promise<Run> {
    while (session.run !== undefined) {
      const older = session.run;
      older.stop(
        new NexoError('CANCELLED', 'this upload was resumed by a newer request (the client reconnected)'),
      );
      await older.done;
    }
    let finish!: () => void;
    const run: Run = {
      stoppedBy: undefined,
      interruptRead: undefined,
      stop(reason) {
        this.stoppedBy ??= reason;
        this.interruptRead?.(reason);
      },
      lastChunkAt: Date.now(),
      done: new Promise<void>((resolve) => {
        finish = resolve;
      }),
      finish: () => finish(),
    };
    session.run = run;
    return run;
  }

  #release(session: Session, run: Run): void {
    if (session.run === run) session.run = undefined;
    run.finish();
  }

  // ---- receiving ----------------------------------------------------------------------------------

  async #run(session: Session, run: Run, ctx: CallContext, source: DataSource): Promise<UploadCommitted> {
    const stallMs = this.options.stallTimeoutMs;
    // A long upload keeps its record fresh, so no node sharing the catalog expires it while it is receiving.
    const touchEvery = this.options.partialExpiryMs / 4;
    let touchedAt = Date.now();
    const watchdog = setInterval(
      () => {
        const now = Date.now();
        if (now - touchedAt > touchEvery) {
          touchedAt = now;
          this.catalog.touchUpload(session.record.uploadId, now).catch(() => {});
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
      const result = await this.#receive(session, run, ctx, source);
      settled = true;
      return result;
    } finally {
      clearInterval(watchdog);
      if (!settled && this.#sessions.get(session.record.uploadId) === session) {
        const at = Date.now();
        session.record.touchedAt = at;
        this.catalog.touchUpload(session.record.uploadId, at).catch(() => {});
      }
      this.#release(session, run);
    }
  }

  async #receive(session: Session, run: Run, ctx: CallContext, source: DataSource): Promise<UploadCommitted> {
    const record = session.record;
    const uploadId = record.uploadId;
    let partial = await this.store.openPartial(uploadId);
    let open = true;
    try {
      if (partial.size > record.size || (!session.sized && partial.size > 0)) {
        // Cannot happen through this code; a damaged or foreign file: start it over.
        await partial.close();
        await this.store.discardPartial(uploadId);
        partial = await this.store.openPartial(uploadId);
        session.hash = undefined;
      }
      let offset = partial.size;
      let hash: Hash;
      if (session.hash !== undefined && session.hashed === offset) hash = session.hash;
      else hash = await this.#rehash(uploadId, offset, ctx.signal);
      session.hash = undefined; // this run owns it now; handed back below if it still matches the file
      const maxChunk = this.maxFrame - CHUNK_HEADER_SIZE;
      ctx.progress({ uploadId, offset, chunkSize: Math.min(DEFAULT_CHUNK_DATA, maxChunk), maxChunk });
      run.lastChunkAt = Date.now();

      const writes = new AppendQueue(partial, MAX_PENDING_WRITES);
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
          this.stats.receivedBytes += data.length;
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

      if (session.sized && offset < record.size) {
        session.hash = hash;
        session.hashed = offset;
        throw new NexoError(
          'FILES_SIZE_MISMATCH',
          `the upload ended at byte ${offset} of the ${record.size} declared; resume from offset ${offset}`,
          { size: record.size, offset, uploadId },
        );
      }
      if (trailer !== undefined && session.declared !== undefined && trailer !== session.declared) {
        // §9.F.7.1 The trailer contradicts the declared hash: a malformed trailer, judged before the bytes'
        // hash. The bytes are kept (they may be right); a resume from `size` can send a trailer that agrees.
        session.hash = hash;
        session.hashed = offset;
        throw new NexoError(
          'FILES_BAD_CHUNK',
          `the END chunk carries SHA-256 ${trailer}, but the upload declared ${session.declared}; resume from offset ${offset} with an END chunk that agrees (or is empty)`,
          { offset, uploadId, sha256: session.declared },
        );
      }
      const fromSender = trailer ?? session.declared;
      if (fromSender === undefined && session.sized) {
        session.hash = hash;
        session.hashed = offset;
        throw new NexoError(
          'FILES_BAD_CHUNK',
          'no SHA-256 to verify the file against: declare sha256 in files.upload or send it in the END chunk',
          { offset, uploadId },
        );
      }
      const actual = hash.digest('hex');
      // A stream whose sender gave no hash is stored under the hash of what arrived.
      const claimed = fromSender ?? actual;
      if (actual !== claimed) {
        await partial.close();
        open = false;
        await this.#forget(uploadId);
        throw new NexoError(
          'FILES_HASH_MISMATCH',
          `the received file's SHA-256 is ${actual}, but ${claimed} was declared; nothing was stored and the upload was discarded: upload the file again`,
          { expected: claimed, actual },
        );
      }
      await partial.sync();
      await partial.close();
      open = false;
      const entry: FileEntry = {
        id: newEntryId(),
        name: record.name,
        size: offset,
        sha256: actual,
        type: record.type,
        uploader: record.uploader,
        uploadedAt: new Date().toISOString(),
      };
      const { firstCopy } = await this.catalog.exclusive(actual, async () => {
        await this.store.commitPartial(uploadId, actual);
        return this.catalog.commit(entry, uploadId);
      });
      this.#sessions.delete(uploadId);
      this.stats.uploads++;
      const result: UploadCommitted = { ...entry, deduplicated: !firstCopy };
      this.#remember(uploadId, result);
      return result;
    } finally {
      if (open) await partial.close();
    }
  }

  /** Rebuilds the running hash of the bytes already received (after a restart or a failed write). */
  async #rehash(uploadId: string, length: number, signal: AbortSignal): Promise<Hash> {
    const hash = createHash('sha256');
    if (length === 0) return hash;
    for await (const bytes of this.store.readPartial(uploadId, length, signal)) hash.update(bytes);
    return hash;
  }

  async #forget(uploadId: string): Promise<void> {
    this.#sessions.delete(uploadId);
    await this.store.discardPartial(uploadId);
    await this.catalog.removeUpload(uploadId);
  }

  /** The result of an upload committed earlier: remembered here, or (another node, a restart) in the catalog. */
  async #committed(uploadId: string): Promise<UploadCommitted | undefined> {
    const done = this.#completed.get(uploadId);
    if (done !== undefined) return done;
    if (this.#sessions.has(uploadId)) return undefined;
    const entry = await this.catalog.committed(uploadId);
    return entry === undefined ? undefined : { ...entry, deduplicated: false };
  }

  #remember(uploadId: string, result: UploadCommitted): void {
    this.#completed.set(uploadId, result);
    if (this.#completed.size > REMEMBER_COMPLETED) {
      this.#completed.delete(this.#completed.keys().next().value as string);
    }
  }
}

/** §9.F.5 A resume (or a repeat of a committed upload, §9.F.10.1) names another file than the upload's. */
function mismatch(
  uploadId: string,
  upload: { readonly name: string; readonly size: number },
  name: string,
  size: number,
): NexoError {
  return new NexoError(
    'FILES_UPLOAD_MISMATCH',
    `upload ${uploadId} was started for '${clip(upload.name, 60)}' (${upload.size} bytes); this request declares '${clip(name, 60)}' (${size} bytes). Start a new upload for a different file`,
    { name: upload.name, size: upload.size },
  );
}

function hashMismatch(uploadId: string, started: string, declared: string): NexoError {
  return new NexoError(
    'FILES_UPLOAD_MISMATCH',
    `upload ${uploadId} was started with SHA-256 ${started}; this request declares ${declared}`,
    { sha256: started },
  );
}

function notFound(uploadId: string): NexoError {
  return new NexoError(
    'FILES_UPLOAD_NOT_FOUND',
    `upload ${uploadId} is unknown or expired; start the upload again without an uploadId`,
    { uploadId },
  );
}
