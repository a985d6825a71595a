/**
 * Where file bytes live. The files service only speaks to this interface, in streaming terms (append,
 * positional reads), so a later shared store (object storage, a cluster volume) can replace the local
 * directory without touching the protocol code. Content is addressed by its SHA-256; unfinished uploads by
 * their upload id. Names never reach a store.
 */

/** An unfinished upload's bytes. Appends are sequential: await each before the next. */
export interface PartialFile {
  /** Bytes in the partial file (where the next append lands). */
  readonly size: number;
  /** Writes the chunks, in order, at the end of the file. */
  append(chunks: readonly Uint8Array[]): Promise<void>;
  /**
   * Makes the appended bytes durable. `dropCache`: they will not be read back soon (a large upload streaming
   * through), so the store may let the OS drop them from its page cache once they are on disk.
   */
  sync(options?: { dropCache?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** Positional reads of stored content. */
export interface BlobReader {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into `target` from `targetOffset`; returns the bytes read. */
  read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

export interface FileStore {
  /** Creates what the store needs; called once before use. */
  init(): Promise<void>;

  /** Opens (creating it empty if needed) the partial file of an upload, positioned at its end. */
  openPartial(uploadId: string): Promise<PartialFile>;
  /** Reads the first `length` bytes of a partial upload in order (to rebuild its hash after a restart). */
  readPartial(uploadId: string, length: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
  /** Bytes already received for an upload (0 when it has none). */
  partialSize(uploadId: string): Promise<number>;
  discardPartial(uploadId: string): Promise<void>;
  /** Upload ids that have partial bytes. */
  partialIds(): Promise<string[]>;

  /**
   * Turns a complete, verified partial upload into the content stored under `sha256`, atomically: readers
   * see either no content or all of it, also after a crash. If that content is already stored, the partial
   * is simply dropped (same bytes). Resolves once the result is durable.
   */
  commitPartial(uploadId: string, sha256: string): Promise<void>;
  /** undefined when the content is not stored. */
  openBlob(sha256: string): Promise<BlobReader | undefined>;
  deleteBlob(sha256: string): Promise<void>;
  /** Every stored content hash (for the orphan sweep). */
  blobHashes(): AsyncIterable<string>;

  /** Bytes the store can still take, if it can tell. */
  freeBytes(): Promise<number | undefined>;
}
