/**
 * File names are metadata, never paths: the server stores blobs under their SHA-256 and never joins a name
 * to a directory. So `../../etc/passwd`, `con.txt` or any Unicode text is just a name. What is refused is
 * what would make a name unusable or dangerous to show: nothing at all, only spaces, control characters
 * (a name could otherwise rewrite a terminal line, forge a log entry or disguise its extension) and
 * unbounded length.
 */
import { NexoError } from '../../errors.js';

/** Longest name, in UTF-8 bytes (the common file-system limit of a path is 4096; of a name, 255). */
export const MAX_NAME_BYTES = 1024;
export const MAX_TYPE_LENGTH = 255;
export const DEFAULT_TYPE = 'application/octet-stream';

// C0/C1 controls, DEL, line and paragraph separators, and the bidirectional embedding/override/isolate
// controls (they make `gpj.exe` display as `exe.jpg`). Lone surrogates (invalid UTF-16) are checked apart.
const FORBIDDEN = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;
const LONE_SURROGATE = /\p{Cs}/u;

const encoder = new TextEncoder();

/** Returns the name in Unicode NFC form, or throws FILES_NAME_INVALID saying what is wrong. */
export function normalizeName(raw: string): string {
  if (raw.length === 0) throw new NexoError('FILES_NAME_INVALID', 'the file name is empty');
  // Measured before normalizing too: normalizing long hostile input costs time (the args schema bounds it).
  if (raw.length > MAX_NAME_BYTES) {
    const rawBytes = encoder.encode(raw).length;
    if (rawBytes > MAX_NAME_BYTES * 2) throw tooLong(rawBytes);
  }
  if (LONE_SURROGATE.test(raw)) {
    throw new NexoError('FILES_NAME_INVALID', 'the file name is not valid Unicode (a lone surrogate)');
  }
  const name = raw.normalize('NFC');
  const bytes = encoder.encode(name).length;
  if (bytes > MAX_NAME_BYTES) throw tooLong(bytes);
  const bad = FORBIDDEN.exec(name);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new NexoError(
      'FILES_NAME_INVALID',
      `the file name contains the control character U+${code} at position ${bad.index + 1}; names must be printable`,
    );
  }
  if (name.trim() === '') throw new NexoError('FILES_NAME_INVALID', 'the file name is only blank space');
  return name;
}

function tooLong(bytes: number): NexoError {
  return new NexoError(
    'FILES_NAME_INVALID',
    `the file name is ${bytes} bytes long in UTF-8; the limit is ${MAX_NAME_BYTES}`,
    { limit: MAX_NAME_BYTES },
  );
}

/** A media type such as `video/mp4` (parameters allowed), or the default when none is given. */
export function normalizeType(raw: string | undefined): string {
  if (raw === undefined || raw.trim() === '') return DEFAULT_TYPE;
  const type = raw.trim().toLowerCase();
  if (
    type.length > MAX_TYPE_LENGTH ||
    !/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*(?:\s*;[\x20-\x7e]*)?$/.test(type)
  ) {
    throw new NexoError(
      'INVALID_ARGS',
      `'${type.slice(0, 40)}' is not a media type such as video/mp4 or text/plain; charset=utf-8`,
    );
  }
  return type;
}
