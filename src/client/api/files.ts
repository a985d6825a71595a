import type { Readable } from 'node:stream';
import type { FileEntry, FilesUsage, UploadStatus } from '../../wire/files.js';
import type { DownloadOptions, FileSpecifier, FilesRequester, UploadOptions } from './files-options.js';
import type { RequestOptions } from './requester.js';

/**
 * Typed calls of the files service (docs/protocol.md §9). Transfers load their Node implementation (fs,
 * crypto, zlib) on first use, so this module stays importable in a browser.
 */
export function filesApi(r: FilesRequester) {
  const transfer = () => import('./files-transfer.js');
  const common = () => import('./files-common.js');
  return {
    list: (query: { limit?: number; offset?: number; prefix?: string } = {}, options?: RequestOptions) =>
      r.request<{ files: FileEntry[]; total: number; offset: number; limit: number }>(
        'files',
        'list',
        query,
        options,
      ),
    info: async (file: FileSpecifier, options?: RequestOptions) =>
      (await common()).resolveEntry(r, file, options),
    status: (uploadId: string, options?: RequestOptions) =>
      r.request<UploadStatus>('files', 'status', { uploadId }, options),
    usage: (options?: RequestOptions) => r.request<FilesUsage>('files', 'usage', null, options),
    /** Deletes one entry (by id, or by a name only one file has). */
    remove: async (file: FileSpecifier, options?: RequestOptions) =>
      r.request<{ deleted: FileEntry; contentRemoved: boolean }>(
        'files',
        'delete',
        await (await common()).refOf(r, file, options),
        options,
      ),
    /**
     * Uploads a Blob or File (browsers; Node 20 has Blob too): same protocol, resume and retries as `upload`,
     * hashed in TypeScript as it goes. The name defaults to the File's name (a plain Blob needs options.name).
     */
    uploadBlob: async (blob: Blob, options: UploadOptions = {}) =>
      (await import('./files-blob.js')).uploadBlob(r, blob, options),
    /** Uploads a file (path) or a stream (needs options.size and options.name); resumes and retries. */
    upload: async (source: string | Readable | AsyncIterable<Uint8Array>, options: UploadOptions = {}) =>
      (await transfer()).upload(r, source, options),
    /**
     * Downloads to `dest` (a file path, or a directory: the file's name is made safe and used), verifying
     * every chunk and the SHA-256; resumes a partial download left at `<path>.nexo-part`. A writable stream
     * also works (no resume across calls then).
     */
    download: async (
      file: FileSpecifier,
      dest: string | NodeJS.WritableStream,
      options: DownloadOptions = {},
    ) => (await transfer()).download(r, file, dest, options),
  };
}
