import { createRequire } from 'node:module';

/**
 * Dropping a large transfer's pages from the OS page cache once they are on disk (posix_fadvise
 * POSIX_FADV_DONTNEED, through the small `fadvise` addon), as `dd oflag=nocache` or rsync --drop-cache do.
 *
 * Why: a 1 GiB upload otherwise fills 1 GiB of page cache that nobody reads back soon, evicting pages that
 * matter (the SQLite catalog, recent small files), and every one of its pages is memory the kernel must find
 * first. On the VMs nexo is benchmarked on, pages the guest has not touched lately cost the host a fault
 * each: a durable 1 GiB write ran at 290-340 MiB/s keeping its cache and at 1.4-1.9 GiB/s dropping each
 * synced 32 MiB (docs/benchmarks.md), since the freed pages are reused by the writes that follow.
 *
 * Only ranges already made durable are dropped (DONTNEED leaves dirty pages alone anyway). Where the addon
 * did not build, or off Linux, this does nothing: the cache is simply kept, as before.
 */
type Fadvise = (fd: number, offset: number, length: number, advice: number) => number;

const POSIX_FADV_DONTNEED = 4;
const PAGE = 4096;

function load(): Fadvise | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const binding = createRequire(import.meta.url)('fadvise') as {
      posix_fadvise: Fadvise;
      failed_to_load?: boolean;
    };
    return binding.failed_to_load === true ? undefined : binding.posix_fadvise;
  } catch {
    return undefined;
  }
}

const fadvise = load();

/** Whether dropping cached pages works here (for tests and diagnostics). */
export const canDropCache: boolean = fadvise !== undefined;

/**
 * One DONTNEED call per this many bytes, each in its own event-loop turn: dropping 32 MiB at once blocks the
 * loop for ~1.6-2.6 ms here, 4 MiB for ~0.25 ms, so other clients never wait on a large transfer's cache.
 */
const SLICE = 4 * 1024 * 1024;

/**
 * Drops one file's synced pages from the cache, from where the last drop ended, in slices (see SLICE). Call
 * `drop(end)` after an fsync/fdatasync that covered every byte before `end`, and `stop()` before closing the
 * file (a slice must not reach a file descriptor number the OS has given to another file meanwhile).
 */
export class CacheDropper {
  #dropped = 0;
  #target = 0;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(private readonly fd: number) {}

  /** Resolves once everything before `end` was handed to the OS (or at once where dropping is off). */
  drop(end: number): Promise<void> {
    if (fadvise === undefined || this.#stopped || end <= this.#target) return this.#running ?? DONE;
    this.#target = end;
    this.#running ??= this.#run(fadvise).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  stop(): void {
    this.#stopped = true;
  }

  async #run(advise: Fadvise): Promise<void> {
    while (this.#dropped < this.#target && !this.#stopped) {
      // DONTNEED ignores partial pages: start on a page boundary (the tail page of the previous slice).
      const from = this.#dropped - (this.#dropped % PAGE);
      const to = Math.min(this.#target, from + SLICE);
      advise(this.fd, from, to - from, POSIX_FADV_DONTNEED);
      this.#dropped = to;
      if (this.#dropped < this.#target) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

const DONE = Promise.resolve();
