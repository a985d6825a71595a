import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheDropper, canDropCache } from '../../src/util/page-cache.js';

const MIB = 1024 * 1024;
const hasFincore = existsSync('/usr/bin/fincore') || existsSync('/bin/fincore');
if (!hasFincore) console.warn('skipping the page-cache check: `fincore` (util-linux) is not installed');

/** Bytes of `file` in the page cache, as util-linux's fincore reads them (mincore). */
function cachedBytes(file: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file]).toString());
}

/** Writes MiB blocks `from` to `to` of `byte`, then syncs them. */
async function writeSynced(handle: fs.FileHandle, from: number, to: number, byte: number): Promise<void> {
  const block = Buffer.alloc(MIB, byte);
  for (let i = from; i < to; i++) await handle.write(block, 0, MIB, i * MIB);
  await handle.sync();
}

/** Runs `body` with a new file in `dir`, closing it after. */
async function withFile(
  dir: string,
  name: string,
  body: (file: string, handle: fs.FileHandle) => Promise<void>,
) {
  const file = path.join(dir, name);
  const handle = await fs.open(file, 'w');
  try {
    await body(file, handle);
  } finally {
    await handle.close();
  }
}

describe('dropping synced pages of a large transfer from the page cache', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nexo-cache-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loaded the fadvise addon (without it large transfers only run slower, so CI insists)', () => {
    if (process.env.CI !== 'true' && !canDropCache) {
      console.warn('the fadvise addon did not load: large transfers keep their page cache');
      return;
    }
    expect(canDropCache).toBe(true);
  });

  it.skipIf((!hasFincore || !canDropCache) && process.env.CI !== 'true')(
    'drops exactly what was synced, in steps, and leaves what was not',
    () =>
      withFile(dir, 'big.bin', async (file, handle) => {
        await writeSynced(handle, 0, 8, 0x5a);
        expect(cachedBytes(file)).toBe(8 * MIB); // just written: all of it is cached

        const cache = new CacheDropper(handle.fd);
        await cache.drop(3 * MIB + 100); // a range that ends inside a page: that page is kept
        expect(cachedBytes(file)).toBe(5 * MIB);
        await cache.drop(6 * MIB); // continues from the page it kept
        expect(cachedBytes(file)).toBe(2 * MIB);

        // A range not synced yet is dirty: the kernel writes or keeps such pages, never drops their data.
        await handle.write(Buffer.alloc(MIB, 0x5a), 0, MIB, 8 * MIB);
        await cache.drop(9 * MIB);
        cache.stop();
        const bytes = await fs.readFile(file);
        expect(bytes.length).toBe(9 * MIB);
        expect(bytes.every((b) => b === 0x5a)).toBe(true);
      }),
  );

  it.skipIf((!hasFincore || !canDropCache) && process.env.CI !== 'true')(
    'drops a large range in slices of 4 MiB, one per event-loop turn, and stops when told',
    () =>
      withFile(dir, 'sliced.bin', async (file, handle) => {
        await writeSynced(handle, 0, 32, 0x33);
        const cache = new CacheDropper(handle.fd);
        const done = cache.drop(32 * MIB);
        expect(cachedBytes(file)).toBe(28 * MIB); // the first slice went at once, the rest wait their turns
        let turns = 0;
        for (;;) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          turns++;
          if (cachedBytes(file) === 0 || turns > 100) break;
        }
        await done;
        expect(cachedBytes(file)).toBe(0);
        expect(turns).toBeGreaterThanOrEqual(7); // 8 slices, one per turn

        await writeSynced(handle, 32, 48, 0x33);
        const stopped = cache.drop(48 * MIB);
        cache.stop(); // the file is closing: the remaining slices are not run
        await stopped;
        expect(cachedBytes(file)).toBe(12 * MIB);
      }),
  );
});
