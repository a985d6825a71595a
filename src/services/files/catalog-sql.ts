/**
 * The catalog's SQL, run synchronously by better-sqlite3 inside the catalog worker thread (never on the
 * event loop: with synchronous=FULL every commit waits for an fsync). One function per operation; the worker
 * maps messages onto them.
 */
import Database from 'better-sqlite3';
import type { FileEntry } from '../../wire/files.js';
import type { ListQuery, Usage } from './catalog.js';
import type { UploadRecord } from './model.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS files (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  size        INTEGER NOT NULL,
  sha256      TEXT NOT NULL,
  type        TEXT NOT NULL,
  uploader    TEXT NOT NULL,
  uploaded_at TEXT NOT NULL,
  upload_id   TEXT
);
CREATE INDEX IF NOT EXISTS files_by_name ON files (name);
CREATE INDEX IF NOT EXISTS files_by_sha256 ON files (sha256);
CREATE TABLE IF NOT EXISTS blobs (
  sha256 TEXT PRIMARY KEY,
  size   INTEGER NOT NULL,
  refs   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
  upload_id  TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  size       INTEGER NOT NULL,
  type       TEXT NOT NULL,
  sha256     TEXT,
  uploader   TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  touched_at INTEGER NOT NULL
);
`;

interface UploadRow {
  upload_id: string;
  name: string;
  size: number;
  type: string;
  sha256: string | null;
  uploader: string;
  started_at: number;
  touched_at: number;
}

interface FileRow {
  id: string;
  name: string;
  size: number;
  sha256: string;
  type: string;
  uploader: string;
  uploaded_at: string;
}

const toEntry = (r: FileRow): FileEntry => ({
  id: r.id,
  name: r.name,
  size: r.size,
  sha256: r.sha256,
  type: r.type,
  uploader: r.uploader,
  uploadedAt: r.uploaded_at,
});

const toUpload = (r: UploadRow): UploadRecord => ({
  uploadId: r.upload_id,
  name: r.name,
  size: r.size,
  type: r.type,
  sha256: r.sha256 ?? undefined,
  uploader: r.uploader,
  startedAt: r.started_at,
  touchedAt: r.touched_at,
});

// Newest first; rowid breaks ties between entries committed in the same millisecond.
const NEWEST = 'ORDER BY uploaded_at DESC, rowid DESC';

/** FileCatalog's operations, synchronous (they run in the catalog thread). */
export interface CatalogDb {
  close(): void;
  commit(entry: FileEntry, uploadId: string | undefined): { firstCopy: boolean };
  remove(id: string): { entry: FileEntry; refsLeft: number } | undefined;
  byId(id: string): FileEntry | undefined;
  byName(name: string, limit: number): { entries: FileEntry[]; count: number };
  bySha256(sha256: string): FileEntry | undefined;
  list(query: ListQuery): { files: FileEntry[]; total: number };
  usage(): Usage;
  refs(sha256: string): number;
  addUpload(record: UploadRecord): void;
  upload(uploadId: string): UploadRecord | undefined;
  touchUpload(uploadId: string, at: number): void;
  removeUpload(uploadId: string): void;
  staleUploads(before: number): UploadRecord[];
  uploadIds(): string[];
  committed(uploadId: string): FileEntry | undefined;
}

export type CatalogOp = Exclude<keyof CatalogDb, 'close'>;

export function openCatalogDb(file: string): CatalogDb {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // An acknowledged upload must survive a crash of the machine, not only of the process.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  // Catalogs made before entries remembered their upload: add the column (SQLite has no IF NOT EXISTS here).
  const columns = db.prepare('PRAGMA table_info(files)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'upload_id')) db.exec('ALTER TABLE files ADD COLUMN upload_id TEXT');
  db.exec('CREATE INDEX IF NOT EXISTS files_by_upload ON files (upload_id)');

  const s = {
    insertFile: db.prepare(
      'INSERT INTO files (id, name, size, sha256, type, uploader, uploaded_at, upload_id) VALUES (@id, @name, @size, @sha256, @type, @uploader, @uploadedAt, @uploadId)',
    ),
    addRef: db.prepare(
      'INSERT INTO blobs (sha256, size, refs) VALUES (?, ?, 1) ON CONFLICT (sha256) DO UPDATE SET refs = refs + 1 RETURNING refs',
    ),
    dropRef: db.prepare('UPDATE blobs SET refs = refs - 1 WHERE sha256 = ? RETURNING refs'),
    deleteBlob: db.prepare('DELETE FROM blobs WHERE sha256 = ? AND refs <= 0'),
    refs: db.prepare('SELECT refs FROM blobs WHERE sha256 = ?'),
    byId: db.prepare('SELECT * FROM files WHERE id = ?'),
    deleteFile: db.prepare('DELETE FROM files WHERE id = ?'),
    byName: db.prepare(`SELECT * FROM files WHERE name = ? ${NEWEST} LIMIT ?`),
    countName: db.prepare('SELECT count(*) AS n FROM files WHERE name = ?'),
    bySha: db.prepare(`SELECT * FROM files WHERE sha256 = ? ${NEWEST} LIMIT 1`),
    list: db.prepare(`SELECT * FROM files ${NEWEST} LIMIT ? OFFSET ?`),
    count: db.prepare('SELECT count(*) AS n FROM files'),
    listPrefix: db.prepare(
      `SELECT * FROM files WHERE substr(name, 1, length(@prefix)) = @prefix ${NEWEST} LIMIT @limit OFFSET @offset`,
    ),
    countPrefix: db.prepare('SELECT count(*) AS n FROM files WHERE substr(name, 1, length(?)) = ?'),
    stored: db.prepare('SELECT coalesce(sum(size), 0) AS n FROM blobs'),
    reserved: db.prepare('SELECT coalesce(sum(size), 0) AS n FROM uploads'),
    insertUpload: db.prepare(
      'INSERT INTO uploads (upload_id, name, size, type, sha256, uploader, started_at, touched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    upload: db.prepare('SELECT * FROM uploads WHERE upload_id = ?'),
    touchUpload: db.prepare('UPDATE uploads SET touched_at = ? WHERE upload_id = ?'),
    deleteUpload: db.prepare('DELETE FROM uploads WHERE upload_id = ?'),
    staleUploads: db.prepare('SELECT * FROM uploads WHERE touched_at < ?'),
    uploadIds: db.prepare('SELECT upload_id FROM uploads'),
    committed: db.prepare('SELECT * FROM files WHERE upload_id = ? LIMIT 1'),
  };

  const commit = db.transaction((entry: FileEntry, uploadId: string | undefined) => {
    s.insertFile.run({ ...entry, uploadId: uploadId ?? null });
    const { refs } = s.addRef.get(entry.sha256, entry.size) as { refs: number };
    if (uploadId !== undefined) s.deleteUpload.run(uploadId);
    return { firstCopy: refs === 1 };
  });

  const remove = db.transaction((id: string) => {
    const row = s.byId.get(id) as FileRow | undefined;
    if (row === undefined) return undefined;
    s.deleteFile.run(id);
    const left = s.dropRef.get(row.sha256) as { refs: number } | undefined;
    const refsLeft = left?.refs ?? 0;
    if (refsLeft <= 0) s.deleteBlob.run(row.sha256);
    return { entry: toEntry(row), refsLeft: Math.max(0, refsLeft) };
  });

  return {
    close: () => db.close(),
    commit: (entry: FileEntry, uploadId: string | undefined) => commit(entry, uploadId),
    remove: (id: string) => remove(id),
    byId: (id: string) => {
      const row = s.byId.get(id) as FileRow | undefined;
      return row === undefined ? undefined : toEntry(row);
    },
    byName: (name: string, limit: number) => ({
      entries: (s.byName.all(name, limit) as FileRow[]).map(toEntry),
      count: (s.countName.get(name) as { n: number }).n,
    }),
    bySha256: (sha256: string) => {
      const row = s.bySha.get(sha256) as FileRow | undefined;
      return row === undefined ? undefined : toEntry(row);
    },
    list: (q: ListQuery) => {
      if (q.prefix === undefined || q.prefix === '') {
        return {
          files: (s.list.all(q.limit, q.offset) as FileRow[]).map(toEntry),
          total: (s.count.get() as { n: number }).n,
        };
      }
      return {
        files: (s.listPrefix.all({ prefix: q.prefix, limit: q.limit, offset: q.offset }) as FileRow[]).map(
          toEntry,
        ),
        total: (s.countPrefix.get(q.prefix, q.prefix) as { n: number }).n,
      };
    },
    usage: (): Usage => ({
      storedBytes: (s.stored.get() as { n: number }).n,
      reservedBytes: (s.reserved.get() as { n: number }).n,
      files: (s.count.get() as { n: number }).n,
    }),
    refs: (sha256: string) => (s.refs.get(sha256) as { refs: number } | undefined)?.refs ?? 0,
    addUpload: (r: UploadRecord) => {
      s.insertUpload.run(
        r.uploadId,
        r.name,
        r.size,
        r.type,
        r.sha256 ?? null,
        r.uploader,
        r.startedAt,
        r.touchedAt,
      );
    },
    upload: (uploadId: string) => {
      const row = s.upload.get(uploadId) as UploadRow | undefined;
      return row === undefined ? undefined : toUpload(row);
    },
    touchUpload: (uploadId: string, at: number) => {
      s.touchUpload.run(at, uploadId);
    },
    removeUpload: (uploadId: string) => {
      s.deleteUpload.run(uploadId);
    },
    staleUploads: (before: number) => (s.staleUploads.all(before) as UploadRow[]).map(toUpload),
    uploadIds: () => (s.uploadIds.all() as { upload_id: string }[]).map((r) => r.upload_id),
    committed: (uploadId: string) => {
      const row = s.committed.get(uploadId) as FileRow | undefined;
      return row === undefined ? undefined : toEntry(row);
    },
  };
}
