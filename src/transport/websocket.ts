import { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { Conduit, PeerInfo } from './types.js';

/** Close code for a text message (RFC 6455 §7.4.1: 1003, data the endpoint cannot accept). */
export const WS_CLOSE_UNSUPPORTED_DATA = 1003;

/**
 * Bytes the WebSocket may hold unsent before writes wait for it to flush. Above this the Duplex stops
 * acknowledging writes, so its own buffer fills and `write()` returns false: the node's usual backpressure
 * (spec §7.4) then works exactly as on TCP.
 */
const SEND_HIGH_WATER = 256 * 1024;

/**
 * The nexo byte stream over one WebSocket (spec §2.3): binary messages in both directions, their boundaries
 * meaningless. Received messages are pushed as bytes; writes made in the same tick leave as one message.
 *
 * Not `ws.createWebSocketStream`: that one waits for every message to reach the kernel before accepting the
 * next write, which serialises a pipelining client. This one only waits while more than SEND_HIGH_WATER
 * bytes are queued in the socket.
 */
export class WebSocketDuplex extends Duplex {
  readonly #ws: WebSocket;
  #closed = false;

  constructor(ws: WebSocket) {
    super({ allowHalfOpen: false });
    this.#ws = ws;
    // Like a TCP socket in transport/tcp.ts: an error before the node listens (an oversize first message)
    // must not crash the process; the close that follows ends the connection.
    this.on('error', () => {});
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        // §2.3.2 Only binary messages carry the protocol. A text message is a client bug: say so and close.
        ws.close(WS_CLOSE_UNSUPPORTED_DATA, 'nexo over WebSocket uses binary messages only');
        return;
      }
      // binaryType 'nodebuffer': a Buffer, or its fragments; used as they are, never copied.
      const bytes = Array.isArray(data) ? Buffer.concat(data) : (data as Buffer);
      if (bytes.length > 0 && !this.push(bytes)) ws.pause();
    });
    ws.once('close', () => {
      this.#closed = true;
      this.push(null);
      this.destroy();
    });
    ws.on('error', (err) => this.destroy(err));
  }

  override _read(): void {
    this.#ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#send(chunk, callback);
  }

  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    this.#send(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  #send(bytes: Buffer, callback: (error?: Error | null) => void): void {
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) {
      callback(); // the peer is gone; 'close' follows and the connection cleans up
      return;
    }
    if (this.#ws.bufferedAmount < SEND_HIGH_WATER) {
      this.#ws.send(bytes, { binary: true });
      callback();
      return;
    }
    // Full: acknowledge this write only once it reached the kernel.
    this.#ws.send(bytes, { binary: true }, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    // WebSocket has no half-close: a normal close after what was written is flushed.
    if (!this.#closed) this.#ws.close(1000);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#closed) {
      this.#closed = true;
      // A destroy is a cut (slow consumer, shutdown deadline): no closing handshake.
      this.#ws.terminate();
    }
    callback(error);
  }
}

/** Wraps an accepted WebSocket as a conduit for `NexoNode.accept`. */
export function webSocketConduit(ws: WebSocket, peer: Omit<PeerInfo, 'transport'>): Conduit {
  return { stream: new WebSocketDuplex(ws), peer: { transport: 'ws', ...peer } };
}
