/**
 * Files shared by two nodes (issue #14 part 3). Two real `nexo server` processes, their own ports and data
 * directories, share one PostgreSQL schema (catalog and contents) and one NATS cluster prefix:
 * - an upload begun through A by the CLI is interrupted (the client killed with SIGKILL), resumed through B
 *   from the offset the store had, downloaded byte-identical through A, and read with `curl -r` through B;
 * - a node killed with SIGKILL mid-upload: the upload resumes through the other node, from at least every
 *   byte the dead node had reported.
 * - curl uploads (multipart) and downloads a file several times larger than the node's buffers through B's
 *   gateway, with B's memory sampled from /proc: it does not grow with the file.
 * Size: NEXO_SHARED_UPLOAD_MIB (default 32; 300, the figure, passed by hand on 2026-12-04 in 85 s at
 * load average ~25); NEXO_SHARED_HTTP_MIB for the memory case (default 160).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import { connect } from '../../src/client/index.js';
import { curl, curlAvailable } from '../helpers/curl.js';
import { createSchema, dropSchema, enginesMissing, pgUrlFor, uniqueName } from '../helpers/engines.js';
import { rssOf, runCli, type Spawned, sha256File, waitFor, writeRandomFile } from '../helpers/files.js';
import { freePort, type ServerProcess, spawnServer } from '../helpers/node.js';
import { sharedNodeArgs } from '../helpers/shared-nodes.js';

const missing = await enginesMissing();
const hasCurl = curlAvailable();
const MIB = Number(process.env.NEXO_SHARED_UPLOAD_MIB ?? 32);
const SIZE = MIB * 1024 * 1024 + 12_345; // not a whole number of rows
const HTTP_SIZE = Number(process.env.NEXO_SHARED_HTTP_MIB ?? 160) * 1024 * 1024;
/**
 * Most B may grow while a transfer runs (windows of a few MiB, pg's hex strings, the GC's slack): a constant,
 * not a share of the file. Measured 2026-12-07: 78 MB for 160 MiB and 86 MB for 400 MiB
 * (NEXO_SHARED_HTTP_MIB=400), so 80 MB failed now and then; a transfer that held the file would exceed this.
 */
const MAX_GROWTH = 120 * 1024 * 1024;

describe.skipIf(missing !== undefined || !hasCurl)('files shared by two nodes (PostgreSQL and NATS)', () => {
  const schema = uniqueName('nxfiles');
  const cluster = uniqueName('nxfiles');
  let work: string;
  let a: ServerProcess;
  let b: ServerProcess;
  let bHttp: number;
  let db: pg.Client;
  const clients: NexoClient[] = [];
  const running: Spawned[] = [];

  const shared = (id: string) => sharedNodeArgs(schema, cluster, id);

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'nexo-shared-files-'));
    await createSchema(schema);
    db = new pg.Client({ connectionString: pgUrlFor(schema) });
    await db.connect();
    bHttp = await freePort();
    [a, b] = await Promise.all([
      spawnServer(shared('files-a')),
      spawnServer([...shared('files-b'), '--http-port', String(bHttp), '--http-host', '127.0.0.1']),
    ]);
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.destroy();
    for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    await db?.end();
    await dropSchema(schema);
    rmSync(work, { recursive: true, force: true });
  });

  async function client(port: number): Promise<NexoClient> {
    const c = await connect({
      endpoints: [`127.0.0.1:${port}`],
      reconnect: { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 5 },
    });
    clients.push(c);
    return c;
  }

  /** Bytes the shared store holds for an unfinished upload, or the largest one (committed appends only). */
  async function partialBytes(uploadId?: string): Promise<number> {
    const r = await db.query<{ n: string }>(
      'SELECT coalesce(max(size), 0) AS n FROM files_objects WHERE upload_id IS NOT NULL AND ($1::text IS NULL OR upload_id = $1)',
      [uploadId ?? null],
    );
    return Number(r.rows[0]!.n);
  }

  it('an upload begun through A, client killed, resumes through B, downloads identical through A, ranges through B', async () => {
    const source = path.join(work, 'shared.bin');
    const hash = await writeRandomFile(source, SIZE, 'shared-upload');
    const cache = path.join(work, 'cache');
    const first = runCli(['upload', source, '--port', String(a.port)], { NEXO_CACHE_DIR: cache });
    running.push(first);
    // Killed once the store holds over a third of the file (committed through A).
    let held = 0;
    const deadline = Date.now() + 300_000;
    while (held < SIZE / 3) {
      if (first.child.exitCode !== null) throw new Error(`upload ended early:\n${first.output()}`);
      if (Date.now() > deadline) throw new Error('the upload through A made no progress');
      await new Promise((r) => setTimeout(r, 20));
      held = await partialBytes();
    }
    first.child.kill('SIGKILL');
    await first.exited;
    const states = readdirSync(path.join(cache, 'uploads'));
    expect(states).toHaveLength(1);
    const { uploadId } = JSON.parse(readFileSync(path.join(cache, 'uploads', states[0]!), 'utf8')) as {
      uploadId: string;
    };
    const stored = await partialBytes();
    expect(stored).toBeGreaterThanOrEqual(held);
    expect(stored).toBeLessThan(SIZE);

    // B knows the upload (from the shared catalog) and its offset (from the shared store). A may still be
    // writing the chunks it had verified when the client died: B's offset is then later, or B's first try
    // meets FILES_UPLOAD_BUSY and the client resumes again (§9.F.10).
    const viaB = await client(b.port);
    const status = (await viaB.files.status(uploadId)) as { offset: number; state: string };
    expect(status.offset).toBeGreaterThanOrEqual(stored);
    const retries: string[] = [];
    const result = await viaB.files.upload(source, {
      uploadId,
      onRetry: (e) => retries.push((e as { code?: string }).code ?? e.message),
    });
    expect(result.resumedFrom).toBeGreaterThanOrEqual(status.offset);
    expect(result.resumedFrom).toBeLessThan(SIZE);
    expect(retries.filter((c) => c !== 'FILES_UPLOAD_BUSY')).toEqual([]);
    expect(result).toMatchObject({ name: 'shared.bin', size: SIZE, sha256: hash });
    expect(await partialBytes()).toBe(0);

    // Through A: the same entry, the same bytes.
    const viaA = await client(a.port);
    expect(await viaA.files.info({ id: result.id })).toMatchObject({ sha256: hash, size: SIZE });
    const dest = path.join(work, 'back.bin');
    const down = await viaA.files.download({ id: result.id }, dest);
    expect(down.resumedFrom).toBe(0);
    expect(await sha256File(dest)).toBe(hash);
    rmSync(dest);

    // curl -r through B's HTTP gateway: exactly those bytes, across 1 MiB rows, at both ends.
    const original = readFileSync(source);
    const url = `http://127.0.0.1:${bHttp}/api/files/${result.id}/content`;
    for (const [range, start, end] of [
      ['0-99', 0, 100],
      [`${(1 << 20) - 5}-${(1 << 20) + 4}`, (1 << 20) - 5, (1 << 20) + 5],
      [`${stored - 1000}-${stored + 999}`, stored - 1000, stored + 1000],
      [`${SIZE - 3 * (1 << 20)}-${SIZE - 1}`, SIZE - 3 * (1 << 20), SIZE],
      ['-777', SIZE - 777, SIZE],
    ] as const) {
      const r = await curl(['-f', '-r', range, url]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.length, range).toBe(end - start);
      expect(r.stdout.equals(original.subarray(start, end)), range).toBe(true);
    }
  }, 600_000);

  it('a node killed (SIGKILL) mid-upload: the upload resumes through the other node', async () => {
    const size = 24 * 1024 * 1024 + 3;
    const source = path.join(work, 'node-dies.bin');
    const hash = await writeRandomFile(source, size, 'node-dies');
    // A third node, to be killed.
    const doomed = await spawnServer(shared('files-c'));
    try {
      const viaDoomed = await client(doomed.port);
      let uploadId: string | undefined;
      const failed = viaDoomed.files
        .upload(source, { onStart: (s) => (uploadId = s.uploadId), chunkSize: 256 * 1024 })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      let held = 0;
      await waitFor(() => uploadId !== undefined, 60_000, 'the upload to start');
      const deadline = Date.now() + 120_000;
      while (held < size / 3) {
        if (Date.now() > deadline) throw new Error('the upload through the doomed node made no progress');
        await new Promise((r) => setTimeout(r, 20));
        held = await partialBytes(uploadId);
      }
      await doomed.stop('SIGKILL');
      expect(await failed).toBeDefined(); // the client saw its node go
      const viaA = await client(a.port);
      const status = (await viaA.files.status(uploadId!)) as { offset: number };
      // Every byte the dead node had committed is there (and nothing past what it received).
      expect(status.offset).toBeGreaterThanOrEqual(held);
      const result = await viaA.files.upload(source, { uploadId: uploadId! });
      expect(result.resumedFrom).toBe(status.offset); // the dead node writes nothing more
      expect(result.sha256).toBe(hash);
      const dest = path.join(work, 'node-dies.back');
      await (await client(b.port)).files.download({ id: result.id }, dest);
      expect(await sha256File(dest)).toBe(hash);
    } finally {
      await doomed.stop('SIGKILL');
    }
  }, 300_000);

  it('curl through B: a multipart upload and a download of the whole file; B does not grow with the file', async () => {
    const file = path.join(work, 'http-big.bin');
    const hash = await writeRandomFile(file, HTTP_SIZE, 'shared-http');
    const base = `http://127.0.0.1:${bHttp}`;
    const pid = b.child.pid!;
    const baseline = rssOf(pid);
    let peak = baseline;
    const sample = setInterval(() => {
      try {
        peak = Math.max(peak, rssOf(pid));
      } catch {
        // B is gone (the test failed)
      }
    }, 25);
    try {
      const up = await curl(['-f', '-F', `file=@${file}`, `${base}/api/files`], 300_000);
      expect(up.code, up.stderr).toBe(0);
      const entry = (JSON.parse(up.stdout.toString()) as { files: { id: string; sha256: string }[] })
        .files[0]!;
      expect(entry.sha256).toBe(hash);
      const uploadPeak = peak;
      const copy = path.join(work, 'http-copy.bin');
      const down = await curl(['-f', '-o', copy, `${base}/api/files/${entry.id}/content`], 300_000);
      expect(down.code, down.stderr).toBe(0);
      expect(await sha256File(copy)).toBe(hash);
      rmSync(copy);
      console.log(
        `shared store, ${HTTP_SIZE >> 20} MiB through B: RSS ${(baseline / 1048576).toFixed(0)} MiB before, ` +
          `peak ${(uploadPeak / 1048576).toFixed(0)} MiB uploading, ${(peak / 1048576).toFixed(0)} MiB overall`,
      );
      expect(uploadPeak - baseline).toBeLessThan(MAX_GROWTH);
      expect(peak - baseline).toBeLessThan(MAX_GROWTH);
    } finally {
      clearInterval(sample);
    }
  }, 600_000);

  it('the shared store holds each committed content once, referenced once', async () => {
    const r = await db.query<{ n: string; bytes: string }>(
      'SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM files_objects WHERE sha256 IS NOT NULL',
    );
    expect(Number(r.rows[0]!.n)).toBe(3);
    expect(Number(r.rows[0]!.bytes)).toBe(SIZE + 24 * 1024 * 1024 + 3 + HTTP_SIZE);
    const [refs] = (await db.query<{ refs: number }>('SELECT sum(refs)::int AS refs FROM files_blobs')).rows;
    expect(refs!.refs).toBe(3);
  });
});
