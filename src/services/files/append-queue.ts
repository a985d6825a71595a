import { SerialWriter } from '../../util/serial-writer.js';
import type { PartialFile } from './store.js';

/** Bytes written between background syncs of an upload (see SerialWriter). */
const SYNC_EVERY = 32 * 1024 * 1024;

/**
 * Appends to a partial upload in order through a SerialWriter: one write in flight, batches of whatever
 * arrived meanwhile, a background sync every 32 MiB so the commit's fsync has little left to write, after
 * which those 32 MiB may leave the page cache (util/page-cache.ts). Uploads under 32 MiB keep theirs.
 */
export class AppendQueue {
  readonly #writer: SerialWriter;

  constructor(
    partial: PartialFile,
    /** Bytes that may wait for the disk before `push` waits too (backpressure on the upload). */
    private readonly maxPending: number,
  ) {
    this.#writer = new SerialWriter((batch) => partial.append(batch), {
      sync: () => partial.sync({ dropCache: true }),
      syncEvery: SYNC_EVERY,
    });
  }

  /** The first write that failed, if any. */
  get error(): Error | undefined {
    return this.#writer.error;
  }

  /** Queues `data` (kept by reference: do not reuse it). Waits only while `maxPending` bytes wait. */
  async push(data: Uint8Array): Promise<void> {
    if (this.#writer.error !== undefined) throw this.#writer.error;
    this.#writer.push(data);
    await this.#writer.whenBelow(this.maxPending);
    if (this.#writer.error !== undefined) throw this.#writer.error;
  }

  /** Resolves once everything queued is written; throws the first write error. */
  drain(): Promise<void> {
    return this.#writer.drain();
  }
}
