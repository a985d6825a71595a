import type { FileHandle } from 'node:fs/promises';
import { advanceBuffers } from './byte-lists.js';

/**
 * Writes every byte of `buffers` at `position` with pwritev, continuing after a short write with what is
 * left (the OS may write less than asked, e.g. past 2 GiB per call on Linux). Returns the position after.
 */
export async function writevAll(
  handle: FileHandle,
  buffers: readonly Uint8Array[],
  position: number,
): Promise<number> {
  let rest = advanceBuffers(buffers, 0);
  let at = position;
  while (rest.length > 0) {
    const { bytesWritten } = await handle.writev(rest, at);
    at += bytesWritten;
    rest = advanceBuffers(rest, bytesWritten);
  }
  return at;
}
