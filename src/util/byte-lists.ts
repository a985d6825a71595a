/**
 * `buffers` with their first `n` bytes consumed (after a short pwritev or preadv): the buffers fully done are
 * dropped and the first partly done one is cut. Views, never copies; empty buffers are dropped too.
 */
export function advanceBuffers<T extends Uint8Array>(buffers: readonly T[], n: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  for (const buffer of buffers) {
    if (n >= buffer.length) {
      n -= buffer.length;
      continue;
    }
    rest.push(n > 0 ? buffer.subarray(n) : buffer);
    n = 0;
  }
  return rest;
}
