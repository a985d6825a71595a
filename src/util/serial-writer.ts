/**
 * Writes byte batches to one file in order: one write in flight, and whatever arrives meanwhile goes into the
 * next write (a single pwritev), so the thread-pool hand-off is paid once per batch rather than once per
 * chunk, and the file stays a contiguous prefix of what was pushed even if the process dies mid-write.
 *
 * With `sync`, a background sync starts every `syncEvery` bytes written. Linux starts writeback only when
 * dirty pages reach a share of RAM (gigabytes here), so without this a large upload's final fsync would
 * write the whole file while both ends wait; with it the disk works during the transfer and the final sync
 * has little left. Uploads and downloads both use it.
 */
export class SerialWriter {
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #queuedBytes = 0; // pending + in flight
  #inFlight: Promise<void> | undefined;
  #syncing: Promise<void> | undefined;
  #sinceSync = 0;
  #error: Error | undefined;
  #waiters: { below: number; resolve: () => void }[] = [];

  constructor(
    private readonly writeBatch: (batch: Uint8Array[]) => Promise<void>,
    private readonly options: { sync?: () => Promise<void>; syncEvery?: number } = {},
  ) {}

  /** The first write or sync that failed, if any. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Bytes pushed and not yet written. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Queues `data` (kept by reference: do not reuse it). */
  push(data: Uint8Array): void {
    this.#pending.push(data);
    this.#pendingBytes += data.length;
    this.#queuedBytes += data.length;
    if (this.#inFlight === undefined && this.#error === undefined) this.#start();
  }

  /** Resolves once fewer than `bytes` wait to be written (or a write failed). */
  whenBelow(bytes: number): Promise<void> {
    if (this.#queuedBytes < bytes || this.#error !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ below: bytes, resolve }));
  }

  /** Resolves once everything queued is written (and a background sync finished); throws the first error. */
  async drain(): Promise<void> {
    while (this.#inFlight !== undefined || this.#syncing !== undefined) {
      await (this.#inFlight ?? this.#syncing);
    }
    if (this.#error !== undefined) throw this.#error;
  }

  #start(): void {
    const batch = this.#pending;
    const bytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#inFlight = this.writeBatch(batch).then(
      () => this.#done(bytes),
      (err: Error) => {
        this.#error ??= err;
        this.#done(bytes);
      },
    );
  }

  #done(bytes: number): void {
    this.#inFlight = undefined;
    this.#queuedBytes -= bytes;
    this.#sinceSync += bytes;
    const { sync, syncEvery = Number.POSITIVE_INFINITY } = this.options;
    if (
      sync !== undefined &&
      this.#sinceSync >= syncEvery &&
      this.#syncing === undefined &&
      this.#error === undefined
    ) {
      this.#sinceSync = 0;
      this.#syncing = sync().then(
        () => {
          this.#syncing = undefined;
        },
        (err: Error) => {
          this.#error ??= err;
          this.#syncing = undefined;
        },
      );
    }
    if (this.#pending.length > 0 && this.#error === undefined) this.#start();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (this.#queuedBytes < w.below || this.#error !== undefined) w.resolve();
      else this.#waiters.push(w);
    }
  }
}
