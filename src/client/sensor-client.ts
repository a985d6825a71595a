import { NexoError } from '../errors.js';
import { METRIC_NAME, type ReadingInput, type SensorMeta } from '../wire/telemetry.js';
import type { NexoClient } from './client.js';
import { Emitter } from './emitter.js';

export interface SensorClientOptions extends SensorMeta {
  /** The sensor id (1..64 of A-Z a-z 0-9 . _ : -). */
  sensor: string;
  /** Readings per request, 1..1000 (default 100). */
  batchSize?: number;
  /**
   * Wait up to this long for a batch to fill before sending it (default 0: send at once; Infinity: only full
   * batches, and the rest on flush()).
   */
  lingerMs?: number;
  /** Batches sent before the first is acknowledged (default 4). */
  maxInFlight?: number;
  /** Unacknowledged readings kept while the node is unreachable; beyond it the oldest are dropped. */
  maxBuffered?: number;
  /**
   * The first sequence number. Default: the time in microseconds, so that a sensor restarted later never
   * reuses a number the node has stored (which would make its new readings look like duplicates).
   */
  firstSeq?: number;
  /** Per request, ms (default 30000). */
  requestTimeoutMs?: number;
}

export interface SensorAck {
  /** First and last seq of the batch. */
  first: number;
  last: number;
  count: number;
  accepted: number;
  duplicates: number;
  /** From the first send of the batch to its ack. */
  ms: number;
}

export type SensorClientEvents = {
  ack: [ack: SensorAck];
  /** Sending stopped (connection lost, rate limited); readings are kept until it resumes. */
  buffering: [info: { buffered: number; reason: string }];
  /** Sending resumed after `buffering`. */
  resumed: [info: { buffered: number }];
  /** The node refused readings for good (invalid); they are dropped. */
  rejected: [info: { readings: Entry[]; error: NexoError }];
  /** The buffer was full: the oldest unsent readings were dropped. */
  dropped: [info: { count: number }];
};

interface Entry extends ReadingInput {
  seq: number;
  ts: number;
}

interface Batch {
  entries: Entry[];
  sentAt: number;
  controller: AbortController;
}

/**
 * A sensor's connection to nexo: numbers each reading, sends them in batches, and keeps every reading until
 * the node acknowledges it (which means it is on disk). While the node is unreachable or says to slow down,
 * readings stay in a bounded buffer; when it comes back they are sent again, oldest first. The node stores
 * each (sensor, seq) once, so sending again what it may already have is safe.
 */
export class SensorClient extends Emitter<SensorClientEvents> {
  readonly sensor: string;
  readonly #client: NexoClient;
  readonly #meta: SensorMeta;
  readonly #batchSize: number;
  readonly #lingerMs: number;
  readonly #maxInFlight: number;
  readonly #maxBuffered: number;
  readonly #timeoutMs: number;
  #nextSeq: number;
  /** Not sent yet (or sent and failed, waiting to be sent again), oldest first. */
  #queue: Entry[] = [];
  #head = 0;
  readonly #inFlight = new Set<Batch>();
  /** Sending is paused until this resolves (reconnect, rate limit). */
  #paused: Promise<void> | undefined;
  #failed: Entry[] = [];
  #scheduled = false;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  #metaSent = false;
  /** 'buffering' was emitted and 'resumed' not yet. */
  #announced = false;
  readonly #unsubscribe: (() => void)[];
  readonly stats = { reported: 0, acked: 0, duplicates: 0, rejected: 0, dropped: 0, resent: 0 };

  constructor(client: NexoClient, options: SensorClientOptions) {
    super();
    this.#client = client;
    this.sensor = options.sensor;
    this.#meta = {};
    if (options.kind !== undefined) this.#meta.kind = options.kind;
    if (options.location !== undefined) this.#meta.location = options.location;
    this.#batchSize = Math.min(1000, Math.max(1, options.batchSize ?? 100));
    this.#lingerMs = options.lingerMs ?? 0;
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 4);
    this.#maxBuffered = Math.max(this.#batchSize, options.maxBuffered ?? 100_000);
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#nextSeq = options.firstSeq ?? Date.now() * 1000;
    // Requests wait inside the client while it reconnects; say so, so a status line can show it.
    this.#unsubscribe = [
      client.on('disconnect', (error) => this.#buffering(error?.message ?? 'the connection closed')),
      client.on('connect', () => {
        if (this.#paused === undefined) this.#resumed();
      }),
    ];
  }

  #buffering(reason: string): void {
    if (this.#announced || this.#closed) return;
    this.#announced = true;
    this.emit('buffering', { buffered: this.buffered, reason });
  }

  #resumed(): void {
    if (!this.#announced) return;
    this.#announced = false;
    this.emit('resumed', { buffered: this.buffered });
  }

  /** Readings not yet acknowledged (queued, failed or in flight). */
  get buffered(): number {
    let n = this.#queue.length - this.#head + this.#failed.length;
    for (const b of this.#inFlight) n += b.entries.length;
    return n;
  }

  get paused(): boolean {
    return this.#paused !== undefined;
  }

  /** Queues a reading; returns its sequence number. Throws INVALID_READING for values the node would refuse. */
  report(
    metric: string,
    value: number,
    extra: { ts?: number; unit?: string; tags?: Record<string, string> } = {},
  ): number {
    if (this.#closed) throw new NexoError('CONNECTION_LOST', 'the sensor client is closed');
    if (!METRIC_NAME.test(metric)) {
      throw new NexoError(
        'TELEMETRY_INVALID_READING',
        `metric ${JSON.stringify(metric.slice(0, 40))} is not valid`,
      );
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new NexoError('TELEMETRY_INVALID_READING', `value ${String(value)} is not a finite number`);
    }
    const seq = this.#nextSeq++;
    const entry: Entry = { metric, value, seq, ts: extra.ts ?? Date.now() };
    if (extra.unit !== undefined) entry.unit = extra.unit;
    if (extra.tags !== undefined) entry.tags = extra.tags;
    this.#queue.push(entry);
    this.stats.reported++;
    this.#trim();
    this.#schedule();
    return seq;
  }

  /** Resolves when every reading reported so far is acknowledged (or dropped/rejected). */
  flush(): Promise<void> {
    if (this.buffered === 0) return Promise.resolve();
    this.#send(true);
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Flushes, then stops. The NexoClient stays open (it belongs to the caller). */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#lingerTimer);
    for (const off of this.#unsubscribe) off();
  }

  // ---- sending ------------------------------------------------------------------------------------

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Readings reported in the same turn travel together.
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#send(false);
    });
  }

  #send(force: boolean): void {
    if (this.#paused !== undefined) return;
    while (this.#inFlight.size < this.#maxInFlight) {
      const waiting = this.#queue.length - this.#head;
      if (waiting === 0) break;
      if (!force && waiting < this.#batchSize && this.#lingerMs > 0) {
        if (Number.isFinite(this.#lingerMs)) {
          this.#lingerTimer ??= setTimeout(() => {
            this.#lingerTimer = undefined;
            this.#send(true);
          }, this.#lingerMs);
        }
        break;
      }
      const entries = this.#queue.slice(this.#head, this.#head + this.#batchSize);
      this.#head += entries.length;
      if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#start(entries);
    }
  }

  #start(entries: Entry[]): void {
    const batch: Batch = { entries, sentAt: performance.now(), controller: new AbortController() };
    this.#inFlight.add(batch);
    const meta = this.#metaSent ? undefined : this.#meta;
    const request =
      entries.length === 1
        ? this.#client.telemetry.report(this.sensor, entries[0]!, meta, {
            timeout: this.#timeoutMs,
            signal: batch.controller.signal,
          })
        : this.#client.telemetry.reportBatch(this.sensor, entries, meta, {
            timeout: this.#timeoutMs,
            signal: batch.controller.signal,
          });
    request.then(
      (ack) => {
        this.#metaSent = true;
        this.#inFlight.delete(batch);
        this.stats.acked += ack.accepted + ack.duplicates;
        this.stats.duplicates += ack.duplicates;
        this.emit('ack', {
          first: entries[0]!.seq,
          last: entries.at(-1)!.seq,
          count: entries.length,
          accepted: ack.accepted,
          duplicates: ack.duplicates,
          ms: performance.now() - batch.sentAt,
        });
        this.#settled();
      },
      (err: unknown) => {
        this.#inFlight.delete(batch);
        this.#failedBatch(
          batch,
          err instanceof NexoError ? err : new NexoError('INTERNAL_ERROR', String(err)),
        );
        this.#settled();
      },
    );
  }

  #failedBatch(batch: Batch, error: NexoError): void {
    if (this.#closed && error.code === 'CANCELLED') return;
    if (error.retryable || error.code === 'CANCELLED' || error.code === 'GOING_AWAY') {
      // Kept, to be sent again, oldest first, once the node can take them.
      this.#failed.push(...batch.entries);
      if (error.code !== 'CANCELLED') this.#pause(error);
      return;
    }
    // Refused for good. A batch names the first bad reading; the others are sent again without it.
    const index = error.details?.index;
    if (typeof index === 'number' && index >= 0 && index < batch.entries.length && batch.entries.length > 1) {
      const [bad] = batch.entries.splice(index, 1);
      this.stats.rejected++;
      this.emit('rejected', { readings: [bad!], error });
      this.#failed.push(...batch.entries);
      return;
    }
    this.stats.rejected += batch.entries.length;
    this.emit('rejected', { readings: batch.entries, error });
  }

  /** Stops sending, cancels what is in flight, and resumes when the client is usable again. */
  #pause(error: NexoError): void {
    if (this.#paused !== undefined) return;
    this.#buffering(error.message);
    for (const b of this.#inFlight) b.controller.abort();
    // A nexo node answers RATE_LIMITED once the announced wait (up to 1 s) has passed: retry about now.
    const retryAfter = Number(error.details?.retryAfterMs ?? 0);
    const delay = error.code === 'RATE_LIMITED' ? Math.max(10, retryAfter - 1000) : 50;
    this.#paused = new Promise<void>((resolve) => setTimeout(resolve, delay))
      .then(() => this.#client.ready())
      .then(
        () => {
          this.#paused = undefined;
          this.#resumed();
          this.#requeueFailed();
          this.#send(true);
        },
        () => {
          // The client gave up (closed): nothing more can be sent.
          this.#paused = undefined;
          this.#closed = true;
          this.#wakeIdle();
        },
      );
  }

  /** Failed readings go back to the front of the queue, in their original order. */
  #requeueFailed(): void {
    if (this.#failed.length === 0) return;
    const failed = this.#failed.sort((a, b) => a.seq - b.seq);
    this.#failed = [];
    this.stats.resent += failed.length;
    this.#queue = [...failed, ...this.#queue.slice(this.#head)];
    this.#head = 0;
  }

  #settled(): void {
    if (this.#paused === undefined && this.#inFlight.size === 0 && this.#failed.length > 0)
      this.#requeueFailed();
    if (this.#paused === undefined) this.#send(this.#idleWaiters.length > 0);
    if (this.buffered === 0) this.#wakeIdle();
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Keeps the buffer bounded: the oldest readings not yet sent go first. */
  #trim(): void {
    const over = this.buffered - this.#maxBuffered;
    if (over <= 0) return;
    const fromFailed = Math.min(over, this.#failed.length);
    if (fromFailed > 0) {
      this.#failed.sort((a, b) => a.seq - b.seq);
      this.#failed.splice(0, fromFailed);
    }
    const fromQueue = Math.min(over - fromFailed, this.#queue.length - this.#head);
    this.#head += fromQueue;
    const dropped = fromFailed + fromQueue;
    if (dropped > 0) {
      this.stats.dropped += dropped;
      this.emit('dropped', { count: dropped });
    }
  }
}

export type { Entry as BufferedReading };
