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
 * Tracks how much of one file was dropped from the cache, so each call only covers what was synced since.
 * Call `drop(end)` after an fsync/fdatasync that covered every byte before `end`.
 */
export class CacheDropper {
  #dropped = 0;

  constructor(private readonly fd: number) {}

  drop(end: number): void {
    if (fadvise === undefined || end <= this.#dropped) return;
    // DONTNEED ignores partial pages: start on a page boundary (the tail page of the last drop).
    const from = this.#dropped - (this.#dropped % PAGE);
    fadvise(this.fd, from, end - from, POSIX_FADV_DONTNEED);
    this.#dropped = end;
  }
}
