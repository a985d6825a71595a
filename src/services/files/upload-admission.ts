import { randomBytes } from 'node:crypto';
import type { CallContext } from '../../contract/service.js';
import { NexoError } from '../../errors.js';
import type { FilesOptions } from '../../options/options.js';
import { formatBytes } from '../../util/format-bytes.js';
import type { FileCatalog } from './catalog.js';
import type { UploadRecord } from './model.js';
import type { FileStore } from './store.js';
import type { Session, UploadSessions } from './upload-sessions.js';

/** Space left free on the disk besides what uploads declare, so the node never fills it completely. */
const DISK_MARGIN = 64 * 1024 * 1024;

/**
 * What an upload must pass before the client sends a byte: the largest file, a receiving slot (maxUploads),
 * the quota and the disk; an admitted upload has its record in the catalog before its id is told.
 */
export class UploadAdmission {
  #receiving = 0;

  constructor(
    private readonly store: FileStore,
    private readonly catalog: FileCatalog,
    private readonly options: FilesOptions,
    private readonly sessions: UploadSessions,
  ) {}

  /** Uploads receiving right now. */
  get receiving(): number {
    return this.#receiving;
  }

  /** FILES_TOO_LARGE for a file over maxFileSize. */
  checkSize(size: number): void {
    const max = this.options.maxFileSize;
    if (size > max) {
      throw new NexoError(
        'FILES_TOO_LARGE',
        `the file is ${formatBytes(size)}; this node accepts files up to ${formatBytes(max)}`,
        { limit: max, size },
      );
    }
  }

  /**
   * Takes a receiving slot, or refuses with FILES_TOO_MANY_UPLOADS. `takeover`: the call replaces one still
   * receiving the same upload (its client reconnected), whose slot it inherits, so it is never refused.
   * Every slot taken is given back with `leave`.
   */
  enter(takeover = false): void {
    if (!takeover && this.#receiving >= this.options.maxUploads) {
      throw new NexoError(
        'FILES_TOO_MANY_UPLOADS',
        `this node is receiving ${this.#receiving} uploads, its limit; try again in a moment`,
        { limit: this.options.maxUploads },
      );
    }
    this.#receiving++;
  }

  leave(): void {
    this.#receiving--;
  }

  /** A new upload of `requested` bytes, if the quota and the disk have room: its record and session. */
  async admit(
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
      return this.sessions.open(record, sized, declared);
    });
  }
}
