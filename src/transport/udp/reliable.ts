import { PLAIN_HEADER } from './wire.js';

/** §13.3.6 flags of a record's plaintext. */
const HAS_MESSAGE = 0x01;
/** The message is the sender's last: its stream ends after it (it is empty). */
const FIN = 0x02;
/** Messages received past `expected` that the sack bitmap can name. */
const SACK_BITS = 32;

export interface ChannelOptions {
  /** Messages sent and not yet acknowledged, at most (§13.3.7). */
  window: number;
  /** Messages buffered ahead of the next one expected, at most; later ones are dropped unacknowledged. */
  receiveWindow: number;
  initialRtoMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  /** Transmissions of one message before the peer is given up on. */
  maxTries: number;
  /** An acknowledgement waits this long for a message to ride on. */
  ackDelayMs: number;
  now(): number;
  /** In [0, 1): the jitter of retransmission delays. */
  random(): number;
}

export const CHANNEL_DEFAULTS: Omit<ChannelOptions, 'now' | 'random'> = {
  window: 64,
  receiveWindow: 128,
  initialRtoMs: 250,
  minRtoMs: 30,
  maxRtoMs: 4000,
  maxTries: 12,
  ackDelayMs: 5,
};

export interface ChannelHandlers {
  /** Seal and send this plaintext in a new record. */
  transmit(plaintext: Uint8Array): void;
  /** The next message, in order, once. Return false to stop taking new ones until `resumeReceiving()`. */
  deliver(message: Uint8Array): boolean;
  /** The peer's stream ended (its FIN was delivered, after all its messages). */
  ended(): void;
  /** The window has room again after `send` returned false. */
  writable(): void;
  /** A message went unacknowledged `maxTries` times: the peer is gone. */
  failed(reason: string): void;
  /** Arm (or, with undefined, cancel) the one timer of the channel. */
  setTimer(ms: number | undefined): void;
}

export interface ChannelStats {
  messagesSent: number;
  retransmissions: number;
  delivered: number;
  /** Messages received again (a lost ack, a duplicating network): dropped, acknowledged again. */
  duplicates: number;
  /** Messages too far ahead of the next expected (or while not receiving): dropped unacknowledged. */
  outOfWindow: number;
  acksSent: number;
  /** Smoothed round-trip time, ms (RFC 6298), or undefined before the first sample. */
  srttMs: number | undefined;
}

interface Outgoing {
  readonly number: number;
  readonly bytes: Uint8Array;
  readonly fin: boolean;
  sentAt: number;
  firstSentAt: number;
  tries: number;
  /** When to send again if still unacknowledged. */
  due: number;
  fastRetransmitted: boolean;
}

/**
 * Reliable, ordered delivery of messages over records that may be lost, duplicated or reordered (spec
 * §13.3.6-13.3.7): message numbers, a cumulative ack with a selective bitmap in every record, retransmission
 * after an RTO estimated as RFC 6298 with exponential backoff and jitter, fast retransmission when three later
 * messages were acknowledged, duplicate suppression, and delivery in order. No I/O and no clock of its own:
 * the session gives it records and a timer.
 */
export class ReliableChannel {
  readonly stats: ChannelStats = {
    messagesSent: 0,
    retransmissions: 0,
    delivered: 0,
    duplicates: 0,
    outOfWindow: 0,
    acksSent: 0,
    srttMs: undefined,
  };
  // Send side.
  #nextNumber = 0;
  readonly #inFlight: Outgoing[] = [];
  readonly #queue: { bytes: Uint8Array; fin: boolean }[] = [];
  #blocked = false;
  #rttvar = 0;
  #rto: number;
  // Receive side.
  #expected = 0;
  readonly #ahead = new Map<number, { bytes: Uint8Array; fin: boolean }>();
  #receiving = true;
  #ackDue: number | undefined;
  #finished = false;
  #failed = false;

  constructor(
    private readonly options: ChannelOptions,
    private readonly handlers: ChannelHandlers,
  ) {
    this.#rto = options.initialRtoMs;
  }

  /** Messages sent and not yet acknowledged, plus those waiting for room in the window. */
  get unacknowledged(): number {
    return this.#inFlight.length + this.#queue.length;
  }

  get failed(): boolean {
    return this.#failed;
  }

  /** Sends a message reliably. False: the window and its queue are full; wait for `writable`. */
  send(bytes: Uint8Array): boolean {
    this.#enqueue(bytes, false);
    return !this.#blocked;
  }

  /** Ends this side's stream: an empty FIN message after everything sent before. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#enqueue(new Uint8Array(0), true);
  }

  /** True when every message sent (FIN included, if sent) was acknowledged. */
  get drained(): boolean {
    return this.#inFlight.length === 0 && this.#queue.length === 0;
  }

  /** Stops delivering new messages (the reader is behind); they are dropped until resumed. */
  pauseReceiving(): void {
    this.#receiving = false;
  }

  resumeReceiving(): void {
    if (this.#receiving) return;
    this.#receiving = true;
    this.#deliverReady();
  }

  /** A record's plaintext from the peer (already authenticated by the record layer). */
  receive(plain: Uint8Array): void {
    if (this.#failed || plain.length < PLAIN_HEADER) return;
    const view = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
    this.#onAck(view.getUint32(0), view.getUint32(4));
    const flags = plain[8]!;
    if ((flags & HAS_MESSAGE) === 0) return;
    const number = view.getUint32(9);
    const message = { bytes: plain.subarray(PLAIN_HEADER), fin: (flags & FIN) !== 0 };
    if (number < this.#expected || this.#ahead.has(number)) {
      this.stats.duplicates++;
      this.#scheduleAck(0); // the ack was probably lost: say it again at once
      return;
    }
    if (number - this.#expected >= this.options.receiveWindow || !this.#receiving) {
      this.stats.outOfWindow++;
      return;
    }
    this.#ahead.set(number, message);
    const inOrder = number === this.#expected;
    this.#deliverReady();
    // Out of order: tell the sender at once what is missing; in order: let the ack ride on a reply.
    this.#scheduleAck(inOrder ? this.options.ackDelayMs : 0);
  }

  /** The timer fired. */
  onTimer(): void {
    if (this.#failed) return;
    const now = this.options.now();
    if (this.#ackDue !== undefined && now >= this.#ackDue) this.#transmit(undefined);
    for (const out of this.#inFlight) {
      if (out.due > now) continue;
      if (out.tries >= this.options.maxTries) {
        this.#fail(`no acknowledgement after ${out.tries} tries in ${now - out.firstSentAt} ms`);
        return;
      }
      this.#retransmit(out, now, false);
    }
    this.#armTimer();
  }

  /** Forget everything (the session is over). */
  close(): void {
    this.#failed = true;
    this.#inFlight.length = 0;
    this.#queue.length = 0;
    this.#ahead.clear();
    this.handlers.setTimer(undefined);
  }

  // ---- sending ---------------------------------------------------------------------------------------

  #enqueue(bytes: Uint8Array, fin: boolean): void {
    if (this.#failed) return;
    this.#queue.push({ bytes, fin });
    this.#pump();
    if (this.#queue.length >= this.options.window) this.#blocked = true;
  }

  #pump(): void {
    const now = this.options.now();
    while (this.#queue.length > 0 && this.#inFlight.length < this.options.window) {
      const { bytes, fin } = this.#queue.shift()!;
      const out: Outgoing = {
        number: this.#nextNumber++,
        bytes,
        fin,
        sentAt: now,
        firstSentAt: now,
        tries: 1,
        due: now + this.#backoff(1),
        fastRetransmitted: false,
      };
      this.#inFlight.push(out);
      this.stats.messagesSent++;
      this.#transmit(out);
    }
    if (this.#blocked && this.#queue.length < this.options.window) {
      this.#blocked = false;
      this.handlers.writable();
    }
    this.#armTimer();
  }

  #retransmit(out: Outgoing, now: number, fast: boolean): void {
    out.tries++;
    out.sentAt = now;
    out.due = now + this.#backoff(out.tries);
    if (fast) out.fastRetransmitted = true;
    this.stats.retransmissions++;
    this.#transmit(out);
  }

  /** §13.3.7 RTO × 2^(tries−1), at most maxRto, times a random factor in [0.8, 1.2). */
  #backoff(tries: number): number {
    const base = Math.min(this.options.maxRtoMs, this.#rto * 2 ** (tries - 1));
    return base * (0.8 + 0.4 * this.options.random());
  }

  /** One record: the current ack state, and the message if any. */
  #transmit(out: Outgoing | undefined): void {
    const length = PLAIN_HEADER + (out?.bytes.length ?? 0);
    const plain = new Uint8Array(length);
    const view = new DataView(plain.buffer);
    view.setUint32(0, this.#expected);
    view.setUint32(4, this.#sack());
    if (out !== undefined) {
      plain[8] = HAS_MESSAGE | (out.fin ? FIN : 0);
      view.setUint32(9, out.number);
      plain.set(out.bytes, PLAIN_HEADER);
    } else this.stats.acksSent++;
    this.#ackDue = undefined;
    this.handlers.transmit(plain);
  }

  #sack(): number {
    let bits = 0;
    for (let i = 0; i < SACK_BITS; i++) if (this.#ahead.has(this.#expected + 1 + i)) bits |= 1 << i;
    return bits >>> 0;
  }

  #onAck(ack: number, sack: number): void {
    const now = this.options.now();
    let progressed = false;
    let highestSacked = -1;
    for (let i = 0; i < this.#inFlight.length; i++) {
      const out = this.#inFlight[i]!;
      const offset = out.number - ack - 1;
      const acked = out.number < ack || (offset >= 0 && offset < SACK_BITS && ((sack >>> offset) & 1) === 1);
      if (!acked) continue;
      if (out.tries === 1) this.#sample(now - out.sentAt); // Karn: only messages sent once
      if (out.number >= ack) highestSacked = Math.max(highestSacked, out.number);
      this.#inFlight.splice(i--, 1);
      progressed = true;
    }
    if (highestSacked >= 0) {
      for (const out of this.#inFlight) {
        if (!out.fastRetransmitted && out.number + 3 <= highestSacked) this.#retransmit(out, now, true);
      }
    }
    if (progressed) this.#pump();
  }

  /** RFC 6298 §2. */
  #sample(rtt: number): void {
    const srtt = this.stats.srttMs;
    if (srtt === undefined) {
      this.stats.srttMs = rtt;
      this.#rttvar = rtt / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(srtt - rtt);
      this.stats.srttMs = 0.875 * srtt + 0.125 * rtt;
    }
    const { minRtoMs, maxRtoMs } = this.options;
    this.#rto = Math.min(maxRtoMs, Math.max(minRtoMs, this.stats.srttMs + 4 * this.#rttvar));
  }

  // ---- receiving -------------------------------------------------------------------------------------

  #deliverReady(): void {
    while (this.#receiving) {
      const next = this.#ahead.get(this.#expected);
      if (next === undefined) return;
      this.#ahead.delete(this.#expected);
      this.#expected++;
      if (next.fin) {
        // Acknowledge the FIN before anything else: the session may close at once, and the peer waits for it.
        this.#transmit(undefined);
        this.handlers.ended();
        continue;
      }
      this.stats.delivered++;
      if (!this.handlers.deliver(next.bytes)) this.#receiving = false;
    }
  }

  #scheduleAck(delay: number): void {
    if (this.#failed) return;
    const due = this.options.now() + delay;
    if (this.#ackDue === undefined || due < this.#ackDue) this.#ackDue = due;
    if (delay === 0) this.#transmit(undefined);
    this.#armTimer();
  }

  #armTimer(): void {
    if (this.#failed) return;
    let next = this.#ackDue ?? Number.POSITIVE_INFINITY;
    for (const out of this.#inFlight) if (out.due < next) next = out.due;
    this.handlers.setTimer(
      next === Number.POSITIVE_INFINITY ? undefined : Math.max(0, next - this.options.now()),
    );
  }

  #fail(reason: string): void {
    this.close();
    this.handlers.failed(reason);
  }
}
