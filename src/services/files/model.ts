/** What the files service stores and the shapes of its method arguments (docs/protocol.md §9, files). */
import { Type } from '@sinclair/typebox';

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

/** An upload that started and has not been committed yet; survives restarts so it can be resumed. */
export interface UploadRecord {
  readonly uploadId: string;
  readonly name: string;
  readonly size: number;
  readonly type: string;
  /** Declared up front, or undefined when the client sends it in the trailer. */
  readonly sha256: string | undefined;
  readonly uploader: string;
  readonly startedAt: number;
  /** Last time a chunk arrived or the upload was resumed (ms); expiry counts from here. */
  touchedAt: number;
}

/** Counters of the files service since the node started (the Node page shows their rates). */
export interface TransferStats {
  /** Uploads committed. */
  uploads: number;
  /** File bytes received (verified), by every path. */
  receivedBytes: number;
  /** Downloads started (protocol and HTTP). */
  downloads: number;
  /** File bytes sent. */
  sentBytes: number;
}

export function newTransferStats(): TransferStats {
  return { uploads: 0, receivedBytes: 0, downloads: 0, sentBytes: 0 };
}

export const ENTRY_ID_PATTERN = '^[a-z2-7]{16}$';
export const UPLOAD_ID_PATTERN = '^[A-Za-z0-9_-]{22}$';
export const SHA256_PATTERN = '^[0-9a-fA-F]{64}$';

const Sha256 = Type.String({ pattern: SHA256_PATTERN });
const EntryId = Type.String({ pattern: ENTRY_ID_PATTERN });
const UploadId = Type.String({ pattern: UPLOAD_ID_PATTERN });
/** Checked again, byte-precisely, by names.ts; this bound only keeps a hostile name from costing CPU. */
const Name = Type.String({ maxLength: 65536 });

export const UploadArgs = Type.Object(
  {
    name: Name,
    size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    type: Type.Optional(Type.String({ maxLength: 1024 })),
    sha256: Type.Optional(Sha256),
    uploadId: Type.Optional(UploadId),
  },
  { additionalProperties: false },
);

/** A file by id, by name (the newest with that name) or by content hash: exactly one of them. */
const refFields = {
  id: Type.Optional(EntryId),
  name: Type.Optional(Name),
  sha256: Type.Optional(Sha256),
};
export const RefArgs = Type.Object(refFields, { additionalProperties: false });

export const DownloadArgs = Type.Object(
  { ...refFields, offset: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })) },
  { additionalProperties: false },
);

export const ListArgs = Type.Union([
  Type.Null(),
  Type.Object(
    {
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
      offset: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
      /** Only names starting with this text. */
      prefix: Type.Optional(Type.String({ maxLength: 4096 })),
    },
    { additionalProperties: false },
  ),
]);

export const StatusArgs = Type.Object({ uploadId: UploadId }, { additionalProperties: false });

export interface FileRef {
  id?: string | undefined;
  name?: string | undefined;
  sha256?: string | undefined;
}
