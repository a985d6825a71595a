import type { PartialFile } from './store.js';

/**
 * Appends to a partial upload in order, one write in flight, batching whatever arrived meanwhile into the
 * next write. Each write is a hand-off to the libuv thread pool, which on a busy machine costs the event loop
 * far more than the copy itself; batching makes that once per batch instead of once per chunk. Only one write
 * is ever in flight, so the file stays a contiguous prefix of the upload even if the process dies mid-write.
 */
export class AppendQueue {
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #inFlight: Promise<void> | undefined;
  #error: Error | undefined;

  constructor(
    private readonly partial: PartialFile,
    /** Bytes that may wait for the disk before `push` waits too (backpressure on the upload). */
    private readonly maxPending: number,
  ) {}

  /** The first write that failed, if any. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Queues `data` (kept by reference: do not reuse it). Waits only while `maxPending` bytes wait. */
  async push(data: Uint8Array): Promise<void> {
    if (this.#error !== undefined) throw this.#error;
    this.#pending.push(data);
    this.#pendingBytes += data.length;
    if (this.#inFlight === undefined) this.#start();
    while (this.#pendingBytes >= this.maxPending && this.#inFlight !== undefined) await this.#inFlight;
    if (this.#error !== undefined) throw this.#error;
  }

  /** Resolves once everything queued is written; throws the first write error. */
  async drain(): Promise<void> {
    while (this.#inFlight !== undefined) await this.#inFlight;
    if (this.#error !== undefined) throw this.#error;
  }

  #start(): void {
    const batch = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#inFlight = this.partial.append(batch).then(
      () => this.#next(),
      (err: Error) => {
        this.#error ??= err;
        this.#next();
      },
    );
  }

  #next(): void {
    this.#inFlight = undefined;
    if (this.#pending.length > 0 && this.#error === undefined) this.#start();
  }
}
