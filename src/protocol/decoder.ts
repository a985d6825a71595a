import { NexoError } from '../errors.js';
import { frameTypeName, HEADER_SIZE, isFrameType, PREFACE } from './constants.js';
import { type DecodedFrame, Frame } from './frame.js';

enum State {
  Preface,
  Header,
  Payload,
  Skip,
  Failed,
}

export interface DecoderOptions {
  /** Largest payload accepted; longer frames come out as OversizeFrame and their bytes are skipped (§4.4). */
  maxPayload: number;
  /** Expect the 4-byte preface before the first frame (§3.1). */
  preface?: boolean;
}

/**
 * Incremental frame decoder: bytes in, frames out, no I/O. Feed it any split of the stream with `push`,
 * then pull frames with `next` until it returns undefined. Pull-based so the caller can stop decoding
 * (backpressure) and leave the rest buffered. It only buffers what it was given: the caller bounds that
 * by not pushing more while it is not pulling.
 *
 * Errors are thrown as NexoError (NOT_NEXO or PROTOCOL_ERROR) and are sticky: the stream cannot resync.
 */
export class FrameDecoder {
  maxPayload: number;
  #state: State;
  #chunks: Uint8Array[] = NO_CHUNKS;
  #offset = 0; // read position inside #chunks[0]
  #buffered = 0; // unread bytes across #chunks
  #type = 0;
  #flags = 0;
  #id = 0;
  #length = 0;
  #skip = 0;
  #error: NexoError | undefined;

  constructor(options: DecoderOptions) {
    this.maxPayload = options.maxPayload;
    this.#state = options.preface ? State.Preface : State.Header;
  }

  /** Bytes held and not yet returned as frames (including a partial frame). */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** True between frames: no partial frame is held. */
  get atBoundary(): boolean {
    return this.#state === State.Header && this.#buffered === 0;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#state === State.Failed) throw this.#error;
    if (this.#chunks === NO_CHUNKS) this.#chunks = [];
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * Lets go of the chunk list when nothing is buffered: an array that held chunks keeps its room after they
   * are read, and an idle connection need not (bench/idle.ts). The next push makes a new one.
   */
  release(): void {
    if (this.#buffered === 0 && this.#chunks.length === 0) this.#chunks = NO_CHUNKS;
  }

  next(): DecodedFrame | undefined {
    for (;;) {
      switch (this.#state) {
        case State.Preface: {
          if (this.#buffered < PREFACE.length) {
            // Reject a wrong preface as soon as a byte differs, not after waiting for all four.
            if (this.#buffered > 0) this.#checkPrefacePrefix();
            return undefined;
          }
          const bytes = this.#take(PREFACE.length);
          for (let i = 0; i < PREFACE.length; i++) {
            if (bytes[i] !== PREFACE[i]) this.#fail('NOT_NEXO', 'the peer did not send the nexo preface');
          }
          this.#state = State.Header;
          break;
        }
        case State.Header: {
          if (this.#buffered < HEADER_SIZE) return undefined;
          this.#readHeader();
          if (!isFrameType(this.#type)) {
            this.#fail('PROTOCOL_ERROR', `unknown frame type ${frameTypeName(this.#type)}`);
          }
          if (this.#length > this.maxPayload) {
            // §4.4: decided on the header alone; the payload is discarded as it arrives.
            this.#skip = this.#length;
            this.#state = State.Skip;
            return {
              type: this.#type,
              flags: this.#flags,
              id: this.#id,
              payload: null,
              length: this.#length,
            };
          }
          this.#state = State.Payload;
          break;
        }
        case State.Payload: {
          if (this.#buffered < this.#length) return undefined;
          const type = this.#type as Frame['type'];
          this.#state = State.Header;
          if (this.#length === 0) return new Frame(type, this.#flags, this.#id, EMPTY, 0, 0);
          const first = this.#chunks[0]!;
          if (first.length - this.#offset >= this.#length) {
            // The usual case: the payload lies in one received chunk; no view, no copy.
            const frame = new Frame(type, this.#flags, this.#id, first, this.#offset, this.#length);
            this.#advance(this.#length);
            return frame;
          }
          return new Frame(type, this.#flags, this.#id, this.#take(this.#length), 0, this.#length);
        }
        case State.Skip: {
          const n = Math.min(this.#skip, this.#buffered);
          this.#discard(n);
          this.#skip -= n;
          if (this.#skip > 0) return undefined;
          this.#state = State.Header;
          break;
        }
        case State.Failed:
          throw this.#error;
      }
    }
  }

  #fail(code: 'NOT_NEXO' | 'PROTOCOL_ERROR', message: string): never {
    this.#state = State.Failed;
    this.#chunks = [];
    this.#buffered = 0;
    this.#error = new NexoError(code, message);
    throw this.#error;
  }

  #checkPrefacePrefix(): void {
    let i = 0;
    for (const chunk of this.#chunks) {
      for (
        let j = chunk === this.#chunks[0] ? this.#offset : 0;
        j < chunk.length && i < PREFACE.length;
        j++, i++
      ) {
        if (chunk[j] !== PREFACE[i]) this.#fail('NOT_NEXO', 'the peer did not send the nexo preface');
      }
    }
  }

  #readHeader(): void {
    const first = this.#chunks[0]!;
    let b: Uint8Array;
    let o: number;
    if (first.length - this.#offset >= HEADER_SIZE) {
      b = first;
      o = this.#offset;
      this.#advance(HEADER_SIZE);
    } else {
      b = this.#take(HEADER_SIZE);
      o = 0;
    }
    this.#length = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
    this.#type = b[o + 4]!;
    this.#flags = b[o + 5]!;
    this.#id = ((b[o + 6]! << 24) | (b[o + 7]! << 16) | (b[o + 8]! << 8) | b[o + 9]!) >>> 0;
  }

  /** Returns the next n bytes, a zero-copy view when they lie in one chunk. Caller checked n <= buffered. */
  #take(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    const available = first.length - this.#offset;
    if (available >= n) {
      const view = first.subarray(this.#offset, this.#offset + n);
      this.#advance(n);
      return view;
    }
    const out = allocate(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0]!;
      const count = Math.min(chunk.length - this.#offset, n - filled);
      out.set(chunk.subarray(this.#offset, this.#offset + count), filled);
      filled += count;
      this.#advance(count);
    }
    return out;
  }

  #discard(n: number): void {
    while (n > 0) {
      const chunk = this.#chunks[0]!;
      const count = Math.min(chunk.length - this.#offset, n);
      this.#advance(count);
      n -= count;
    }
  }

  /** Moves the read position within the first chunk, dropping it when used up. */
  #advance(n: number): void {
    this.#offset += n;
    this.#buffered -= n;
    if (this.#offset === this.#chunks[0]!.length) {
      this.#chunks.shift();
      this.#offset = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
/** The chunk list of a decoder holding nothing: shared and never pushed to (push makes a decoder its own). */
const NO_CHUNKS: Uint8Array[] = [];

type AllocUnsafe = (size: number) => Uint8Array;
const nodeAlloc = (globalThis as { Buffer?: { allocUnsafeSlow: AllocUnsafe } }).Buffer?.allocUnsafeSlow;

/**
 * Room for a frame that spans several reads (a 256 KiB file chunk over 64 KiB socket reads): every byte is
 * written right after, so in Node it is not zero-filled first. Browsers get a plain Uint8Array.
 */
function allocate(n: number): Uint8Array {
  return nodeAlloc === undefined ? new Uint8Array(n) : nodeAlloc(n);
}
