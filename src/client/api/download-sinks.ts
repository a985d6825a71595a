/**
 * Where a download's bytes go (files-transfer.ts): a local file, written in order and synced as it grows, or
 * a stream such as stdout. Both tell the receiver how much waits, so it can pause the socket while the disk
 * or the reader is behind.
 */
import type fs from 'node:fs/promises';
import { CacheDropper } from '../../util/page-cache.js';
import { SerialWriter } from '../../util/serial-writer.js';
import { writevAll } from '../../util/writev-all.js';

/** A download pauses the socket when this much received data waits for the disk, resumes below LOW. */
export const SINK_HIGH = 8 << 20;
const SINK_LOW = 2 << 20;

/** Where downloaded bytes go, in order. `write` queues; the receiver pauses the socket while it is full. */
export interface Sink {
  readonly buffered: number;
  write(data: Uint8Array, position: number): void;
  /** Resolves when `buffered` fell below the low mark (or a write failed). */
  whenLow(): Promise<void>;
  /** Everything queued is written; throws the first write error. */
  flush(): Promise<void>;
}

/** Bytes written to a download between background syncs (see SerialWriter). */
const SINK_SYNC_EVERY = 32 * 1024 * 1024;

/**
 * Writes a download to a local file through a SerialWriter: in order, one write in flight, batches of what
 * arrived meanwhile (a single pwritev), a background sync every 32 MiB so the final fsync is short, after
 * which those 32 MiB may leave the page cache.
 */
export class FileSink implements Sink {
  readonly #writer: SerialWriter;
  readonly #cache: CacheDropper;
  #position: number | undefined;

  constructor(readonly handle: fs.FileHandle) {
    this.#cache = new CacheDropper(handle.fd);
    this.#writer = new SerialWriter((batch) => this.#writeAll(batch), {
      sync: async () => {
        // Called between writes: everything before #position is written, so after the sync it is on disk
        // and a large download need not keep it in the page cache (util/page-cache.ts).
        const end = this.#position ?? 0;
        await handle.sync();
        void this.#cache.drop(end);
      },
      syncEvery: SINK_SYNC_EVERY,
    });
  }

  get buffered(): number {
    return this.#writer.queuedBytes;
  }

  /** No more cache drops: the file is about to be closed (util/page-cache.ts). */
  stop(): void {
    this.#cache.stop();
  }

  write(data: Uint8Array, position: number): void {
    // Downloads arrive in order: each write starts where the previous one ended.
    this.#position ??= position;
    this.#writer.push(data);
  }

  whenLow(): Promise<void> {
    return this.#writer.whenBelow(SINK_LOW + 1);
  }

  flush(): Promise<void> {
    return this.#writer.drain();
  }

  async #writeAll(batch: Uint8Array[]): Promise<void> {
    this.#position = await writevAll(this.handle, batch, this.#position ?? 0);
  }
}

/** Writes to a stream (stdout, a socket), using its own buffer and 'drain' for pacing. */
export class StreamSink implements Sink {
  #error: Error | undefined;

  constructor(readonly stream: NodeJS.WritableStream & { writableLength?: number }) {
    stream.on('error', (err: Error) => {
      this.#error ??= err;
    });
  }

  get buffered(): number {
    return this.stream.writableLength ?? 0;
  }

  write(data: Uint8Array): void {
    this.stream.write(data);
  }

  whenLow(): Promise<void> {
    if (this.buffered <= SINK_LOW || this.#error !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      this.stream.once('drain', resolve);
      this.stream.once('error', () => resolve());
    });
  }

  /** Resolves once the stream has processed every byte written so far (an empty write's callback). */
  async flush(): Promise<void> {
    if (this.#error !== undefined) throw this.#error;
    await new Promise<void>((resolve) => {
      this.stream.write(new Uint8Array(0), () => resolve());
    });
    if (this.#error !== undefined) throw this.#error;
  }
}
