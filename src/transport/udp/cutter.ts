import { HEADER_SIZE, PREFACE, PREFACE_FIRST_BYTE } from '../../protocol/constants.js';

/**
 * §13.3.6 Cuts the outgoing nexo byte stream into messages so that one record carries one frame: the
 * preface alone, then each frame whole when it fits in `max` bytes, else in consecutive pieces of `max`.
 * A stream that does not start with the preface (text mode) is cut every `max` bytes. Bytes of an
 * unfinished frame wait for the rest, so a message never holds the end of one frame and the start of another.
 */
export class FrameCutter {
  #pending: Buffer = Buffer.alloc(0);
  #mode: 'start' | 'frames' | 'raw' = 'start';
  /** Bytes of the current frame not yet cut (when it is longer than `max`). */
  #frameLeft = 0;

  constructor(readonly max: number) {}

  /** The messages that `chunk` completes. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#pending = this.#pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#pending, chunk]);
    const out: Uint8Array[] = [];
    for (;;) {
      const next = this.#next();
      if (next === undefined) return out;
      out.push(next);
    }
  }

  /** At the end of the stream: whatever is left, in pieces (an unfinished frame is the peer's problem). */
  flush(): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (this.#pending.length > 0) out.push(this.#take(Math.min(this.max, this.#pending.length)));
    return out;
  }

  #next(): Uint8Array | undefined {
    const p = this.#pending;
    if (p.length === 0) return undefined;
    if (this.#mode === 'start') {
      if (p[0] !== PREFACE_FIRST_BYTE) this.#mode = 'raw';
      else if (p.length < PREFACE.length) return undefined;
      else {
        this.#mode = 'frames';
        return this.#take(PREFACE.length);
      }
    }
    if (this.#mode === 'raw') return this.#take(Math.min(this.max, p.length));
    if (this.#frameLeft > 0) {
      const n = Math.min(this.#frameLeft, this.max);
      if (p.length < n) return undefined;
      this.#frameLeft -= n;
      return this.#take(n);
    }
    if (p.length < HEADER_SIZE) return undefined;
    const size = HEADER_SIZE + p.readUInt32BE(0);
    if (size <= this.max) return p.length < size ? undefined : this.#take(size);
    if (p.length < this.max) return undefined; // the first piece of a long frame is not complete yet
    this.#frameLeft = size - this.max;
    return this.#take(this.max);
  }

  #take(n: number): Uint8Array {
    const piece = this.#pending.subarray(0, n);
    this.#pending = this.#pending.subarray(n);
    return piece;
  }
}
