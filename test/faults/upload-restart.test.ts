import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import { connect } from '../../src/client/index.js';
import {
  type EngineProcess,
  engineProgramsMissing,
  startOwnNats,
  startOwnPostgres,
} from '../helpers/engine-processes.js';
import { uniqueName } from '../helpers/engines.js';
import { sha256File, writeRandomFile } from '../helpers/files.js';
import { type ServerProcess, spawnServer } from '../helpers/node.js';

/**
 * PostgreSQL (which holds shared file contents) stopped and started again in the middle of an upload
 * through a real `nexo server` with `--storage postgres`: the chunk that met the outage fails with the
 * retryable STORAGE_UNAVAILABLE, the client library continues the same upload from the stored offset once
 * the database is back, and the file downloads byte-identical. Own engines (test/helpers/engine-processes.ts).
 */

const missing = engineProgramsMissing();
const SIZE = 24 * 1024 * 1024 + 7;

describe.skipIf(missing)('an upload while PostgreSQL restarts', () => {
  let db: EngineProcess;
  let nats: EngineProcess;
  let node: ServerProcess;
  let client: NexoClient | undefined;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'nexo-upload-restart-'));
    [db, nats] = await Promise.all([startOwnPostgres(), startOwnNats()]);
    node = await spawnServer([
      '--node-id',
      'upload-a',
      '--storage',
      'postgres',
      '--postgres',
      db.url,
      '--nats',
      nats.url,
      '--cluster',
      uniqueName('nxup'),
    ]);
  }, 180_000);
  afterAll(async () => {
    client?.destroy();
    await node?.stop('SIGKILL');
    await Promise.all([db?.close(), nats?.close()]);
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  const partialBytes = async (): Promise<number> => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const r = await c.query<{ n: string }>(
        'SELECT coalesce(max(size), 0) AS n FROM files_objects WHERE upload_id IS NOT NULL',
      );
      return Number(r.rows[0]!.n);
    } finally {
      await c.end();
    }
  };

  it('continues by itself once the database is back, and the file is intact', async () => {
    const source = path.join(work, 'big.bin');
    const hash = await writeRandomFile(source, SIZE, 'upload-restart');
    client = await connect({ endpoints: [`127.0.0.1:${node.port}`] });
    const retries: string[] = [];
    const upload = client.files.upload(source, {
      chunkSize: 256 * 1024,
      retries: 8,
      onRetry: (e) => retries.push((e as { code?: string }).code ?? e.message),
    });
    const outcome = upload.then(
      (r) => ({ ok: true as const, r }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    // Mid-upload: a third of the file is committed in PostgreSQL.
    const deadline = Date.now() + 120_000;
    let held = 0;
    while (held < SIZE / 3) {
      if (Date.now() > deadline) throw new Error('the upload made no progress');
      await new Promise((r) => setTimeout(r, 50));
      held = await partialBytes();
    }
    await db.stop();
    await new Promise((r) => setTimeout(r, 1500));
    await db.start();
    const done = await outcome;
    if (!done.ok) throw done.err;
    expect(retries).toContain('STORAGE_UNAVAILABLE');
    expect(retries.filter((c) => c !== 'STORAGE_UNAVAILABLE' && c !== 'FILES_UPLOAD_BUSY')).toEqual([]);
    expect(done.r).toMatchObject({ size: SIZE, sha256: hash });
    // It continued from the stored offset (every byte committed before the outage kept), not from 0.
    expect(done.r.resumedFrom).toBeGreaterThanOrEqual(held);
    expect(done.r.resumedFrom).toBeLessThan(SIZE);
    const dest = path.join(work, 'back.bin');
    await client.files.download({ id: done.r.id }, dest);
    expect(await sha256File(dest)).toBe(hash);
    expect(node.child.exitCode).toBe(null);
    console.log(
      `upload across a PostgreSQL restart: ${held} bytes stored before, continued from ${done.r.resumedFrom}, retried after ${JSON.stringify(retries)}`,
    );
  }, 300_000);
});
