/** What the files service keeps about uploads, its counters and its method arguments' schemas (docs/protocol.md §9, files). */
import { Type } from '@sinclair/typebox';
import { ENTRY_ID_PATTERN, SHA256_PATTERN, UPLOAD_ID_PATTERN } from '../../wire/files.js';

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
