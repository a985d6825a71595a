import { Duplex } from 'node:stream';
import type { RecordLayer } from './record.js';
import type { ChannelOptions } from './reliable.js';
import { SecureSession } from './secure-session.js';

/**
 * A secure session as a Node Duplex, so the node serves it exactly as a TCP socket (the same
 * BinaryConnection, admission, dispatch and services, §13.3.1). Backpressure both ways: a write waits while
 * the send window is full; when the reader stops taking data the session stops accepting messages, which
 * the sender then retransmits.
 */
export class SessionStream extends Duplex {
  readonly session: SecureSession;
  #writeCallback: ((error?: Error | null) => void) | undefined;

  constructor(
    record: RecordLayer,
    sendDatagram: (bytes: Uint8Array) => void,
    options?: Partial<ChannelOptions>,
  ) {
    super({ allowHalfOpen: true });
    this.session = new SecureSession(
      record,
      sendDatagram,
      {
        onData: (bytes) => this.push(bytes),
        onEnd: () => this.push(null),
        onDrain: () => {
          const callback = this.#writeCallback;
          this.#writeCallback = undefined;
          callback?.();
        },
        onClose: (error) => {
          const callback = this.#writeCallback;
          this.#writeCallback = undefined;
          callback?.(error ?? null);
          this.destroy(error);
        },
      },
      options,
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.session.closed) callback(new Error('the UDP session is closed'));
    else if (this.session.write(chunk)) callback();
    else this.#writeCallback = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.session.end();
    callback();
  }

  override _read(): void {
    this.session.resumeReceiving();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.session.destroy(error ?? undefined);
    callback(error);
  }
}
