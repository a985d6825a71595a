import { migrate } from '../../../storage/postgres/migrations.js';
import type { Postgres, Queryable } from '../../../storage/postgres/postgres.js';
import type { FileEntry } from '../../../wire/files.js';
import type { FileCatalog, ListQuery, Usage } from '../catalog.js';
import { KeyedLock } from '../keyed-lock.js';
import type { UploadRecord } from '../model.js';
import { FILES_MIGRATIONS } from './migrations.js';

interface EntryRow {
  id: string;
  name: string;
  size: string;
  sha256: string;
  type: string;
  uploader: string;
  uploaded_at: string;
}

interface UploadRow {
  upload_id: string;
  name: string;
  size: string;
  type: string;
  sha256: string | null;
  uploader: string;
  started_at: string;
  touched_at: string;
}

const ENTRY = 'id, name, size, sha256, type, uploader, uploaded_at';
const NEWEST = 'ORDER BY uploaded_at DESC, seq DESC';
/** Advisory lock keys of this catalog: the namespace and the schema, so tests in other schemas never wait. */
const LOCK = "hashtextextended('nexo_files:' || current_schema() || ':' || $1, 0)";
/**
 * `exclusive` holders at once from this node. Each holds one pooled connection for its lock while its work
 * uses others; bounded below the pool's size so holders can never take every connection and wait forever.
 */
const MAX_HOLDERS = 3;

const toEntry = (r: EntryRow): FileEntry => ({
  id: r.id,
  name: r.name,
  size: Number(r.size),
  sha256: r.sha256,
  type: r.type,
  uploader: r.uploader,
  uploadedAt: r.uploaded_at,
});

const toUpload = (r: UploadRow): UploadRecord => ({
  uploadId: r.upload_id,
  name: r.name,
  size: Number(r.size),
  type: r.type,
  sha256: r.sha256 ?? undefined,
  uploader: r.uploader,
  startedAt: Number(r.started_at),
  touchedAt: Number(r.touched_at),
});

/**
 * FileCatalog in PostgreSQL, shared by every node of a cluster: entries, content reference counts and
 * unfinished uploads (so a resume can reach any node). Commit and remove are one transaction each; the
 * reference count is a row updated in place, so concurrent commits of the same content on several nodes
 * queue on its row lock and count right.
 *
 * `exclusive` is a PostgreSQL session advisory lock (pg_advisory_lock) held on one pooled connection for the
 * duration of the work: every node sharing the schema waits for it, and a node that dies releases it with its
 * connection. Writes that are not idempotent (commit, remove, addUpload) are not retried by the pool: a
 * dropped connection after COMMIT would apply them twice; the caller gets STORAGE_UNAVAILABLE (retryable).
 */
export class PostgresFileCatalog implements FileCatalog {
  /** Queues holders beyond MAX_HOLDERS, and serializes same-key holders of this node without a connection. */
  readonly #local = new KeyedLock();
  #holders = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(private readonly db: Postgres) {}

  async open(): Promise<void> {
    await migrate(this.db, { component: 'files', migrations: FILES_MIGRATIONS });
  }

  async close(): Promise<void> {
    // The pool is the node's; nothing of our own to close.
  }

  async commit(entry: FileEntry, uploadId: string | undefined): Promise<{ firstCopy: boolean }> {
    return this.db.transaction(
      async (tx) => {
        await tx.query(
          `INSERT INTO files_entries (${ENTRY}, upload_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            entry.id,
            entry.name,
            entry.size,
            entry.sha256,
            entry.type,
            entry.uploader,
            entry.uploadedAt,
            uploadId ?? null,
          ],
        );
        const refs = await tx.query<{ refs: number }>(
          `INSERT INTO files_blobs AS b (sha256, size, refs) VALUES ($1, $2, 1)
           ON CONFLICT (sha256) DO UPDATE SET refs = b.refs + 1 RETURNING refs`,
          [entry.sha256, entry.size],
        );
        if (uploadId !== undefined) {
          await tx.query('DELETE FROM files_uploads WHERE upload_id = $1', [uploadId]);
        }
        return { firstCopy: refs.rows[0]!.refs === 1 };
      },
      { retry: false },
    );
  }

  async remove(id: string): Promise<{ entry: FileEntry; refsLeft: number } | undefined> {
    return this.db.transaction(
      async (tx) => {
        const gone = await tx.query<EntryRow>(`DELETE FROM files_entries WHERE id = $1 RETURNING ${ENTRY}`, [
          id,
        ]);
        const row = gone.rows[0];
        if (row === undefined) return undefined;
        const left = await tx.query<{ refs: number }>(
          'UPDATE files_blobs SET refs = refs - 1 WHERE sha256 = $1 RETURNING refs',
          [row.sha256],
        );
        const refsLeft = left.rows[0]?.refs ?? 0;
        if (refsLeft <= 0) await tx.query('DELETE FROM files_blobs WHERE sha256 = $1', [row.sha256]);
        return { entry: toEntry(row), refsLeft: Math.max(0, refsLeft) };
      },
      { retry: false },
    );
  }

  async byId(id: string): Promise<FileEntry | undefined> {
    return this.#one(`SELECT ${ENTRY} FROM files_entries WHERE id = $1`, [id]);
  }

  async byName(name: string, limit: number): Promise<{ entries: FileEntry[]; count: number }> {
    const [rows, count] = await Promise.all([
      this.db.query<EntryRow>(`SELECT ${ENTRY} FROM files_entries WHERE name = $1 ${NEWEST} LIMIT $2`, [
        name,
        limit,
      ]),
      this.db.query<{ n: string }>('SELECT count(*) AS n FROM files_entries WHERE name = $1', [name]),
    ]);
    return { entries: rows.rows.map(toEntry), count: Number(count.rows[0]!.n) };
  }

  async bySha256(sha256: string): Promise<FileEntry | undefined> {
    return this.#one(`SELECT ${ENTRY} FROM files_entries WHERE sha256 = $1 ${NEWEST} LIMIT 1`, [sha256]);
  }

  async list(query: ListQuery): Promise<{ files: FileEntry[]; total: number }> {
    const prefix = query.prefix ?? '';
    // starts_with, not LIKE: a name may contain % and _.
    const where = prefix === '' ? '' : 'WHERE starts_with(name, $1)';
    const args = prefix === '' ? [] : [prefix];
    const n = args.length;
    const [rows, count] = await Promise.all([
      this.db.query<EntryRow>(
        `SELECT ${ENTRY} FROM files_entries ${where} ${NEWEST} LIMIT $${n + 1} OFFSET $${n + 2}`,
        [...args, query.limit, query.offset],
      ),
      this.db.query<{ n: string }>(`SELECT count(*) AS n FROM files_entries ${where}`, args),
    ]);
    return { files: rows.rows.map(toEntry), total: Number(count.rows[0]!.n) };
  }

  async usage(): Promise<Usage> {
    const r = await this.db.query<{ stored: string; reserved: string; files: string }>(
      `SELECT (SELECT coalesce(sum(size), 0) FROM files_blobs) AS stored,
              (SELECT coalesce(sum(size), 0) FROM files_uploads) AS reserved,
              (SELECT count(*) FROM files_entries) AS files`,
    );
    const row = r.rows[0]!;
    return { storedBytes: Number(row.stored), reservedBytes: Number(row.reserved), files: Number(row.files) };
  }

  async refs(sha256: string): Promise<number> {
    const r = await this.db.query<{ refs: number }>('SELECT refs FROM files_blobs WHERE sha256 = $1', [
      sha256,
    ]);
    return r.rows[0]?.refs ?? 0;
  }

  async addUpload(r: UploadRecord): Promise<void> {
    // Idempotent (the id is fresh and random), so a retry after a dropped connection is safe.
    await this.db.query(
      `INSERT INTO files_uploads (upload_id, name, size, type, sha256, uploader, started_at, touched_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (upload_id) DO NOTHING`,
      [r.uploadId, r.name, r.size, r.type, r.sha256 ?? null, r.uploader, r.startedAt, r.touchedAt],
    );
  }

  async upload(uploadId: string): Promise<UploadRecord | undefined> {
    const r = await this.db.query<UploadRow>('SELECT * FROM files_uploads WHERE upload_id = $1', [uploadId]);
    return r.rows[0] === undefined ? undefined : toUpload(r.rows[0]);
  }

  async touchUpload(uploadId: string, at: number): Promise<void> {
    // GREATEST: two nodes touching out of order never move the time back.
    await this.db.query(
      'UPDATE files_uploads SET touched_at = GREATEST(touched_at, $2) WHERE upload_id = $1',
      [uploadId, at],
    );
  }

  async removeUpload(uploadId: string): Promise<void> {
    await this.db.query('DELETE FROM files_uploads WHERE upload_id = $1', [uploadId]);
  }

  async staleUploads(before: number): Promise<UploadRecord[]> {
    const r = await this.db.query<UploadRow>('SELECT * FROM files_uploads WHERE touched_at < $1', [before]);
    return r.rows.map(toUpload);
  }

  async uploadIds(): Promise<string[]> {
    const r = await this.db.query<{ upload_id: string }>('SELECT upload_id FROM files_uploads');
    return r.rows.map((row) => row.upload_id);
  }

  async committed(uploadId: string): Promise<FileEntry | undefined> {
    return this.#one(`SELECT ${ENTRY} FROM files_entries WHERE upload_id = $1 LIMIT 1`, [uploadId]);
  }

  exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    // Same-key callers of this node queue here first, so they do not each hold a connection waiting.
    return this.#local.run(key, async () => {
      await this.#slot();
      try {
        return await this.db.transaction(
          async (tx) => {
            await this.#lock(tx, key);
            return work();
          },
          { retry: false },
        );
      } finally {
        this.#holders--;
        this.#waiting.shift()?.();
      }
    });
  }

  /**
   * A transaction-scoped advisory lock: released by the transaction's end, also when the connection drops
   * (a node that dies mid-work holds nothing). The transaction runs nothing else.
   */
  async #lock(tx: Queryable, key: string): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(${LOCK})`, [key]);
  }

  async #slot(): Promise<void> {
    while (this.#holders >= MAX_HOLDERS) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#holders++;
  }

  async #one(text: string, values: unknown[]): Promise<FileEntry | undefined> {
    const r = await this.db.query<EntryRow>(text, values);
    return r.rows[0] === undefined ? undefined : toEntry(r.rows[0]);
  }
}
