import { NexoError } from '../../errors.js';
import { clip } from '../../util/clip.js';

/** §9.F.5 A resume (or a repeat of a committed upload, §9.F.10.1) names another file than the upload's. */
export function mismatch(
  uploadId: string,
  upload: { readonly name: string; readonly size: number },
  name: string,
  size: number,
): NexoError {
  return new NexoError(
    'FILES_UPLOAD_MISMATCH',
    `upload ${uploadId} was started for '${clip(upload.name, 60)}' (${upload.size} bytes); this request declares '${clip(name, 60)}' (${size} bytes). Start a new upload for a different file`,
    { name: upload.name, size: upload.size },
  );
}

export function hashMismatch(uploadId: string, started: string, declared: string): NexoError {
  return new NexoError(
    'FILES_UPLOAD_MISMATCH',
    `upload ${uploadId} was started with SHA-256 ${started}; this request declares ${declared}`,
    { sha256: started },
  );
}

export function notFound(uploadId: string): NexoError {
  return new NexoError(
    'FILES_UPLOAD_NOT_FOUND',
    `upload ${uploadId} is unknown or expired; start the upload again without an uploadId`,
    { uploadId },
  );
}
