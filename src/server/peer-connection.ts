import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Session, type SessionMode } from '../contract/session.js';
import type { NexoError } from '../errors.js';
import type { Conduit } from '../transport/types.js';
import { type ConnectionHost, countLimit } from './host.js';
import { HOG_MS, TURN_MS, waitTurn } from './turns.js';

export enum Phase {
  /** Waiting for a client slot (--max-clients). Not reading. */
  Queued,
  /** Admitted; binary: waiting for HELLO. */
  Handshake,
  Open,
  /** No new requests: the node is draining or the peer said GOAWAY / half-closed. */
  Draining,
  /** Our side ended; waiting for the stream to close. */
  Closing,
  Closed,
}

const PHASE_NAMES: Record<Phase, string> = {
  [Phase.Queued]: 'queued',
  [Phase.Handshake]: 'handshake',
  [Phase.Open]: 'open',
  [Phase.Draining]: 'draining',
  [Phase.Closing]: 'closing',
  [Phase.Closed]: 'closed',
};

/** How long a closing connection may take to flush before it is destroyed. */
const CLOSING_GRACE_MS = 2000;

/** Bytes a closing connection still reads (and drops) while it waits for the peer's FIN. */
const CLOSING_READ_MAX = 64 * 1024;

/** The error listener of a stream whose transport has none (a test's Duplex): errors end in 'close'. */
const ignoreError = () => {};

/**
 * What binary and text connections share: the one write path with its backpressure and slow-consumer rules
 * (spec §7.4), admission, the sweeper's timeouts, and teardown.
 */
export abstract class PeerConnection {
  readonly session: Session;
  readonly stream: Duplex;
  protected phase = Phase.Queued;
  /** Kept only once keepLogger() was called (`--trace`); see `log`. */
  #log: Logger | undefined;
  #writeBlockedSince = 0;
  /** Made on the first whenWritable() that has to wait. */
  #drainWaiters: (() => void)[] | undefined;
  /** The 'drain' listener is added when a write first fills the stream: most sessions never do. */
  #drainListening = false;
  #closingSince = 0;
  /** When this connection's current turn of work began (performance.now(); §7.4.3). */
  #turnStart = 0;
  /** True while the connection waits for its next turn (§7.4.3): nothing is read or run. */
  #yielded = false;
  /** Until then (performance.now()) this connection's turns come only from the queue: it used up one lately. */
  #hogUntil = 0;
  protected deadline = 0; // handshake deadline, set on admission

  constructor(
    conduit: Conduit,
    mode: SessionMode,
    protected readonly host: ConnectionHost,
    id: number,
  ) {
    this.stream = conduit.stream;
    this.session = new Session(id, conduit.peer, mode);
    // Every transport listens for errors itself (what follows is 'close'); one closure per connection for a
    // debug line is only worth it when debug lines are written (bench/idle.ts counts the bytes).
    if (host.log.isLevelEnabled('debug')) {
      this.stream.on('error', (err) => this.log.debug({ err: err.message }, 'stream error'));
    } else if (this.stream.listenerCount('error') === 0) this.stream.on('error', ignoreError);
    this.stream.on('close', () => this.#closed());
  }

  /**
   * This connection's logger (`conn: id` on every line). A connection writes a line or two in its life
   * (connected, disconnected), so the child logger is made for each line rather than held by every idle
   * session (~170 bytes each, bench/idle.ts); keepLogger() holds it for one that logs every frame.
   */
  protected get log(): Logger {
    return this.#log ?? this.host.log.child({ conn: this.session.id });
  }

  protected keepLogger(): void {
    this.#log = this.log;
  }

  get open(): boolean {
    return this.phase < Phase.Closing;
  }

  /** The phase's name, for metrics (nexo_connections{state}). */
  get state(): string {
    return PHASE_NAMES[this.phase];
  }

  /** True when nothing is in progress, so a draining node may close it now. */
  abstract get idle(): boolean;

  /** The node gave it a slot: start the handshake and read. */
  abstract admit(): void;
  /** No slot yet: tell the peer it waits at `position` (1 = next). */
  abstract queued(position: number): void;
  /** Ends the connection before admission (queue full, queue timeout, node stopping). */
  abstract refuse(error: NexoError): void;
  /** The node is draining: stop taking requests, finish what is open, then close (spec §7.3). */
  /** §7.3 Going away; `hint` (§7.3.5) rides in the binary GOAWAY payload beside code and message. */
  abstract goAway(error: NexoError, hint?: ReconnectHint): void;
  /** Periodic check of this mode's timeouts. */
  protected abstract tickMode(now: number): void;
  /** Called once when the stream is gone. */
  protected abstract cleanup(): void;

  tick(now: number): void {
    if (this.phase === Phase.Closed) return;
    if (
      this.#writeBlockedSince !== 0 &&
      now - this.#writeBlockedSince > this.host.options.slowPeerTimeoutMs
    ) {
      this.slowConsumer(`replies unread for ${now - this.#writeBlockedSince} ms`);
      return;
    }
    if (this.phase === Phase.Closing) {
      if (now - this.#closingSince > CLOSING_GRACE_MS) this.stream.destroy();
      return;
    }
    this.tickMode(now);
  }

  get writeBlocked(): boolean {
    return this.#writeBlockedSince !== 0;
  }

  /** The one write path. Returns false when the peer is not keeping up (stop producing). */
  protected writeParts(parts: Uint8Array[]): boolean {
    if (parts.length === 0 || this.phase === Phase.Closed || this.stream.destroyed) return true;
    const stream = this.stream;
    let ok = true;
    let bytes = 0;
    if (parts.length === 1) {
      ok = stream.write(parts[0]!);
      bytes = parts[0]!.length;
    } else {
      stream.cork();
      for (const part of parts) {
        ok = stream.write(part);
        bytes += part.length;
      }
      stream.uncork();
    }
    this.host.stats.bytesOut += bytes;
    if (stream.writableLength > this.host.options.maxOutbound) {
      this.slowConsumer(`${stream.writableLength} bytes of replies unread`);
      return false;
    }
    if (!ok && this.#writeBlockedSince === 0) {
      this.#writeBlockedSince = this.host.now() || Date.now();
      if (!this.#drainListening) {
        // write() returned false, so the stream emits 'drain' once its buffer empties: listening from now on
        // catches it (and every later one).
        this.#drainListening = true;
        stream.on('drain', () => this.#drained());
      }
    }
    return ok;
  }

  /**
   * Input arrived or the peer read our replies: a new turn of work begins now (returns true), or, for a
   * connection that used up a whole turn within HOG_MS, when its place in the queue comes (§7.4.3): then
   * `resume` runs it and this returns false.
   */
  protected beginTurn(resume: () => void): boolean {
    if (this.#yielded) return false;
    const now = performance.now();
    if (now < this.#hogUntil) {
      this.yieldTurn(resume);
      return false;
    }
    this.#turnStart = now;
    return true;
  }

  /** The current turn used its share of the event loop (§7.4.3): the caller stops and calls yieldTurn(). */
  protected turnSpent(now = performance.now()): boolean {
    return now - this.#turnStart > TURN_MS;
  }

  /** While true, the connection waits for its next turn: nothing is read or run. */
  protected get yielding(): boolean {
    return this.#yielded;
  }

  /** Stops reading and lets the other connections run before `resume` continues this one (§7.4.3). */
  protected yieldTurn(resume: () => void): void {
    if (this.#yielded) return;
    this.#yielded = true;
    this.stream.pause();
    waitTurn(() => {
      this.#yielded = false;
      if (this.phase === Phase.Closed) return;
      this.#turnStart = performance.now();
      this.#hogUntil = this.#turnStart + HOG_MS;
      resume();
    });
  }

  /** Resolves when the peer has read enough for more writes. */
  whenWritable(): Promise<void> {
    if (this.#writeBlockedSince === 0 || this.phase === Phase.Closed) return Promise.resolve();
    this.#drainWaiters ??= [];
    const waiters = this.#drainWaiters;
    return new Promise((resolve) => waiters.push(resolve));
  }

  /** Hook for subclasses: writes may go on. */
  protected onWritable(): void {}

  /** Stops reading or writing more: flush what is queued and half-close. */
  protected endGracefully(): void {
    if (this.phase >= Phase.Closing) return;
    this.phase = Phase.Closing;
    this.#closingSince = this.host.now() || Date.now();
    this.stream.end();
    // Keep reading (subclasses drop what arrives) so the peer's FIN is seen at once, not at the grace
    // timeout, unless the input is refused outright (an oversize frame): then nothing more is read at all.
    // A peer that keeps streaming (garbage, test/timing/attack-garbage.test.ts) is read no further than
    // CLOSING_READ_MAX: what it sends after that costs the node nothing until the grace timeout cuts it.
    if (this.readsWhileClosing()) {
      let dropped = 0;
      this.stream.on('data', (chunk: Buffer) => {
        dropped += chunk.length;
        if (dropped > CLOSING_READ_MAX) this.stream.pause();
      });
      this.stream.resume();
    }
  }

  /** Whether bytes arriving after our close should still be read (and dropped). */
  protected readsWhileClosing(): boolean {
    return true;
  }

  protected slowConsumer(reason: string): void {
    this.log.warn({ peer: this.session.peer.address, reason }, 'dropping slow consumer');
    countLimit(this.host.stats, 'slow_consumer');
    this.destroy();
  }

  destroy(): void {
    if (this.phase === Phase.Closed) return;
    this.stream.destroy();
  }

  #drained(): void {
    this.#writeBlockedSince = 0;
    this.#wakeWriters();
    if (this.beginTurn(() => this.onWritable())) this.onWritable();
  }

  #wakeWriters(): void {
    const waiters = this.#drainWaiters;
    if (waiters === undefined) return;
    this.#drainWaiters = undefined;
    for (const resolve of waiters) resolve();
  }

  #closed(): void {
    if (this.phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    this.#wakeWriters();
    try {
      this.cleanup();
    } finally {
      this.session.close();
      this.host.closed(this);
    }
  }

  protected lifetime(): number {
    return Date.now() - this.session.openedAt;
  }
}

/** §7.3.5 Where and when to reconnect, sent in GOAWAY by a node that shuts down. */
export interface ReconnectHint {
  /** Wait this long before connecting again (0: at once, to another node). */
  readonly reconnectMs: number;
  /** Other live nodes of the cluster as host:port (protocol port), from its membership; at most 8. */
  readonly alternates?: readonly string[];
}
