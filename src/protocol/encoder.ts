import { HEADER_SIZE, PREFACE } from './constants.js';

const EMPTY = new Uint8Array(0);

/** §4.1 Writes a frame header at `offset`. */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  type: number,
  flags: number,
  id: number,
  length: number,
): void {
  target[offset] = length >>> 24;
  target[offset + 1] = length >>> 16;
  target[offset + 2] = length >>> 8;
  target[offset + 3] = length;
  target[offset + 4] = type;
  target[offset + 5] = flags;
  target[offset + 6] = id >>> 24;
  target[offset + 7] = id >>> 16;
  target[offset + 8] = id >>> 8;
  target[offset + 9] = id;
}

/** One frame as a fresh byte array. */
export function encodeFrame(
  type: number,
  flags: number,
  id: number,
  payload: Uint8Array = EMPTY,
): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  writeHeader(out, 0, type, flags, id, payload.length);
  out.set(payload, HEADER_SIZE);
  return out;
}

export function encodePreface(): Uint8Array {
  return PREFACE.slice();
}

const SLAB_SIZE = 64 * 1024;
/**
 * A batch's first slab, doubled at each new one up to SLAB_SIZE: a connection that only said WELCOME holds
 * 4 KiB, not 64 (10,000 idle sessions held 640 MB of slabs, bench/idle.ts), and a busy one reaches full
 * slabs after 60 KiB of output.
 */
const FIRST_SLAB = 4 * 1024;
const NO_SLAB = new Uint8Array(0);
/** Payloads at least this big are not copied into the slab; they are written as their own part. */
const COPY_LIMIT = 16 * 1024;
/** Up to this many payload bytes, addCopy copies in a loop instead of through a view. */
const SMALL_COPY = 64;
/** addWritten starts a new slab rather than try a value in less room than this. */
const MIN_ROOM = 1024;

/**
 * Collects outgoing frames so that a burst of replies leaves in one write instead of one write each.
 * Pure: it only arranges bytes. Small frames are copied back to back into a slab, so a typical batch is one
 * contiguous array; big payloads (file chunks) are kept as their own part to avoid copying them.
 */
export class FrameBatch {
  #slab = NO_SLAB;
  #nextSlab = FIRST_SLAB;
  #start = 0; // first slab byte not yet handed out by take()
  #used = 0; // slab bytes written
  #parts: Uint8Array[] = [];
  #bytes = 0;
  /** Frames added since this batch was made (never reset): the node's frames-out counter reads it. */
  frames = 0;
  /**
   * Where the payload of the frame added last by addWritten lies: `written` holds it at
   * [writtenStart, writtenEnd). Those bytes are never written again (a slab is only appended to), so a
   * caller may keep them, as the client keeps a request it may have to send again (§7.3), without a copy.
   */
  written: Uint8Array = EMPTY;
  writtenStart = 0;
  writtenEnd = 0;

  /** Bytes added since the last take(). */
  get byteLength(): number {
    return this.#bytes;
  }

  get isEmpty(): boolean {
    return this.#bytes === 0;
  }

  add(type: number, flags: number, id: number, payload: Uint8Array = EMPTY): void {
    const length = payload.length;
    const copy = length < COPY_LIMIT;
    const need = HEADER_SIZE + (copy ? length : 0);
    if (this.#used + need > this.#slab.length) this.#newSlab(need);
    writeHeader(this.#slab, this.#used, type, flags, id, length);
    this.#used += HEADER_SIZE;
    if (copy) {
      this.#slab.set(payload, this.#used);
      this.#used += length;
    } else {
      this.#cut();
      this.#parts.push(payload);
    }
    this.#bytes += HEADER_SIZE + length;
    this.frames++;
  }

  /**
   * Adds a frame whose payload is `source[start, end)`, copied at once, so the source may be overwritten as
   * soon as this returns (a payload from packScratch). Small payloads are copied byte by byte: for a few
   * dozen bytes that beats making a view to call set() with.
   */
  addCopy(type: number, flags: number, id: number, source: Uint8Array, start: number, end: number): void {
    const length = end - start;
    if (length >= COPY_LIMIT) {
      this.add(type, flags, id, source.slice(start, end));
      return;
    }
    const need = HEADER_SIZE + length;
    if (this.#used + need > this.#slab.length) this.#newSlab(need);
    const slab = this.#slab;
    writeHeader(slab, this.#used, type, flags, id, length);
    let at = this.#used + HEADER_SIZE;
    if (length <= SMALL_COPY) {
      for (let i = start; i < end; i++) slab[at++] = source[i]!;
    } else {
      slab.set(source.subarray(start, end), at);
      at += length;
    }
    this.#used = at;
    this.#bytes += need;
    this.frames++;
  }

  /**
   * Adds a frame whose payload `writer` writes straight into the slab (no intermediate buffer) and returns
   * true; adds nothing and returns false when the writer returns -1 (the value is not one it writes, or it
   * would exceed `maxPayload` bytes).
   */
  addWritten<T>(
    type: number,
    flags: number,
    id: number,
    value: T,
    writer: (value: T, target: Uint8Array, at: number, limit: number) => number,
    maxPayload: number,
  ): boolean {
    if (this.#slab.length - this.#used < HEADER_SIZE + MIN_ROOM) this.#newSlab(HEADER_SIZE + MIN_ROOM);
    const at = this.#used + HEADER_SIZE;
    const end = writer(value, this.#slab, at, Math.min(this.#slab.length, at + maxPayload));
    if (end < 0) return false;
    writeHeader(this.#slab, this.#used, type, flags, id, end - at);
    this.#bytes += end - this.#used;
    this.#used = end;
    this.written = this.#slab;
    this.writtenStart = at;
    this.writtenEnd = end;
    this.frames++;
    return true;
  }

  /** Adds bytes that are already encoded (the preface). */
  addRaw(bytes: Uint8Array): void {
    if (this.#used + bytes.length > this.#slab.length) this.#newSlab(bytes.length);
    this.#slab.set(bytes, this.#used);
    this.#used += bytes.length;
    this.#bytes += bytes.length;
  }

  /**
   * Lets go of the slab when nothing is pending (every byte was taken), so an idle connection holds none;
   * the next frame starts a small one again. Parts handed out keep their bytes alive until written.
   */
  release(): void {
    if (this.#used !== this.#start || this.#parts.length > 0) return;
    this.#slab = NO_SLAB;
    this.#start = 0;
    this.#used = 0;
    this.#nextSlab = FIRST_SLAB;
  }

  /** Hands out everything added so far, in order, and starts a new batch. */
  take(): Uint8Array[] {
    this.#cut();
    const parts = this.#parts;
    this.#parts = [];
    this.#bytes = 0;
    return parts;
  }

  /** Ends the current slab part so that what follows is written after it. */
  #cut(): void {
    if (this.#used > this.#start) {
      this.#parts.push(this.#slab.subarray(this.#start, this.#used));
      this.#start = this.#used;
    }
  }

  #newSlab(need: number): void {
    this.#cut();
    // Parts already handed out keep referencing the old slab; it is never written again.
    this.#slab = new Uint8Array(Math.max(this.#nextSlab, need));
    this.#nextSlab = Math.min(SLAB_SIZE, this.#nextSlab * 2);
    this.#start = 0;
    this.#used = 0;
  }
}
