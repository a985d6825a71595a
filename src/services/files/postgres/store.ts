import { NexoError } from '../../../errors.js';
import { migrate } from '../../../storage/postgres/migrations.js';
import type { Postgres } from '../../../storage/postgres/postgres.js';
import type { BlobReader, FileStore, PartialFile } from '../store.js';
import { CONTENT_MIGRATIONS } from './content-migrations.js';

/** Largest chunk row: appends are cut into rows of at most this. */
export const ROW_BYTES = 1 << 20;
/** Bytes a reader fetches at once (and keeps for the reads that follow): memory per open reader. */
const WINDOW_BYTES = 2 * ROW_BYTES;
const HASH = /^[0-9a-f]{64}$/;
const UPLOAD_ID = /^[A-Za-z0-9_-]{22}$/;
/** blobHashes pages through the content this many at a time. */
const PAGE = 1000;

interface ChunkRow {
  pos: string;
  data: Buffer;
}

/**
 * FileStore in PostgreSQL (docs/architecture.md, "Shared file contents"): every node of a cluster reads and
 * appends the same bytes, so any node serves any file and resumes any upload.
 *
 * - An append is ONE statement (one transaction): the object's size moves from the size this writer knows
 *   to the new one and the rows go in, or nothing happens. When it resolves the bytes are committed
 *   (synchronous_commit), so the offset any node reports for a resume is durable: the bytes survive the
 *   death of the node that received them. The size condition is also a fence: if another node took the
 *   upload over and appended meanwhile, this writer's append changes nothing and fails.
 * - Commit renames the object (upload id → content hash) in one UPDATE: readers see no content or all of it.
 * - Reads fetch a window of rows (2 MiB) from the row holding the position, so memory does not grow with the
 *   file and sequential readers (downloads, HTTP Range) make one query per window.
 */
export class PostgresFileStore implements FileStore {
  constructor(private readonly db: Postgres) {}

  async init(): Promise<void> {
    await migrate(this.db, { component: 'files_content', migrations: CONTENT_MIGRATIONS });
  }

  async openPartial(uploadId: string): Promise<PartialFile> {
    checkUpload(uploadId);
    await this.db.query(
      'INSERT INTO files_objects (upload_id) VALUES ($1) ON CONFLICT (upload_id) DO NOTHING',
      [uploadId],
    );
    const r = await this.db.query<{ id: string; size: string }>(
      'SELECT id, size FROM files_objects WHERE upload_id = $1',
      [uploadId],
    );
    const row = r.rows[0];
    if (row === undefined) throw gone(uploadId); // committed or discarded between the two statements
    return new PostgresPartialFile(this.db, uploadId, row.id, Number(row.size));
  }

  async *readPartial(uploadId: string, length: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    checkUpload(uploadId);
    const object = await this.#object('upload_id', uploadId);
    if (object === undefined || object.size < length) {
      throw new Error(`partial upload ${uploadId} is shorter than ${length} bytes`);
    }
    let position = 0;
    while (position < length) {
      signal?.throwIfAborted();
      const rows = await this.#rows(object.id, position, Math.min(WINDOW_BYTES, length - position));
      if (rows.length === 0) throw new Error(`partial upload ${uploadId} has no bytes at ${position}`);
      for (const row of rows) {
        const start = position - Number(row.pos);
        const bytes = row.data.subarray(start, Math.min(row.data.length, start + length - position));
        if (start < 0 || bytes.length === 0)
          throw new Error(`partial upload ${uploadId}: gap at ${position}`);
        position += bytes.length;
        yield bytes;
        if (position >= length) break;
      }
    }
  }

  async partialSize(uploadId: string): Promise<number> {
    checkUpload(uploadId);
    return (await this.#object('upload_id', uploadId))?.size ?? 0;
  }

  async discardPartial(uploadId: string): Promise<void> {
    checkUpload(uploadId);
    await this.db.query('DELETE FROM files_objects WHERE upload_id = $1', [uploadId]);
  }

  async partialIds(): Promise<string[]> {
    const r = await this.db.query<{ upload_id: string }>(
      'SELECT upload_id FROM files_objects WHERE upload_id IS NOT NULL',
    );
    return r.rows.map((row) => row.upload_id);
  }

  async commitPartial(uploadId: string, sha256: string): Promise<void> {
    checkUpload(uploadId);
    checkHash(sha256);
    await this.db.transaction(async (tx) => {
      const stored = await tx.query('SELECT 1 FROM files_objects WHERE sha256 = $1', [sha256]);
      if (stored.rows.length > 0) {
        // The same content is already stored (a verified hash names it): keep one copy.
        await tx.query('DELETE FROM files_objects WHERE upload_id = $1', [uploadId]);
        return;
      }
      const moved = await tx.query(
        'UPDATE files_objects SET sha256 = $2, upload_id = NULL WHERE upload_id = $1',
        [uploadId, sha256],
      );
      // (Run again after a dropped connection that had committed, the SELECT above finds the content.)
      if (moved.rowCount === 0) throw gone(uploadId);
    });
  }

  async openBlob(sha256: string): Promise<BlobReader | undefined> {
    checkHash(sha256);
    const object = await this.#object('sha256', sha256);
    if (object === undefined) return undefined;
    return new WindowReader(object.size, (position, length) => this.#rows(object.id, position, length));
  }

  async deleteBlob(sha256: string): Promise<void> {
    checkHash(sha256);
    await this.db.query('DELETE FROM files_objects WHERE sha256 = $1', [sha256]);
  }

  async *blobHashes(): AsyncIterable<string> {
    let after = '';
    for (;;) {
      const r = await this.db.query<{ sha256: string }>(
        'SELECT sha256 FROM files_objects WHERE sha256 > $1 ORDER BY sha256 LIMIT $2',
        [after, PAGE],
      );
      for (const row of r.rows) yield row.sha256;
      if (r.rows.length < PAGE) return;
      after = r.rows.at(-1)!.sha256;
    }
  }

  async freeBytes(): Promise<number | undefined> {
    return undefined; // the database's disk is not ours to see
  }

  async #object(column: 'upload_id' | 'sha256', key: string) {
    const r = await this.db.query<{ id: string; size: string }>(
      `SELECT id, size FROM files_objects WHERE ${column} = $1`,
      [key],
    );
    const row = r.rows[0];
    return row === undefined ? undefined : { id: row.id, size: Number(row.size) };
  }

  /** The rows holding bytes [position, position + length), in order: the row with `position`, then on. */
  async #rows(objectId: string, position: number, length: number): Promise<ChunkRow[]> {
    const r = await this.db.query<ChunkRow>(
      `SELECT pos, data FROM files_chunks
        WHERE object_id = $1 AND pos < $3
          AND pos >= (SELECT max(pos) FROM files_chunks WHERE object_id = $1 AND pos <= $2)
        ORDER BY pos`,
      [objectId, position, position + length],
    );
    return r.rows;
  }
}

class PostgresPartialFile implements PartialFile {
  #size: number;

  constructor(
    private readonly db: Postgres,
    private readonly uploadId: string,
    private readonly objectId: string,
    size: number,
  ) {
    this.#size = size;
  }

  get size(): number {
    return this.#size;
  }

  async append(chunks: readonly Uint8Array[]): Promise<void> {
    const rows = toRows(chunks, this.#size);
    if (rows.length === 0) return;
    const added = rows.reduce((n, row) => n + row.data.length, 0);
    const values: unknown[] = [this.objectId, this.#size, added];
    const tuples = rows.map((row) => {
      values.push(row.pos, row.data.length, row.data);
      const n = values.length;
      return `($${n - 2}::bigint, $${n - 1}::integer, $${n}::bytea)`;
    });
    // One statement: size check, size update and rows, all or nothing (see the class comment).
    const r = await this.db.query(
      `WITH grown AS (
         UPDATE files_objects SET size = size + $3 WHERE id = $1 AND size = $2 RETURNING id
       )
       INSERT INTO files_chunks (object_id, pos, len, data)
       SELECT grown.id, v.pos, v.len, v.data FROM grown, (VALUES ${tuples.join(', ')}) AS v (pos, len, data)`,
      values,
      { retry: false },
    );
    if (r.rowCount !== rows.length) {
      // §9.F.10: another node still writes (or wrote) past the offset this one was given.
      throw new NexoError(
        'FILES_UPLOAD_BUSY',
        `upload ${this.uploadId} grew on another node (it still writes what it had received); resume it again`,
        { uploadId: this.uploadId },
      );
    }
    this.#size += added;
  }

  async sync(): Promise<void> {
    // Every append is committed before it resolves.
  }

  async close(): Promise<void> {}
}

/** Positional reads over a window of rows fetched at once and kept for the reads that follow. */
class WindowReader implements BlobReader {
  #rows: ChunkRow[] = [];
  #start = 0;
  #end = 0;

  constructor(
    readonly size: number,
    private readonly fetch: (position: number, length: number) => Promise<ChunkRow[]>,
  ) {}

  async read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    if (position >= this.size || length <= 0) return 0;
    if (position < this.#start || position >= this.#end) {
      const rows = await this.fetch(position, Math.max(length, WINDOW_BYTES));
      if (rows.length === 0) throw new Error(`stored content has no bytes at ${position}`);
      this.#rows = rows;
      this.#start = Number(rows[0]!.pos);
      const last = rows.at(-1)!;
      this.#end = Number(last.pos) + last.data.length;
      if (position < this.#start || position >= this.#end) {
        throw new Error(`stored content has a gap at ${position}`);
      }
    }
    let done = 0;
    for (const row of this.#rows) {
      const rowStart = Number(row.pos);
      const at = position + done;
      if (at >= rowStart + row.data.length) continue;
      if (at < rowStart || done >= length) break;
      const n = Math.min(length - done, rowStart + row.data.length - at);
      target.set(row.data.subarray(at - rowStart, at - rowStart + n), targetOffset + done);
      done += n;
    }
    return done;
  }

  async close(): Promise<void> {
    this.#rows = [];
  }
}

/** Cuts a batch of appended chunks into rows of at most ROW_BYTES starting at byte `position`. */
function toRows(chunks: readonly Uint8Array[], position: number): { pos: number; data: Buffer }[] {
  const rows: { pos: number; data: Buffer }[] = [];
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let pos = position;
  const flush = () => {
    if (pendingBytes === 0) return;
    rows.push({ pos, data: Buffer.concat(pending, pendingBytes) });
    pos += pendingBytes;
    pending = [];
    pendingBytes = 0;
  };
  for (const chunk of chunks) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, ROW_BYTES - pendingBytes);
      pending.push(chunk.subarray(offset, offset + n));
      pendingBytes += n;
      offset += n;
      if (pendingBytes === ROW_BYTES) flush();
    }
  }
  flush();
  return rows;
}

function checkUpload(uploadId: string): void {
  if (!UPLOAD_ID.test(uploadId)) throw new Error(`not an upload id: ${uploadId.slice(0, 80)}`);
}

function checkHash(sha256: string): void {
  if (!HASH.test(sha256)) throw new Error(`not a SHA-256: ${sha256.slice(0, 80)}`);
}

function gone(uploadId: string): NexoError {
  return new NexoError('FILES_UPLOAD_NOT_FOUND', `upload ${uploadId} is no longer stored`, { uploadId });
}
