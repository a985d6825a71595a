/**
 * Short ASCII strings (service and method names) read from MessagePack fixstr bytes without decoding them
 * each time: a hash of the bytes finds the string decoded the first time, which is then compared byte for
 * byte. Reusing one string per name also saves hashing a fresh string in every Map lookup that follows.
 *
 * Bounded: at most MAX_ENTRIES names are remembered, so a client sending random names cannot grow it; names
 * past that are decoded every time, as any string would be.
 */
const MAX_ENTRIES = 1024;
/** fixstr holds up to 31 bytes: 0xa0 | length. */
const FIXSTR = 0xa0;
const FIXSTR_MASK = 0xe0;

export class NameTable {
  readonly #table = new Map<number, string>();
  /** Where the last successful read() ended (a field, so read() allocates nothing). */
  end = 0;

  /**
   * Reads the fixstr at `p` (before `limit`) if it is plain ASCII; returns undefined for any other encoding
   * or a string that does not fit, and the caller takes the general decoder.
   */
  read(src: Uint8Array, p: number, limit: number): string | undefined {
    const head = src[p]!;
    if ((head & FIXSTR_MASK) !== FIXSTR) return undefined;
    const length = head & 0x1f;
    const start = p + 1;
    const stop = start + length;
    if (stop > limit) return undefined;
    // FNV-1a over the bytes; any byte >= 0x80 (not ASCII) leaves the fast path.
    let hash = 0x811c9dc5 ^ length;
    for (let i = start; i < stop; i++) {
      const b = src[i]!;
      if (b >= 0x80) return undefined;
      hash = Math.imul(hash ^ b, 0x01000193);
    }
    const known = this.#table.get(hash);
    if (known !== undefined && known.length === length && sameAscii(known, src, start)) {
      this.end = stop;
      return known;
    }
    const name = String.fromCharCode.apply(null, src.subarray(start, stop) as unknown as number[]);
    if (known === undefined && this.#table.size < MAX_ENTRIES) this.#table.set(hash, name);
    this.end = stop;
    return name;
  }
}

function sameAscii(s: string, src: Uint8Array, start: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== src[start + i]) return false;
  return true;
}
