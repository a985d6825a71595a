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
    async () => {
      const file = path.join(dir, 'big.bin');
      const handle = await fs.open(file, 'w');
      try {
        const block = Buffer.alloc(MIB, 0x5a);
        for (let i = 0; i < 8; i++) await handle.write(block, 0, MIB, i * MIB);
        await handle.sync();
        expect(cachedBytes(file)).toBe(8 * MIB); // just written: all of it is cached

        const cache = new CacheDropper(handle.fd);
        cache.drop(3 * MIB + 100); // a range that ends inside a page: that page is kept
        expect(cachedBytes(file)).toBe(5 * MIB);
        cache.drop(6 * MIB); // continues from the page it kept
        expect(cachedBytes(file)).toBe(2 * MIB);

        // A range not synced yet is dirty: the kernel writes or keeps such pages, never drops their data.
        await handle.write(block, 0, MIB, 8 * MIB);
        cache.drop(9 * MIB);
        const bytes = await fs.readFile(file);
        expect(bytes.length).toBe(9 * MIB);
        expect(bytes.every((b) => b === 0x5a)).toBe(true);
      } finally {
        await handle.close();
      }
    },
  );
});
