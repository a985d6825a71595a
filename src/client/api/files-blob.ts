/**
 * Uploads from a browser: a File or Blob (drag-and-drop, a file picker) through the same files protocol as
 * the Node client (files-upload.ts), with TypeScript SHA-256 and CRC-32. The Blob is read a slice at a time
 * (`blob.slice().arrayBuffer()`), so the page holds a few chunks, never the file; the hash runs as the
 * chunks go, and after a lost connection the upload resumes from the node's offset (the slice before it is
 * hashed again from the Blob, which costs reading, not sending).
 */
import { crc32 } from '../hash/crc32.js';
import { Sha256 } from '../hash/sha256.js';
import type { FilesRequester, UploadOptions, UploadResult } from './files-options.js';
import { type UploadPlatform, type UploadSource, uploadFrom } from './files-upload.js';

const BROWSER: UploadPlatform = {
  sha256: () => new Sha256(),
  crc32: (data) => crc32(data),
  alloc: (size) => new Uint8Array(size),
};

/** A Blob as an upload source: any offset can be read again (resume) at the cost of one slice. */
export function blobSource(blob: Blob, name?: string): UploadSource {
  return {
    size: blob.size,
    name: name ?? (typeof File !== 'undefined' && blob instanceof File ? blob.name : undefined),
    seekable: true,
    async read(target, at, length, position) {
      const end = Math.min(blob.size, position + length);
      if (end <= position) return 0;
      const bytes = new Uint8Array(await blob.slice(position, end).arrayBuffer());
      target.set(bytes, at);
      return bytes.length;
    },
    // A batch of chunks from one slice: each arrayBuffer() call costs far more than the copy.
    async readv(targets, position) {
      const wanted = targets.reduce((n, t) => n + t.length, 0);
      const end = Math.min(blob.size, position + wanted);
      if (end <= position) return 0;
      const bytes = new Uint8Array(await blob.slice(position, end).arrayBuffer());
      let done = 0;
      for (const target of targets) {
        const n = Math.min(target.length, bytes.length - done);
        target.set(bytes.subarray(done, done + n));
        done += n;
        if (n < target.length) break;
      }
      return done;
    },
    async close() {},
  };
}

/** The Blob's own media type (a File from a picker has one) unless options.type says otherwise. */
export function uploadBlob(r: FilesRequester, blob: Blob, options: UploadOptions): Promise<UploadResult> {
  const type = options.type ?? (blob.type === '' ? undefined : blob.type);
  return uploadFrom(
    r,
    blobSource(blob, options.name),
    type === undefined ? options : { ...options, type },
    BROWSER,
  );
}
