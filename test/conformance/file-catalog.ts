import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileCatalog } from '../../src/services/files/catalog.js';
import { newEntryId } from '../../src/services/files/ids.js';
import type { UploadRecord } from '../../src/services/files/model.js';
import type { FileEntry } from '../../src/wire/files.js';

/**
 * The one definition of a correct file catalog (src/services/files/catalog.ts), run against SQLite and
 * PostgreSQL (file-catalog.sqlite.test.ts, file-catalog.postgres.test.ts).
 */
export interface FileCatalogBackend {
  /** Whether two instances may use one catalog at once (PostgreSQL: two nodes); SQLite has one node. */
  readonly shared: boolean;
  create(): Promise<CatalogHandle>;
}

export interface CatalogHandle {
  readonly catalog: FileCatalog;
  /** Another open instance over the same data: reopened after close (SQLite), or a second node (PostgreSQL). */
  another(): Promise<FileCatalog>;
  destroy(): Promise<void>;
}

const sha = (n: number) => n.toString(16).padStart(64, '0');
let clock = Date.parse('2026-01-01T00:00:00Z');
function entry(name: string, content: number, size = 100): FileEntry {
  clock += 1000;
  return {
    id: newEntryId(),
    name,
    size,
    sha256: sha(content),
    type: 'application/octet-stream',
    uploader: 'admin@127.0.0.1',
    uploadedAt: new Date(clock).toISOString(),
  };
}
function upload(size = 1000, touchedAt = Date.now()): UploadRecord {
  return {
    uploadId: randomBytes(16).toString('base64url'),
    name: 'big.bin',
    size,
    type: 'application/octet-stream',
    sha256: undefined,
    uploader: 'admin@127.0.0.1',
    startedAt: touchedAt,
    touchedAt,
  };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function fileCatalogConformance(name: string, backend: FileCatalogBackend): void {
  describe(`FileCatalog conformance: ${name}`, () => {
    let handle: CatalogHandle;
    let c: FileCatalog;
    const extra: FileCatalog[] = [];
    beforeEach(async () => {
      handle = await backend.create();
      c = handle.catalog;
      await c.open();
    });
    afterEach(async () => {
      for (const other of extra.splice(0)) await other.close();
      await c.close();
      await handle.destroy();
    });

    it('commits entries and finds them by id, name (newest first) and content', async () => {
      const a = entry('report.pdf', 1);
      const b = entry('report.pdf', 2);
      const other = entry('notes.txt', 1);
      expect(await c.commit(a, undefined)).toEqual({ firstCopy: true });
      expect(await c.commit(b, undefined)).toEqual({ firstCopy: true });
      expect(await c.commit(other, undefined)).toEqual({ firstCopy: false });
      expect(await c.byId(a.id)).toEqual(a);
      expect(await c.byId(newEntryId())).toBeUndefined();
      expect(await c.byName('report.pdf', 10)).toEqual({ entries: [b, a], count: 2 });
      expect(await c.byName('report.pdf', 1)).toEqual({ entries: [b], count: 2 });
      expect(await c.byName('nothing', 10)).toEqual({ entries: [], count: 0 });
      expect(await c.bySha256(sha(1))).toEqual(other);
      expect(await c.bySha256(sha(9))).toBeUndefined();
      expect(await c.refs(sha(1))).toBe(2);
      expect(await c.refs(sha(2))).toBe(1);
      expect(await c.refs(sha(9))).toBe(0);
    });

    it('lists newest first with paging and a literal name prefix', async () => {
      const names = ['a/1', 'a/2', 'b/1', 'a%/3', 'a_x'];
      const entries = names.map((n, i) => entry(n, 10 + i));
      for (const e of entries) await c.commit(e, undefined);
      const all = await c.list({ limit: 10, offset: 0 });
      expect(all.total).toBe(5);
      expect(all.files.map((f) => f.name)).toEqual([...names].reverse());
      const page = await c.list({ limit: 2, offset: 1 });
      expect(page.files.map((f) => f.name)).toEqual(['a%/3', 'b/1']);
      expect(page.total).toBe(5);
      const a = await c.list({ limit: 10, offset: 0, prefix: 'a/' });
      expect(a.files.map((f) => f.name)).toEqual(['a/2', 'a/1']);
      expect(a.total).toBe(2);
      // % and _ are characters, not patterns.
      expect((await c.list({ limit: 10, offset: 0, prefix: 'a%' })).files.map((f) => f.name)).toEqual([
        'a%/3',
      ]);
      expect((await c.list({ limit: 10, offset: 0, prefix: 'a_' })).files.map((f) => f.name)).toEqual([
        'a_x',
      ]);
    });

    it('counts each content once in usage, and reserved bytes of unfinished uploads', async () => {
      await c.commit(entry('x', 1, 100), undefined);
      await c.commit(entry('y', 1, 100), undefined);
      await c.commit(entry('z', 2, 50), undefined);
      await c.addUpload(upload(1000));
      await c.addUpload(upload(24));
      expect(await c.usage()).toEqual({ storedBytes: 150, reservedBytes: 1024, files: 3 });
    });

    it('remove drops one reference; the last one reports the content free', async () => {
      const a = entry('one', 5);
      const b = entry('two', 5);
      await c.commit(a, undefined);
      await c.commit(b, undefined);
      expect(await c.remove(a.id)).toEqual({ entry: a, refsLeft: 1 });
      expect(await c.byId(a.id)).toBeUndefined();
      expect(await c.remove(a.id)).toBeUndefined();
      expect(await c.remove(b.id)).toEqual({ entry: b, refsLeft: 0 });
      expect(await c.refs(sha(5))).toBe(0);
      expect((await c.usage()).storedBytes).toBe(0);
      // Stored again later: first copy again.
      expect(await c.commit(entry('three', 5), undefined)).toEqual({ firstCopy: true });
    });

    it('keeps upload records until their commit, which ends them and remembers the entry', async () => {
      const u = upload(100, 1_000);
      const v = upload(100, 5_000);
      await c.addUpload(u);
      await c.addUpload(v);
      expect(await c.upload(u.uploadId)).toEqual(u);
      expect(await c.upload(randomBytes(16).toString('base64url'))).toBeUndefined();
      expect((await c.uploadIds()).sort()).toEqual([u.uploadId, v.uploadId].sort());
      expect((await c.staleUploads(2_000)).map((r) => r.uploadId)).toEqual([u.uploadId]);
      await c.touchUpload(u.uploadId, 9_000);
      expect(await c.staleUploads(2_000)).toEqual([]);
      expect((await c.upload(u.uploadId))?.touchedAt).toBe(9_000);
      const e = entry('big.bin', 7);
      expect(await c.committed(u.uploadId)).toBeUndefined();
      await c.commit(e, u.uploadId);
      expect(await c.upload(u.uploadId)).toBeUndefined();
      expect(await c.committed(u.uploadId)).toEqual(e);
      expect(await c.uploadIds()).toEqual([v.uploadId]);
      await c.removeUpload(v.uploadId);
      expect(await c.uploadIds()).toEqual([]);
      // Once the entry is deleted the upload is forgotten.
      await c.remove(e.id);
      expect(await c.committed(u.uploadId)).toBeUndefined();
    });

    it('exclusive runs same-key work one at a time and other keys alongside', async () => {
      const log: string[] = [];
      const job = (key: string, tag: string, ms: number) =>
        c.exclusive(key, async () => {
          log.push(`${tag}+`);
          await sleep(ms);
          log.push(`${tag}-`);
          return tag;
        });
      const results = await Promise.all([job('k', 'a', 60), job('k', 'b', 10), job('other', 'c', 10)]);
      expect(results).toEqual(['a', 'b', 'c']);
      // b starts only after a ended; c did not wait for a.
      expect(log.indexOf('b+')).toBeGreaterThan(log.indexOf('a-'));
      expect(log.indexOf('c-')).toBeLessThan(log.indexOf('a-'));
      // A failing holder releases the key.
      await expect(
        c.exclusive('k', async () => {
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await c.exclusive('k', async () => 'after')).toBe('after');
    });

    it('keeps everything for another instance over the same data', async () => {
      const e = entry('kept', 3);
      const u = upload(10);
      await c.commit(e, undefined);
      await c.addUpload(u);
      const d = await reopen();
      expect(await d.byId(e.id)).toEqual(e);
      expect(await d.upload(u.uploadId)).toEqual(u);
      expect(await d.refs(sha(3))).toBe(1);
    });

    async function reopen(): Promise<FileCatalog> {
      const d = await handle.another();
      await d.open();
      if (backend.shared) extra.push(d);
      else c = d; // the old instance was closed by another()
      return d;
    }

    if (backend.shared) {
      describe('shared by two nodes', () => {
        it('exclusive excludes the same key across instances', async () => {
          const d = await reopen();
          const log: string[] = [];
          const job = (cat: FileCatalog, tag: string) =>
            cat.exclusive('admission', async () => {
              log.push(`${tag}+`);
              await sleep(80);
              log.push(`${tag}-`);
            });
          await Promise.all([job(c, 'a'), job(d, 'b'), job(c, 'c'), job(d, 'd')]);
          // Never two holders at once: every start is followed by its own end.
          for (let i = 0; i < log.length; i += 2) expect(log[i]!.slice(0, 1)).toBe(log[i + 1]!.slice(0, 1));
        });

        it('concurrent commits of one content on two instances count every reference', async () => {
          const d = await reopen();
          const n = 20;
          const results = await Promise.all(
            Array.from({ length: n }, (_, i) =>
              (i % 2 === 0 ? c : d).commit(entry(`copy${i}`, 42), undefined),
            ),
          );
          expect(results.filter((r) => r.firstCopy)).toHaveLength(1);
          expect(await c.refs(sha(42))).toBe(n);
          expect(await d.refs(sha(42))).toBe(n);
          const all = await d.list({ limit: 100, offset: 0, prefix: 'copy' });
          expect(all.total).toBe(n);
          // And removing them all from both sides frees the content exactly once.
          const removed = await Promise.all(all.files.map((f, i) => (i % 2 === 0 ? c : d).remove(f.id)));
          expect(removed.filter((r) => r?.refsLeft === 0)).toHaveLength(1);
          expect(await c.refs(sha(42))).toBe(0);
        });

        it('an upload recorded on one instance is resumable and committable on the other', async () => {
          const d = await reopen();
          const u = upload(10);
          await c.addUpload(u);
          expect(await d.upload(u.uploadId)).toEqual(u);
          const e = entry('moved', 8);
          await d.commit(e, u.uploadId);
          expect(await c.upload(u.uploadId)).toBeUndefined();
          expect(await c.committed(u.uploadId)).toEqual(e);
        });
      });
    }
  });
}
