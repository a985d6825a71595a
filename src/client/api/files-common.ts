/**
 * Parts of the files client that need no platform API: looking files up, which failures a transfer retries,
 * and waiting between attempts. Shared by the Node transfers and the browser uploads.
 */
import { NexoError } from '../../errors.js';
import type { FileEntry, FileRef } from '../../wire/files.js';
import type { FileSpecifier, FilesRequester } from './files-options.js';
import type { RequestOptions } from './requester.js';

const ENTRY_ID = /^[a-z2-7]{16}$/;

/** Failures after which the same transfer may continue from the last good offset. */
export const RETRYABLE = new Set<string>([
  'CONNECTION_LOST',
  'CONNECTION_REFUSED',
  'FILES_CHUNK_CORRUPT',
  'FILES_TOO_MANY_UPLOADS',
  'FILES_UPLOAD_BUSY',
  'TIMEOUT',
  'SHUTTING_DOWN',
  'GOING_AWAY',
  'SLOW_CONSUMER',
  'SERVER_BUSY',
  'HEARTBEAT_TIMEOUT',
  'IDLE_TIMEOUT',
  // A shared engine was away (a PostgreSQL restart): nothing of the failed chunk was acknowledged, and the
  // node reconnects by itself; the transfer continues from the stored offset (test/faults/upload-restart).
  'STORAGE_UNAVAILABLE',
]);

/** A string is tried as an entry id (if it looks like one), then as a name. */
export async function resolveEntry(
  r: FilesRequester,
  file: FileSpecifier,
  options?: RequestOptions,
): Promise<FileEntry> {
  if (typeof file !== 'string') return r.request<FileEntry>('files', 'info', file, options);
  if (ENTRY_ID.test(file)) {
    try {
      return await r.request<FileEntry>('files', 'info', { id: file }, options);
    } catch (err) {
      if ((err as NexoError).code !== 'FILES_NOT_FOUND') throw err;
    }
  }
  return r.request<FileEntry>('files', 'info', { name: file }, options);
}

/** The ref to send for a delete: the id when the string is an existing id, else the name. */
export async function refOf(
  r: FilesRequester,
  file: FileSpecifier,
  options?: RequestOptions,
): Promise<FileRef> {
  if (typeof file !== 'string') return file;
  if (ENTRY_ID.test(file)) {
    try {
      await r.request<FileEntry>('files', 'info', { id: file }, options);
      return { id: file };
    } catch (err) {
      if ((err as NexoError).code !== 'FILES_NOT_FOUND') throw err;
    }
  }
  return { name: file };
}

export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new NexoError('CANCELLED', 'cancelled'));
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new NexoError('CANCELLED', 'cancelled'));
      },
      { once: true },
    );
  });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new NexoError('CANCELLED', 'cancelled');
}
