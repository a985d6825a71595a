import { FrameCutter } from './cutter.js';
import type { RecordLayer } from './record.js';
import { CHANNEL_DEFAULTS, type ChannelOptions, type ChannelStats, ReliableChannel } from './reliable.js';
import { MAX_MESSAGE } from './wire.js';

export interface SessionEvents {
  onData(bytes: Uint8Array): boolean;
  onEnd(): void;
  onDrain(): void;
  /** Once; with an error when the peer was given up on or the session was cut. */
  onClose(error?: Error): void;
}

/**
 * One end of a secure session (spec §13.3), the same on the node and in the sensor: a byte stream in and out
 * over sealed records. Outgoing bytes are cut at frame boundaries (FrameCutter), sent reliably
 * (ReliableChannel) in records (RecordLayer); incoming records are opened, acknowledged and delivered in
 * order. It owns one timer, and nothing else: the socket belongs to whoever made it.
 */
export class SecureSession {
  readonly channel: ReliableChannel;
  readonly #cutter = new FrameCutter(MAX_MESSAGE);
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #peerEnded = false;
  #ending = false;
  /** When the last authentic record arrived (ms, the channel's clock). */
  lastReceived: number;
  /** Records that arrived authentic. */
  recordsIn = 0;

  constructor(
    readonly record: RecordLayer,
    private readonly sendDatagram: (bytes: Uint8Array) => void,
    private readonly events: SessionEvents,
    options: Partial<ChannelOptions> = {},
  ) {
    const now = options.now ?? Date.now;
    this.lastReceived = now();
    this.channel = new ReliableChannel(
      { ...CHANNEL_DEFAULTS, now, random: Math.random, ...options },
      {
        transmit: (plain) => this.sendDatagram(this.record.seal(plain)),
        deliver: (bytes) => this.events.onData(bytes),
        ended: () => {
          this.#peerEnded = true;
          this.events.onEnd();
          this.#closeIfDone();
        },
        writable: () => this.events.onDrain(),
        failed: (reason) => this.#close(new Error(`UDP session lost: ${reason}`)),
        setTimer: (ms) => this.#arm(ms),
      },
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  get stats(): ChannelStats & { rejected: number; replayed: number } {
    return { ...this.channel.stats, ...this.record.stats };
  }

  /** A RECORD datagram for this session. False when it did not verify or was a replay (counted). */
  receive(datagram: Uint8Array): boolean {
    if (this.#closed) return false;
    const plain = this.record.open(datagram);
    if (plain === undefined) return false;
    this.recordsIn++;
    this.lastReceived = Date.now();
    this.channel.receive(plain);
    this.#closeIfDone();
    return true;
  }

  /** False: wait for onDrain before writing more. */
  write(bytes: Uint8Array): boolean {
    if (this.#closed || this.#ending) return false;
    let ok = true;
    for (const message of this.#cutter.push(bytes)) ok = this.channel.send(message) && ok;
    return ok;
  }

  /** Graceful end: everything written is delivered, then FIN. */
  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    for (const message of this.#cutter.flush()) this.channel.send(message);
    this.channel.finish();
    this.#closeIfDone();
  }

  pauseReceiving(): void {
    this.channel.pauseReceiving();
  }

  resumeReceiving(): void {
    this.channel.resumeReceiving();
  }

  destroy(error?: Error): void {
    this.#close(error);
  }

  #closeIfDone(): void {
    if (this.#ending && this.#peerEnded && this.channel.drained) this.#close(undefined);
  }

  #arm(ms: number | undefined): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (ms === undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.channel.onTimer();
      this.#closeIfDone();
    }, ms);
    this.#timer.unref();
  }

  #close(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.channel.close();
    clearTimeout(this.#timer);
    this.events.onClose(error);
  }
}
