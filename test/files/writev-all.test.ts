import { mkdtempSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { writevAll } from '../../src/util/writev-all.js';

describe('writevAll', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nexo-writev-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes any list of buffers, empty ones included, at the position, and returns the end (property)', async () => {
    const file = path.join(dir, 'out.bin');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
        fc.nat(1000),
        async (buffers, position) => {
          const handle = await fs.open(file, 'w+');
          try {
            const end = await writevAll(handle, buffers, position);
            const want = Buffer.concat(buffers);
            expect(end).toBe(position + want.length);
            const got = Buffer.alloc(want.length);
            await handle.read(got, 0, got.length, position);
            expect(got.equals(want)).toBe(true);
          } finally {
            await handle.close();
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
