/** §8.1 A text-mode line from the splitter: its text, or notice that it was too long and was dropped. */
export type SplitLine = { readonly line: string } | { readonly tooLong: number };

const NEWLINE = 0x0a;
const CR = 0x0d;
const NUL = 0x00;

/**
 * Incremental line splitter for text mode: bytes in, lines out, no I/O. Lines end with LF; a CR before it is
 * dropped. Telnet's CR NUL (a bare Enter, RFC 854) ends a line too (§8.1). A line longer than `maxLine` bytes is never buffered whole: it comes out once as `tooLong` and
 * its remaining bytes are skipped up to the next LF. Invalid UTF-8 becomes U+FFFD.
 */
export class LineSplitter {
  #parts: Uint8Array[] = [];
  #partBytes = 0;
  #chunks: Uint8Array[] = [];
  #offset = 0;
  #discarding = false;
  #discarded = 0;
  /** The last byte of the line so far when it ended a chunk (kept or discarded): a CR there and a NUL
   * first in the next chunk are a CR NUL split across reads. */
  #tailByte: number | undefined;
  readonly #decoder = new TextDecoder('utf-8');

  constructor(readonly maxLine: number) {}

  get bufferedBytes(): number {
    let n = this.#partBytes - this.#offset;
    for (const chunk of this.#chunks) n += chunk.length;
    return n;
  }

  /** Bytes skipped so far of the line being discarded. */
  get discardedBytes(): number {
    return this.#discarded;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length > 0) this.#chunks.push(chunk);
  }

  next(): SplitLine | undefined {
    for (;;) {
      const chunk = this.#chunks[0];
      if (chunk === undefined) return undefined;
      const end = this.#lineEnd(chunk);
      if (end === -1) {
        this.#keep(chunk.subarray(this.#offset));
        this.#chunks.shift();
        this.#offset = 0;
        if (this.#discarding || this.#partBytes <= this.maxLine) continue;
        // Over the limit with no newline yet: report now, skip until the next LF.
        const tooLong = this.#partBytes;
        this.#startDiscarding();
        return { tooLong };
      }
      const piece = chunk.subarray(this.#offset, end);
      this.#offset = end + 1;
      this.#tailByte = undefined;
      if (this.#offset === chunk.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
      if (this.#discarding) {
        this.#discarding = false;
        this.#discarded = 0;
        continue;
      }
      if (this.#partBytes + piece.length > this.maxLine) {
        const tooLong = this.#partBytes + piece.length;
        this.#parts = [];
        this.#partBytes = 0;
        return { tooLong };
      }
      let bytes: Uint8Array = piece;
      if (this.#parts.length > 0) {
        this.#parts.push(piece);
        bytes = concat(this.#parts, this.#partBytes + piece.length);
        this.#parts = [];
        this.#partBytes = 0;
      }
      const length = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length;
      return { line: this.#decoder.decode(bytes.subarray(0, length)) };
    }
  }

  /** At end of input: the last line if it had no LF. */
  end(): SplitLine | undefined {
    const rest = this.next();
    if (rest !== undefined) return rest;
    if (this.#discarding || this.#partBytes === 0) return undefined;
    const bytes = concat(this.#parts, this.#partBytes);
    this.#parts = [];
    this.#partBytes = 0;
    const length = bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length;
    return { line: this.#decoder.decode(bytes.subarray(0, length)) };
  }

  /** Index of the byte ending the line in `chunk` from #offset: an LF, or the NUL of CR NUL; -1 if none. */
  #lineEnd(chunk: Uint8Array): number {
    const lf = chunk.indexOf(NEWLINE, this.#offset);
    let nul = chunk.indexOf(NUL, this.#offset);
    while (nul !== -1 && (lf === -1 || nul < lf)) {
      if (this.#byteBefore(chunk, nul) === CR) return nul;
      nul = chunk.indexOf(NUL, nul + 1);
    }
    return lf;
  }

  /** The byte before `index` of `chunk`, which may be the last one kept from earlier chunks. */
  #byteBefore(chunk: Uint8Array, index: number): number | undefined {
    if (index > this.#offset) return chunk[index - 1];
    // Also while a too-long line is discarded: its CR NUL ends it wherever the reads split it.
    return this.#tailByte;
  }

  #keep(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#tailByte = bytes[bytes.length - 1];
    if (this.#discarding) {
      this.#discarded += bytes.length;
      return;
    }
    this.#parts.push(bytes);
    this.#partBytes += bytes.length;
  }

  #startDiscarding(): void {
    this.#discarding = true;
    this.#discarded = this.#partBytes;
    this.#parts = [];
    this.#partBytes = 0;
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
