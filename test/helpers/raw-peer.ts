import net from 'node:net';
import type { Duplex } from 'node:stream';
import { FrameType, PREFACE } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import type { DecodedFrame, Frame } from '../../src/protocol/frame.js';
import { packValue, unpackValue } from '../../src/protocol/payload.js';

/** Where a RawPeer connects: a TCP port on 127.0.0.1, or any way to open a byte stream (a WebSocket). */
export type PeerTarget = number | (() => Promise<Duplex>);

/**
 * A frame-level test peer: the test decides every byte it sends and sees every frame that comes back.
 * Deliberately separate from the client library, so protocol tests do not depend on it. It works over any
 * byte stream, so the same tests run over TCP and WebSocket (helpers/transports.ts).
 */
export class RawPeer {
  readonly socket: Duplex;
  readonly frames: DecodedFrame[] = [];
  readonly decoder = new FrameDecoder({ maxPayload: 64 << 20, preface: true });
  closed = false;
  decodeError: Error | undefined;
  #waiters: (() => void)[] = [];
  #nextId = 1;

  private constructor(socket: Duplex) {
    this.socket = socket;
    socket.on('data', (chunk) => {
      try {
        this.decoder.push(chunk);
        for (let f = this.decoder.next(); f; f = this.decoder.next()) this.frames.push(f);
      } catch (err) {
        this.decodeError = err as Error;
      }
      this.#wake();
    });
    socket.on('error', () => {});
    // The server ending its side is the close (a WebSocket stream ends without a 'close' of its own).
    const closed = () => {
      this.closed = true;
      this.#wake();
    };
    socket.on('end', closed);
    socket.on('close', closed);
  }

  static async connect(target: PeerTarget, host = '127.0.0.1'): Promise<RawPeer> {
    if (typeof target === 'function') return new RawPeer(await target());
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port: target, host, noDelay: true }, () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  /** Connects, sends preface + HELLO and waits for WELCOME. */
  static async open(
    target: PeerTarget,
    hello: Record<string, unknown> = { versions: [1], client: 'raw-test' },
  ): Promise<RawPeer> {
    const peer = await RawPeer.connect(target);
    peer.write(PREFACE);
    peer.send(FrameType.HELLO, 0, 0, packValue(hello));
    const welcome = await peer.next();
    if (welcome.type !== FrameType.WELCOME) throw new Error(`expected WELCOME, got ${welcome.type}`);
    return peer;
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send(type: number, flags: number, id: number, payload?: Uint8Array): void {
    this.write(encodeFrame(type, flags, id, payload));
  }

  /** Sends a REQUEST and returns its id. */
  request(service: string, method: string, args: unknown, id = this.#nextId++): number {
    this.send(FrameType.REQUEST, 0, id, packValue([service, method, args]));
    return id;
  }

  /** Sends several REQUESTs in one write (so the node reads them together, §2.2); returns their ids. */
  requests(calls: [service: string, method: string, args: unknown][]): number[] {
    const ids = calls.map(() => this.#nextId++);
    this.write(
      Buffer.concat(
        calls.map(([service, method, args], i) =>
          encodeFrame(FrameType.REQUEST, 0, ids[i]!, packValue([service, method, args])),
        ),
      ),
    );
    return ids;
  }

  /** Next frame (waits up to timeoutMs). */
  async next(timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed) throw new Error('connection closed while waiting for a frame');
      if (Date.now() > deadline) throw new Error('timed out waiting for a frame');
      await this.#wait(deadline - Date.now());
    }
    return this.frames.shift() as Frame;
  }

  /** Waits for the final RESPONSE or ERROR of `id`, collecting other frames for it. */
  async reply(id: number, timeoutMs = 5000): Promise<{ type: number; value: unknown; others: Frame[] }> {
    const others: Frame[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex(
        (f) =>
          f.id === id && (f.type === FrameType.RESPONSE || f.type === FrameType.ERROR) && (f.flags & 1) === 0,
      );
      if (index !== -1) {
        const frame = this.frames.splice(index, 1)[0] as Frame;
        for (let i = this.frames.length - 1; i >= 0; i--)
          if (this.frames[i]!.id === id) others.unshift(this.frames.splice(i, 1)[0] as Frame);
        return { type: frame.type, value: unpackValue(frame.payload), others };
      }
      if (this.closed) throw new Error(`connection closed before the reply to ${id}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for the reply to ${id}`);
      await this.#wait(deadline - Date.now());
    }
  }

  /** Resolves when the server closed the connection; returns the frames received before. */
  async closedByServer(timeoutMs = 5000): Promise<DecodedFrame[]> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('server did not close the connection');
      await this.#wait(deadline - Date.now());
    }
    return this.frames;
  }

  close(): void {
    this.socket.destroy();
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(1, ms));
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

export function decodeValue(frame: Frame): unknown {
  return unpackValue(frame.payload);
}
