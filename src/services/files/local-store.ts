import { constants, type Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CacheDropper } from '../../util/page-cache.js';
import { writevAll } from '../../util/writev-all.js';
import type { BlobReader, FileStore, PartialFile } from './store.js';

const HASH = /^[0-9a-f]{64}$/;
const UPLOAD_ID = /^[A-Za-z0-9_-]{22}$/;
const READ_SIZE = 1 << 20;

/**
 * FileStore in a local directory (`<dataDir>/files` by default):
 *
 *   blobs/ab/cd/abcd…   content, named by its SHA-256 (two directory levels keep directories small)
 *   partial/<uploadId>  unfinished uploads
 *
 * Paths are built only from hashes and upload ids that match strict patterns (checked again here), never
 * from file names. Commit is fsync(partial) → rename into place → fsync(directory), so after a crash a blob
 * is either absent or complete.
 */
export class LocalFileStore implements FileStore {
  readonly blobsDir: string;
  readonly partialDir: string;

  constructor(readonly root: string) {
    this.blobsDir = path.join(root, 'blobs');
    this.partialDir = path.join(root, 'partial');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.blobsDir, { recursive: true });
    await fs.mkdir(this.partialDir, { recursive: true });
  }

  blobPath(sha256: string): string {
    if (!HASH.test(sha256)) throw new Error(`not a SHA-256: ${sha256.slice(0, 80)}`);
    return path.join(this.blobsDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  partialPath(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw new Error(`not an upload id: ${uploadId.slice(0, 80)}`);
    return path.join(this.partialDir, uploadId);
  }

  async openPartial(uploadId: string): Promise<PartialFile> {
    const handle = await fs.open(this.partialPath(uploadId), constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      const { size } = await handle.stat();
      return new LocalPartialFile(handle, size);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async *readPartial(uploadId: string, length: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    const handle = await fs.open(this.partialPath(uploadId), 'r');
    try {
      let position = 0;
      while (position < length) {
        signal?.throwIfAborted();
        const buffer = Buffer.allocUnsafe(Math.min(READ_SIZE, length - position));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) throw new Error(`partial upload ${uploadId} is shorter than ${length} bytes`);
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }

  async partialSize(uploadId: string): Promise<number> {
    try {
      return (await fs.stat(this.partialPath(uploadId))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
  }

  async discardPartial(uploadId: string): Promise<void> {
    await fs.rm(this.partialPath(uploadId), { force: true });
  }

  async partialIds(): Promise<string[]> {
    const names = await fs.readdir(this.partialDir);
    return names.filter((n) => UPLOAD_ID.test(n));
  }

  async commitPartial(uploadId: string, sha256: string): Promise<void> {
    const from = this.partialPath(uploadId);
    const to = this.blobPath(sha256);
    const handle = await fs.open(from, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const dir = path.dirname(to);
    await this.#mkdirDurable(dir);
    if (await exists(to)) {
      // The same content is already stored (a verified hash names it): keep one copy.
      await fs.rm(from, { force: true });
    } else {
      await fs.rename(from, to);
      await syncDir(dir);
    }
    await syncDir(this.partialDir);
  }

  async openBlob(sha256: string): Promise<BlobReader | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.blobPath(sha256), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const { size } = await handle.stat();
    return {
      size,
      read: async (target, targetOffset, length, position) =>
        (await handle.read(target, targetOffset, length, position)).bytesRead,
      close: () => handle.close(),
    };
  }

  async deleteBlob(sha256: string): Promise<void> {
    const file = this.blobPath(sha256);
    await fs.rm(file, { force: true });
    await syncDir(path.dirname(file));
  }

  async *blobHashes(): AsyncIterable<string> {
    for (const a of await dirs(this.blobsDir)) {
      for (const b of await dirs(path.join(this.blobsDir, a))) {
        for (const name of await fs.readdir(path.join(this.blobsDir, a, b))) {
          if (HASH.test(name) && name.startsWith(a + b)) yield name;
        }
      }
    }
  }

  async freeBytes(): Promise<number | undefined> {
    try {
      const s = await fs.statfs(this.root);
      return s.bavail * s.bsize;
    } catch {
      return undefined;
    }
  }

  /** mkdir -p, then fsync each directory that gained an entry, so a new blob directory survives a crash. */
  async #mkdirDurable(dir: string): Promise<void> {
    const first = await fs.mkdir(dir, { recursive: true });
    if (first === undefined) return;
    for (let d = dir; d.length >= this.blobsDir.length; d = path.dirname(d)) {
      await syncDir(path.dirname(d));
      if (d === first) break;
    }
  }
}

class LocalPartialFile implements PartialFile {
  #size: number;
  readonly #cache: CacheDropper;

  constructor(
    private readonly handle: fs.FileHandle,
    size: number,
  ) {
    this.#size = size;
    this.#cache = new CacheDropper(handle.fd);
  }

  get size(): number {
    return this.#size;
  }

  async append(chunks: readonly Uint8Array[]): Promise<void> {
    this.#size = await writevAll(this.handle, chunks, this.#size); // one pwritev per batch
  }

  async sync(options?: { dropCache?: boolean }): Promise<void> {
    const end = this.#size; // appends are awaited one at a time: everything before `end` is written
    await this.handle.sync();
    if (options?.dropCache === true) void this.#cache.drop(end);
  }

  close(): Promise<void> {
    this.#cache.stop();
    return this.handle.close();
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function dirs(parent: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(parent, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isDirectory() && /^[0-9a-f]{2}$/.test(e.name)).map((e) => e.name);
}
