import { packValue } from '../protocol/payload.js';

/**
 * An event sent to many sessions (a chat room, a telemetry subscription fan-out): encoded for the wire once,
 * on first use, instead of once per recipient. Pass it to `ctx.emit()` like any value; text-mode sessions
 * format `value` as usual. Treat it as immutable once emitted.
 */
export class SharedEvent {
  #bytes: Uint8Array | undefined;

  constructor(readonly value: unknown) {}

  get bytes(): Uint8Array {
    this.#bytes ??= packValue(this.value);
    return this.#bytes;
  }
}
