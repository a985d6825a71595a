import type { NodeStats } from '../contract/service.js';
import { NexoError } from '../errors.js';
import { FrameType, PREFACE } from '../protocol/constants.js';
import { FrameBatch } from '../protocol/encoder.js';
import { packScratch, packValue, type ScratchBytes } from '../protocol/payload.js';
import { writeSmall } from '../protocol/small-values.js';
import { countError } from './host.js';

/**
 * The frames a binary connection has to send, batched until its next write (§7.4.1): a FrameBatch that also
 * knows how a result becomes a RESPONSE (or an ERROR when it cannot be one) and sends the preface once.
 */
export class Replies extends FrameBatch {
  #prefaceSent = false;
  /** `--trace`: told of every frame added (its payload's length only; undefined when written in place). */
  trace: ((type: number, flags: number, id: number, bytes: number | undefined) => void) | undefined;

  constructor(
    /** The node's maxFrame: the server sends no payload larger either (§4.4.2). */
    private readonly maxFrame: number,
    /** Where each ERROR reply is counted (the node's; no closure per connection, bench/idle.ts). */
    private readonly stats: NodeStats,
  ) {
    super();
  }

  /** §3.1.2 The server's preface, before its first frame. */
  preface(): void {
    if (this.#prefaceSent) return;
    this.#prefaceSent = true;
    this.addRaw(PREFACE);
  }

  /** §6.2.1, §6.3.1 A RESPONSE with `value` (MORE in `flags` for progress), or an ERROR if it cannot be encoded within maxFrame. */
  response(id: number, value: unknown, flags: number): void {
    // Most results are small (a string, a number, a flat record): written straight into the batch.
    if (this.addWritten(FrameType.RESPONSE, flags, id, value, writeSmall, this.maxFrame)) {
      this.trace?.(FrameType.RESPONSE, flags, id, undefined);
      return;
    }
    let packed: ScratchBytes;
    try {
      packed = packScratch(value);
    } catch (err) {
      this.error(
        id,
        new NexoError('INTERNAL_ERROR', `result could not be encoded: ${(err as Error).message}`),
      );
      return;
    }
    const length = packed.end - packed.start;
    if (length > this.maxFrame) {
      this.error(id, new NexoError('FRAME_TOO_LARGE', `the result (${length} bytes) exceeds maxFrame`));
      return;
    }
    // Copied into the batch before anything else is packed (packScratch reuses its buffer).
    this.addCopy(FrameType.RESPONSE, flags, id, packed.buffer, packed.start, packed.end);
    this.trace?.(FrameType.RESPONSE, flags, id, length);
  }

  override add(type: number, flags: number, id: number, payload?: Uint8Array): void {
    super.add(type, flags, id, payload);
    this.trace?.(type, flags, id, payload?.length ?? 0);
  }

  /** §6.2.1 An ERROR answering request `id` (`{code, message, details?}`, §11). */
  error(id: number, error: NexoError): void {
    countError(this.stats, error.code);
    this.add(FrameType.ERROR, 0, id, packValue(error.toPayload()));
  }
}
