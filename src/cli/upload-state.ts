import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Where `nexo upload` remembers unfinished uploads, so that running the same command again (after Ctrl-C, a
 * crash or a lost network) resumes instead of starting over: one small JSON file per (file, node) in
 * `$NEXO_CACHE_DIR`, else `$XDG_CACHE_HOME/nexo`, else `~/.cache/nexo`, under `uploads/`. A file that changed
 * (size or modification time) gets a new key, so a stale upload is never continued with different bytes.
 */
export interface UploadState {
  uploadId: string;
  path: string;
  name: string;
  size: number;
  mtimeMs: number;
  node: string;
  savedAt: string;
}

export function cacheDir(): string {
  if (process.env.NEXO_CACHE_DIR) return process.env.NEXO_CACHE_DIR;
  if (process.env.XDG_CACHE_HOME) return path.join(process.env.XDG_CACHE_HOME, 'nexo');
  return path.join(os.homedir(), '.cache', 'nexo');
}

export class UploadStateFile {
  readonly file: string;

  constructor(readonly key: Omit<UploadState, 'uploadId' | 'savedAt'>) {
    const digest = createHash('sha256')
      .update(JSON.stringify([key.path, key.name, key.size, key.mtimeMs, key.node]))
      .digest('hex')
      .slice(0, 32);
    this.file = path.join(cacheDir(), 'uploads', `${digest}.json`);
  }

  async read(): Promise<string | undefined> {
    try {
      const state = JSON.parse(await fs.readFile(this.file, 'utf8')) as Partial<UploadState>;
      return typeof state.uploadId === 'string' && state.path === this.key.path ? state.uploadId : undefined;
    } catch {
      return undefined;
    }
  }

  async save(uploadId: string): Promise<void> {
    const state: UploadState = { ...this.key, uploadId, savedAt: new Date().toISOString() };
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    await fs.writeFile(temp, `${JSON.stringify(state)}\n`);
    await fs.rename(temp, this.file);
  }

  async clear(): Promise<void> {
    await fs.rm(this.file, { force: true });
  }
}
