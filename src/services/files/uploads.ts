import type { Static } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { CallContext } from '../../contract/service.js';
import { NexoError } from '../../errors.js';
import type { FilesOptions } from '../../options/options.js';
import { formatBytes } from '../../util/format-bytes.js';
import type { UploadCommitted } from '../../wire/files.js';
import type { FileCatalog } from './catalog.js';
import { newTransferStats, type TransferStats, type UploadArgs } from './model.js';
import { normalizeName, normalizeType } from './names.js';
import type { FileStore } from './store.js';
import { UploadAdmission } from './upload-admission.js';
import { hashMismatch, mismatch, notFound } from './upload-errors.js';
import { type ReceiveParts, receiveUpload } from './upload-receive.js';
import { type Session, UploadSessions } from './upload-sessions.js';
import { byteStream, chunkFrames, type StreamUpload } from './upload-sources.js';

export type { StreamUpload };

/**
 * Upload sessions: admission (size, quota, disk, concurrency: refused before the client sends a byte;
 * upload-admission.ts), the receiving loop (offset and CRC-32 of every chunk, sequential appends, running
 * SHA-256; upload-receive.ts), resume (upload-sessions.ts), commit (upload-commit.ts), and expiry of what was
 * abandoned.
 */
export class Uploads {
  readonly #sessions: UploadSessions;
  readonly #admission: UploadAdmission;
  readonly #parts: ReceiveParts;

  constructor(
    private readonly store: FileStore,
    private readonly catalog: FileCatalog,
    private readonly options: FilesOptions,
    maxFrame: number,
    private readonly log: Logger,
    stats: TransferStats = newTransferStats(),
  ) {
    this.#sessions = new UploadSessions(store, catalog);
    this.#admission = new UploadAdmission(store, catalog, options, this.#sessions);
    this.#parts = { store, catalog, options, maxFrame, stats, sessions: this.#sessions };
  }

  /** Uploads receiving right now. */
  get receiving(): number {
    return this.#admission.receiving;
  }

  /** files.upload: see docs/protocol.md §9 for the exchange. */
  async receive(args: Static<typeof UploadArgs>, ctx: CallContext): Promise<UploadCommitted> {
    const name = normalizeName(args.name);
    const type = normalizeType(args.type);
    const declared = args.sha256?.toLowerCase();
    this.#admission.checkSize(args.size);
    let session: Session | undefined;
    if (args.uploadId !== undefined) {
      const done = await this.#sessions.committed(args.uploadId);
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
      session = await this.#sessions.resume(args.uploadId, name, args.size, declared);
    }
    // Taking over an upload that is still receiving (its client reconnected) replaces it: no new slot.
    this.#admission.enter(session?.run !== undefined);
    try {
      session ??= await this.#admission.admit(name, args.size, type, declared, ctx);
      const run = await this.#sessions.claim(session);
      // A call we replaced may have finished the upload, or discarded it, meanwhile.
      const uploadId = session.record.uploadId;
      if (!this.#sessions.current(session)) {
        this.#sessions.release(session, run);
        const finished = this.#sessions.completed(uploadId);
        if (finished !== undefined) return finished;
        throw notFound(uploadId);
      }
      return await receiveUpload(this.#parts, session, run, ctx, chunkFrames(ctx, run, session.record));
    } finally {
      this.#admission.leave();
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
    this.#admission.enter();
    let session: Session | undefined;
    try {
      session = await this.#admission.admit(
        name,
        bound,
        type,
        declared,
        ctx,
        true,
        request.maxSize === undefined,
      );
      const run = await this.#sessions.claim(session);
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
        return await receiveUpload(
          this.#parts,
          session,
          run,
          ctx,
          byteStream(source, run, reserved, tooLarge),
        );
      } finally {
        ctx.signal.removeEventListener('abort', stop);
      }
    } catch (err) {
      if (session !== undefined && this.#sessions.current(session)) {
        await this.#sessions
          .forget(session.record.uploadId)
          .catch((e: unknown) =>
            this.log.warn({ err: e }, 'files: discarding a failed stream upload failed'),
          );
      }
      throw err;
    } finally {
      this.#admission.leave();
    }
  }

  /** files.status */
  async status(uploadId: string): Promise<Record<string, unknown>> {
    const done = await this.#sessions.committed(uploadId);
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
}
