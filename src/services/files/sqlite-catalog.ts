import { Piscina } from 'piscina';
import { NexoError } from '../../errors.js';
import type { FileEntry } from '../../wire/files.js';
import type { FileCatalog, ListQuery, Usage } from './catalog.js';
import type { CatalogOp } from './catalog-sql.js';
import type { CatalogTask } from './catalog-worker.js';
import { KeyedLock } from './keyed-lock.js';
import type { UploadRecord } from './model.js';

/**
 * FileCatalog on an embedded SQLite file (`<dataDir>/files/catalog.sqlite`), queried from its own thread
 * (a one-thread piscina pool, so operations run one at a time and in order). Each call costs a message round
 * trip (~0.1 ms); a commit also waits for its fsync, off the event loop.
 */
export class SqliteCatalog implements FileCatalog {
  #pool: Piscina | undefined;
  /** One node owns an embedded catalog: an in-process lock is enough. */
  readonly #locks = new KeyedLock();

  constructor(readonly file: string) {}

  async open(): Promise<void> {
    const source = import.meta.url.endsWith('.ts');
    this.#pool = new Piscina({
      filename: new URL(source ? './catalog-worker.ts' : './catalog-worker.js', import.meta.url).href,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      // From TypeScript sources (tests) the thread needs the tsx loader, as in WorkerPool.
      ...(source ? { execArgv: ['--import', 'tsx'] } : {}),
    });
    // The first call proves the database opened (a corrupt file or a full disk shows here, at start).
    await this.usage();
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    if (pool === undefined) return;
    try {
      await this.#call('close', []);
    } finally {
      this.#pool = undefined;
      await pool.destroy();
    }
  }

  commit(entry: FileEntry, uploadId: string | undefined): Promise<{ firstCopy: boolean }> {
    return this.#call('commit', [entry, uploadId]);
  }
  remove(id: string): Promise<{ entry: FileEntry; refsLeft: number } | undefined> {
    return this.#call('remove', [id]);
  }
  byId(id: string): Promise<FileEntry | undefined> {
    return this.#call('byId', [id]);
  }
  byName(name: string, limit: number): Promise<{ entries: FileEntry[]; count: number }> {
    return this.#call('byName', [name, limit]);
  }
  bySha256(sha256: string): Promise<FileEntry | undefined> {
    return this.#call('bySha256', [sha256]);
  }
  list(query: ListQuery): Promise<{ files: FileEntry[]; total: number }> {
    return this.#call('list', [query]);
  }
  usage(): Promise<Usage> {
    return this.#call('usage', []);
  }
  refs(sha256: string): Promise<number> {
    return this.#call('refs', [sha256]);
  }
  addUpload(record: UploadRecord): Promise<void> {
    return this.#call('addUpload', [record]);
  }
  upload(uploadId: string): Promise<UploadRecord | undefined> {
    return this.#call('upload', [uploadId]);
  }
  touchUpload(uploadId: string, at: number): Promise<void> {
    return this.#call('touchUpload', [uploadId, at]);
  }
  removeUpload(uploadId: string): Promise<void> {
    return this.#call('removeUpload', [uploadId]);
  }
  staleUploads(before: number): Promise<UploadRecord[]> {
    return this.#call('staleUploads', [before]);
  }
  uploadIds(): Promise<string[]> {
    return this.#call('uploadIds', []);
  }
  committed(uploadId: string): Promise<FileEntry | undefined> {
    return this.#call('committed', [uploadId]);
  }
  exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.#locks.run(key, work);
  }

  async #call<T>(op: CatalogOp | 'close', args: unknown[]): Promise<T> {
    const pool = this.#pool;
    if (pool === undefined) throw new NexoError('INTERNAL_ERROR', 'the file catalog is not open');
    const task: CatalogTask = { file: this.file, op, args };
    try {
      return (await pool.run(task)) as T;
    } catch (err) {
      throw new NexoError('INTERNAL_ERROR', `file catalog: ${(err as Error).message}`, undefined, {
        cause: err,
      });
    }
  }
}
