/**
 * The metadata side of the files service: entries, content reference counts and unfinished uploads. Kept
 * apart from the bytes (store.ts) so a cluster can put metadata in a shared database and bytes in a shared
 * store independently. Every method is asynchronous: implementations do their I/O off the event loop.
 */

import type { FileEntry } from '../../wire/files.js';
import type { UploadRecord } from './model.js';

export interface ListQuery {
  limit: number;
  offset: number;
  prefix?: string | undefined;
}

export interface Usage {
  /** Bytes of stored content, each distinct content once. */
  storedBytes: number;
  /** Declared sizes of unfinished uploads (the space they will need). */
  reservedBytes: number;
  files: number;
}

export interface FileCatalog {
  open(): Promise<void>;
  close(): Promise<void>;

  /**
   * Records a committed file durably, in one transaction: the entry, one more reference to its content, and
   * the end of its upload record (when `uploadId` is given). `firstCopy` tells whether the content is new.
   */
  commit(entry: FileEntry, uploadId: string | undefined): Promise<{ firstCopy: boolean }>;
  /** Removes an entry; `refsLeft` = entries still pointing at its content (0: the bytes may go). */
  remove(id: string): Promise<{ entry: FileEntry; refsLeft: number } | undefined>;

  byId(id: string): Promise<FileEntry | undefined>;
  /** The newest entries with exactly this name (at most `limit`), and how many there are. */
  byName(name: string, limit: number): Promise<{ entries: FileEntry[]; count: number }>;
  /** The newest entry with this content. */
  bySha256(sha256: string): Promise<FileEntry | undefined>;
  /** Newest first. */
  list(query: ListQuery): Promise<{ files: FileEntry[]; total: number }>;
  usage(): Promise<Usage>;
  /** Entries referencing this content. */
  refs(sha256: string): Promise<number>;

  addUpload(record: UploadRecord): Promise<void>;
  upload(uploadId: string): Promise<UploadRecord | undefined>;
  touchUpload(uploadId: string, at: number): Promise<void>;
  removeUpload(uploadId: string): Promise<void>;
  /** Uploads last touched before `before` (ms). */
  staleUploads(before: number): Promise<UploadRecord[]>;
  uploadIds(): Promise<string[]>;
  /** The entry upload `uploadId` was committed as, while it is stored (a client that lost the reply asks). */
  committed(uploadId: string): Promise<FileEntry | undefined>;

  /**
   * Runs `work` while no other `exclusive` call with the same key runs, wherever it was made: in this process
   * for an embedded catalog (one node owns it), on every node sharing the database for a shared one. The
   * files service takes `admission` around the quota check and the reservation of a new upload, and a
   * content hash around commit, delete and the orphan sweep of that content, so a delete never removes bytes
   * a commit just recorded, on any node.
   */
  exclusive<T>(key: string, work: () => Promise<T>): Promise<T>;
}
