import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlobReader, FileStore } from '../../src/services/files/store.js';

/**
 * The one definition of a correct file content store (src/services/files/store.ts), run against the local
 * directory and the shared PostgreSQL store (file-store.local.test.ts, file-store.postgres.test.ts).
 */
export interface FileStoreBackend {
  /** Whether several nodes use one store at once (the PostgreSQL store); a local directory has one node. */
  readonly shared: boolean;
  create(): Promise<StoreHandle>;
}

export interface StoreHandle {
  readonly store: FileStore;
  /**
   * Another instance over the same data: the same directory reopened (local), or a second node with its
   * own connections (shared). `abandon` drops the first instance's connections without closing anything it
   * had open, as a node that died would.
   */
  another(options?: { abandon?: boolean }): Promise<FileStore>;
  destroy(): Promise<void>;
}

const uploadId = () => randomBytes(16).toString('base64url');
const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function readAll(reader: BlobReader, position = 0, length = reader.size - position): Promise<Buffer> {
  const out = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = await reader.read(out, done, length - done, position + done);
    if (n === 0) throw new Error(`short read at ${position + done}`);
    done += n;
  }
  return out;
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

/** Appends `data` in pieces of `piece` bytes, `batch` pieces per append (as the upload queue does). */
async function appendAll(store: FileStore, id: string, data: Buffer, piece = 256 * 1024, batch = 3) {
  const partial = await store.openPartial(id);
  try {
    let offset = partial.size;
    while (offset < data.length) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < batch && offset < data.length; i++) {
        chunks.push(data.subarray(offset, Math.min(data.length, offset + piece)));
        offset += chunks.at(-1)!.length;
      }
      await partial.append(chunks);
    }
    await partial.sync();
    expect(partial.size).toBe(data.length);
  } finally {
    await partial.close();
  }
}

export function fileStoreConformance(name: string, backend: FileStoreBackend): void {
  describe(`FileStore conformance: ${name}`, () => {
    let handle: StoreHandle;
    let s: FileStore;
    beforeEach(async () => {
      handle = await backend.create();
      s = handle.store;
      await s.init();
    });
    afterEach(async () => {
      await handle.destroy();
    });

    it('keeps an unfinished upload: appends in order, size, reads from the start, ids, discard', async () => {
      const id = uploadId();
      expect(await s.partialSize(id)).toBe(0);
      const data = randomBytes(3 * 1024 * 1024 + 12345);
      const first = data.subarray(0, 1_000_000);
      await appendAll(s, id, first, 100_000, 4);
      expect(await s.partialSize(id)).toBe(first.length);
      // Reopened, it continues at its end.
      await appendAll(s, id, data);
      expect(await s.partialSize(id)).toBe(data.length);
      expect(await s.partialIds()).toContain(id);
      expect((await collect(s.readPartial(id, data.length))).equals(data)).toBe(true);
      // A prefix only.
      expect((await collect(s.readPartial(id, 1_500_001))).equals(data.subarray(0, 1_500_001))).toBe(true);
      await s.discardPartial(id);
      expect(await s.partialSize(id)).toBe(0);
      expect(await s.partialIds()).not.toContain(id);
      await s.discardPartial(id); // twice is fine
    });

    it('readPartial stops when its signal aborts', async () => {
      const id = uploadId();
      await appendAll(s, id, randomBytes(5 * 1024 * 1024));
      const abort = new AbortController();
      const reading = (async () => {
        for await (const _ of s.readPartial(id, 5 * 1024 * 1024, abort.signal))
          abort.abort(new Error('stop'));
      })();
      await expect(reading).rejects.toThrow('stop');
    });

    it('commits a partial as content: positional reads anywhere, across rows, and the hash list', async () => {
      const id = uploadId();
      const data = randomBytes(5 * 1024 * 1024 + 777);
      await appendAll(s, id, data, 64 * 1024 + 3, 5);
      const hash = sha(data);
      expect(await s.openBlob(hash)).toBeUndefined();
      await s.commitPartial(id, hash);
      expect(await s.partialSize(id)).toBe(0);
      expect(await s.partialIds()).not.toContain(id);
      const reader = (await s.openBlob(hash))!;
      try {
        expect(reader.size).toBe(data.length);
        expect((await readAll(reader)).equals(data)).toBe(true);
        // Ranges: inside one row, across a 1 MiB boundary, the last byte, backwards, past the end.
        for (const [at, len] of [
          [0, 1],
          [1024 * 1024 - 10, 20],
          [3 * 1024 * 1024 - 1, 2 * 1024 * 1024],
          [data.length - 1, 1],
          [12345, 999_999],
          [100, 50],
        ] as const) {
          expect((await readAll(reader, at, len)).equals(data.subarray(at, at + len))).toBe(true);
        }
        const tail = Buffer.alloc(10);
        expect(await reader.read(tail, 0, 10, data.length)).toBe(0);
      } finally {
        await reader.close();
      }
      const hashes: string[] = [];
      for await (const h of s.blobHashes()) hashes.push(h);
      expect(hashes).toEqual([hash]);
    });

    it('stores one copy per content, an empty file too, and deletes it', async () => {
      const data = randomBytes(300_000);
      const hash = sha(data);
      const a = uploadId();
      const b = uploadId();
      await appendAll(s, a, data);
      await appendAll(s, b, data);
      await s.commitPartial(a, hash);
      await s.commitPartial(b, hash); // same bytes: the partial is dropped
      expect(await s.partialIds()).toEqual([]);
      expect((await readAll((await s.openBlob(hash))!)).equals(data)).toBe(true);
      const empty = uploadId();
      await (await s.openPartial(empty)).close();
      await s.commitPartial(empty, sha(Buffer.alloc(0)));
      const reader = (await s.openBlob(sha(Buffer.alloc(0))))!;
      expect(reader.size).toBe(0);
      await reader.close();
      await s.deleteBlob(hash);
      expect(await s.openBlob(hash)).toBeUndefined();
      await s.deleteBlob(hash); // twice is fine
    });

    it('refuses ids and hashes that are not ids and hashes', async () => {
      await expect(s.openPartial('../../etc/passwd')).rejects.toThrow(/upload id/);
      await expect(s.openBlob('nothex')).rejects.toThrow(/SHA-256/);
    });

    it('keeps appended bytes for another instance, which continues the upload', async () => {
      const id = uploadId();
      const data = randomBytes(2 * 1024 * 1024 + 5);
      const half = data.subarray(0, 1024 * 1024 + 1);
      const partial = await s.openPartial(id);
      await partial.append([half]);
      await partial.sync();
      // The first instance goes away without closing the partial (a node that died after its append).
      const t = await handle.another({ abandon: true });
      s = t;
      expect(await t.partialSize(id)).toBe(half.length);
      await appendAll(t, id, data);
      await t.commitPartial(id, sha(data));
      expect((await readAll((await t.openBlob(sha(data)))!)).equals(data)).toBe(true);
    });

    if (backend.shared) {
      describe('shared by two nodes', () => {
        it('content committed on one node is read on the other; deletes are seen too', async () => {
          const t = await handle.another();
          const data = randomBytes(1_500_000);
          const id = uploadId();
          await appendAll(s, id, data);
          expect(await t.partialSize(id)).toBe(data.length);
          expect((await collect(t.readPartial(id, data.length))).equals(data)).toBe(true);
          await t.commitPartial(id, sha(data));
          expect(
            (await readAll((await s.openBlob(sha(data)))!, 1000, 5000)).equals(data.subarray(1000, 6000)),
          ).toBe(true);
          await s.deleteBlob(sha(data));
          expect(await t.openBlob(sha(data))).toBeUndefined();
        });

        it('a writer whose upload another node took over appends nothing and fails', async () => {
          const t = await handle.another();
          const id = uploadId();
          const old = await s.openPartial(id);
          await old.append([Buffer.alloc(1000, 1)]);
          // Another node resumes the same upload and appends.
          const resumed = await t.openPartial(id);
          expect(resumed.size).toBe(1000);
          await resumed.append([Buffer.alloc(500, 2)]);
          // The old writer still believes the file is 1000 bytes long.
          await expect(old.append([Buffer.alloc(700, 3)])).rejects.toMatchObject({
            code: 'FILES_UPLOAD_BUSY',
          });
          expect(await s.partialSize(id)).toBe(1500);
          const bytes = await collect(s.readPartial(id, 1500));
          expect(bytes.equals(Buffer.concat([Buffer.alloc(1000, 1), Buffer.alloc(500, 2)]))).toBe(true);
          await old.close();
          await resumed.close();
        });
      });
    }
  });
}
