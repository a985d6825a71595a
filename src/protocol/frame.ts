import type { FrameType } from './constants.js';

/**
 * One decoded frame. The payload stays where it arrived (`source`, from `offset`, `length` bytes) and a view
 * is only made when `payload` is read: most frames are decoded straight from the source (see
 * payload.ts `unpackFrame`), and creating a view per frame is a measurable cost at 10^6 frames/s.
 * Copy the payload if you keep it past the next read of the stream it came from.
 */
export class Frame {
  constructor(
    readonly type: FrameType,
    readonly flags: number,
    readonly id: number,
    readonly source: Uint8Array,
    readonly offset: number,
    readonly length: number,
  ) {}

  get payload(): Uint8Array {
    return this.source.subarray(this.offset, this.offset + this.length);
  }
}

/** A frame whose declared length exceeds the decoder's limit: its payload is skipped, never buffered (§4.4). */
export interface OversizeFrame {
  readonly type: FrameType;
  readonly flags: number;
  readonly id: number;
  readonly payload: null;
  readonly length: number;
}

export type DecodedFrame = Frame | OversizeFrame;

/** Tells the two apart without touching `payload` (reading it would make a view of every frame). */
export function isOversize(frame: DecodedFrame): frame is OversizeFrame {
  return !(frame instanceof Frame);
}
