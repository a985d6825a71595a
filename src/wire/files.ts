/**
 * The files service's wire contract (docs/protocol.md §9, files): what a stored file is, how one is named in
 * a call, and what uploads and `files.usage` answer. Types and patterns only, safe for browsers; the CHUNK
 * payload's byte layout is `chunk-format.ts`.
 */

/** One stored file: a name (metadata) pointing at content stored once under its SHA-256. */
export interface FileEntry {
  /** Unique per entry; two entries may share content (same sha256). */
  readonly id: string;
  readonly name: string;
  readonly size: number;
  /** Hex SHA-256 of the content: the content's address in the store. */
  readonly sha256: string;
  /** Media type, e.g. `video/mp4`. */
  readonly type: string;
  /** `role@address` of the session that uploaded it. */
  readonly uploader: string;
  /** ISO 8601 time the upload was committed. */
  readonly uploadedAt: string;
}

export const ENTRY_ID_PATTERN = '^[a-z2-7]{16}$';
export const UPLOAD_ID_PATTERN = '^[A-Za-z0-9_-]{22}$';
export const SHA256_PATTERN = '^[0-9a-fA-F]{64}$';

export interface FileRef {
  id?: string | undefined;
  name?: string | undefined;
  sha256?: string | undefined;
}

/** What a committed upload answers: the stored entry. */
export interface UploadCommitted extends FileEntry {
  /** The content was already stored (by another entry): the node kept one copy. */
  deduplicated: boolean;
}

export interface UploadStatus {
  uploadId: string;
  state: 'receiving' | 'paused' | 'complete';
  size: number;
  offset: number;
  name?: string;
  type?: string;
  expiresAt?: string;
  file?: FileEntry;
}

export interface FilesUsage {
  storedBytes: number;
  reservedBytes: number;
  files: number;
  quota: number;
  maxFileSize: number;
  freeBytes: number | null;
  uploadsReceiving: number;
  maxUploads: number;
}
