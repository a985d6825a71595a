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

/** Names checked byte for byte before hashing: consecutive requests mostly repeat a service and method. */
const RECENT = 4;

export class NameTable {
  readonly #table = new Map<number, string>();
  readonly #recent: string[] = [];
  #next = 0; // the slot of #recent that the next miss of it replaces
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
    const recent = this.#recent;
    for (let r = 0; r < recent.length; r++) {
      const name = recent[r]!;
      if (name.length === length && sameAscii(name, src, start)) {
        this.end = stop;
        return name;
      }
    }
    const name = this.#lookup(src, start, stop, length);
    if (name !== undefined) {
      if (recent.length < RECENT) recent.push(name);
      else recent[this.#next] = name;
      this.#next = (this.#next + 1) % RECENT;
    }
    return name;
  }

  #lookup(src: Uint8Array, start: number, stop: number, length: number): string | undefined {
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
