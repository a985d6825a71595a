import type { FileEntry, FileRef, UploadCommitted } from '../../wire/files.js';
import type { Caller } from './requester.js';

/** What the files facade needs from a client. */
export interface FilesRequester extends Caller {
  /** Waits for a usable connection (after a reconnect). */
  ready(): Promise<void>;
}

export interface UploadResult extends UploadCommitted {
  /** Offset this call started sending from (> 0 when it resumed an earlier upload). */
  resumedFrom: number;
}

export interface TransferProgress {
  readonly name: string;
  readonly size: number;
  /** Bytes done, counting those a resumed transfer did not need to send again. */
  readonly bytes: number;
  /** Where this call started (0, or the offset it resumed from). */
  readonly resumedFrom: number;
}

export interface UploadStart {
  readonly uploadId: string;
  readonly name: string;
  readonly size: number;
  /** Offset the server asked to continue from (0 for a new upload). */
  readonly offset: number;
}

export interface UploadOptions {
  /** Name to store; default the file's base name. Any Unicode text (protocol §9). */
  name?: string;
  /** Media type; default guessed from the name's extension. */
  type?: string;
  /** SHA-256 (hex) of the content if known: declared up front, the client then does not hash. */
  sha256?: string;
  /** Bytes of a stream source (required for streams; files use their size). */
  size?: number;
  /** Resume this upload (the id a previous call reported through onStart). */
  uploadId?: string;
  /** Data bytes per chunk; default the server's recommendation (256 KiB). */
  chunkSize?: number;
  /** Attempts after a failure that made no progress (lost connection, corrupted chunk). Default 5. */
  retries?: number;
  signal?: AbortSignal;
  /** Called once the server assigned the upload id (save it to resume after the process dies). */
  onStart?(start: UploadStart): void;
  onProgress?(progress: TransferProgress): void;
  /** Called before each retry, with the error that caused it. */
  onRetry?(error: Error, attempt: number): void;
  /**
   * FOR TESTS ONLY: damage the data of the data chunk with this index (0-based, counted over the whole
   * call) after its checksum was computed, as a bad link would. With `keepChecksum` the checksum is computed
   * over the damaged bytes instead, so only the whole-file SHA-256 can catch it.
   */
  testHooks?: { corruptChunk?: number; keepChecksum?: boolean };
}

export interface DownloadStart {
  readonly entry: FileEntry;
  /** Local file being written (the partial file until it is complete); undefined for a stream. */
  readonly path: string | undefined;
  readonly offset: number;
}

export interface DownloadOptions {
  /** Resume from a partial download left by an earlier call (default true). */
  resume?: boolean;
  /** Replace the destination file if it exists (default false: refuse). */
  overwrite?: boolean;
  retries?: number;
  signal?: AbortSignal;
  onStart?(start: DownloadStart): void;
  onProgress?(progress: TransferProgress): void;
  onRetry?(error: Error, attempt: number): void;
  /** FOR TESTS ONLY: damage the data chunk with this index (0-based) as it arrives, before it is checked. */
  testHooks?: { corruptChunk?: number };
}

export interface DownloadResult {
  entry: FileEntry;
  /** Where the file was written (undefined for a stream). */
  path: string | undefined;
  /** Offset this call started receiving from (> 0 when it resumed). */
  resumedFrom: number;
}

/** A file by id, name or content hash; a plain string is tried as an id, then as a name. */
export type FileSpecifier = string | FileRef;
