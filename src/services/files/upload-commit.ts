import type { Hash } from 'node:crypto';
import { NexoError } from '../../errors.js';
import type { FileEntry, UploadCommitted } from '../../wire/files.js';
import type { FileCatalog } from './catalog.js';
import { newEntryId } from './ids.js';
import type { TransferStats } from './model.js';
import type { FileStore, PartialFile } from './store.js';
import type { Session, UploadSessions } from './upload-sessions.js';

export interface CommitParts {
  readonly store: FileStore;
  readonly catalog: FileCatalog;
  readonly sessions: UploadSessions;
  readonly stats: TransferStats;
}

/** An upload's partial file, open; `close` closes it for good (the receiving loop closes it otherwise). */
export interface OpenPartial {
  readonly file: PartialFile;
  close(): Promise<void>;
}

/**
 * The end of an upload's bytes: checks that all of them came (a sized upload), that the sender's hash (the
 * END trailer or the declared one) agrees and matches what arrived, then stores the file atomically under its
 * hash. A failure that a resume can mend keeps the running hash in the session; a wrong hash discards the
 * upload.
 */
export async function commitUpload(
  parts: CommitParts,
  session: Session,
  partial: OpenPartial,
  offset: number,
  hash: Hash,
  trailer: string | undefined,
): Promise<UploadCommitted> {
  const record = session.record;
  const uploadId = record.uploadId;
  if (session.sized && offset < record.size) {
    session.hash = hash;
    session.hashed = offset;
    throw new NexoError(
      'FILES_SIZE_MISMATCH',
      `the upload ended at byte ${offset} of the ${record.size} declared; resume from offset ${offset}`,
      { size: record.size, offset, uploadId },
    );
  }
  if (trailer !== undefined && session.declared !== undefined && trailer !== session.declared) {
    // §9.F.7.1 The trailer contradicts the declared hash: a malformed trailer, judged before the bytes'
    // hash. The bytes are kept (they may be right); a resume from `size` can send a trailer that agrees.
    session.hash = hash;
    session.hashed = offset;
    throw new NexoError(
      'FILES_BAD_CHUNK',
      `the END chunk carries SHA-256 ${trailer}, but the upload declared ${session.declared}; resume from offset ${offset} with an END chunk that agrees (or is empty)`,
      { offset, uploadId, sha256: session.declared },
    );
  }
  const fromSender = trailer ?? session.declared;
  if (fromSender === undefined && session.sized) {
    session.hash = hash;
    session.hashed = offset;
    throw new NexoError(
      'FILES_BAD_CHUNK',
      'no SHA-256 to verify the file against: declare sha256 in files.upload or send it in the END chunk',
      { offset, uploadId },
    );
  }
  const actual = hash.digest('hex');
  // A stream whose sender gave no hash is stored under the hash of what arrived.
  const claimed = fromSender ?? actual;
  if (actual !== claimed) {
    await partial.close();
    await parts.sessions.forget(uploadId);
    throw new NexoError(
      'FILES_HASH_MISMATCH',
      `the received file's SHA-256 is ${actual}, but ${claimed} was declared; nothing was stored and the upload was discarded: upload the file again`,
      { expected: claimed, actual },
    );
  }
  await partial.file.sync();
  await partial.close();
  const entry: FileEntry = {
    id: newEntryId(),
    name: record.name,
    size: offset,
    sha256: actual,
    type: record.type,
    uploader: record.uploader,
    uploadedAt: new Date().toISOString(),
  };
  const { firstCopy } = await parts.catalog.exclusive(actual, async () => {
    await parts.store.commitPartial(uploadId, actual);
    return parts.catalog.commit(entry, uploadId);
  });
  parts.stats.uploads++;
  const result: UploadCommitted = { ...entry, deduplicated: !firstCopy };
  parts.sessions.committedNow(uploadId, result);
  return result;
}
