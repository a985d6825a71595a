/**
 * An HTTP multipart upload streams into the store, and an HTTP download streams out of it: the real
 * `nexo server` (spawned) takes a file several times larger than any buffer it has, from the real `curl`,
 * and its memory, sampled from /proc while the bytes flow, does not grow with the file. NEXO_HTTP_BIG_MB
 * changes the size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { curl, curlAvailable } from '../helpers/curl.js';
import { partialSizes, rssOf, sha256File, writeRandomFile } from '../helpers/files.js';
import { freePort, type ServerProcess, spawnServer, tempDataDir } from '../helpers/node.js';

const SIZE = Number(process.env.NEXO_HTTP_BIG_MB ?? 384) * 1024 * 1024;
/** Most the server may grow while a transfer runs (buffers of a few MiB, the GC's slack). */
const MAX_GROWTH = 80 * 1024 * 1024;
const work = mkdtempSync(path.join(os.tmpdir(), 'nexo-http-big-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!curlAvailable())('files over HTTP: memory does not grow with the file', () => {
  let server: ServerProcess | undefined;
  afterAll(() => server?.stop('SIGKILL'));

  it(`curl uploads and downloads ${SIZE >> 20} MiB through the gateway; the server's RSS stays flat`, async () => {
    const file = path.join(work, 'big.bin');
    const hash = await writeRandomFile(file, SIZE, 'http-big');
    const dataDir = tempDataDir();
    const httpPort = await freePort();
    server = await spawnServer(['--http-port', String(httpPort), '--data-dir', dataDir]);
    const pid = server.child.pid!;
    const base = `http://127.0.0.1:${httpPort}`;
    // Warm up (first requests load code, start threads) before the baseline is taken.
    const small = path.join(work, 'small.bin');
    await writeRandomFile(small, 1 << 20, 'warm');
    await curl(['-f', '-F', `file=@${small}`, `${base}/api/files`]);
    const baseline = rssOf(pid);

    let peak = baseline;
    const sample = setInterval(() => {
      try {
        peak = Math.max(peak, rssOf(pid));
      } catch {
        // the server is gone (the test failed and stopped it)
      }
    }, 25);
    onTestFinished(() => clearInterval(sample));
    const partials = new Set<number>();
    const progress = setInterval(() => {
      for (const size of partialSizes(dataDir)) partials.add(size);
    }, 25);
    const started = Date.now();
    const up = await curl(['-f', '-F', `file=@${file}`, `${base}/api/files`], 300_000);
    const uploadMs = Date.now() - started;
    clearInterval(progress);
    expect(up.code, up.stderr).toBe(0);
    const entry = (
      JSON.parse(up.stdout.toString()) as { files: { id: string; sha256: string; size: number }[] }
    ).files[0]!;
    expect(entry).toMatchObject({ sha256: hash, size: SIZE });
    // The bytes went to the store's partial file while they arrived (not held until the end).
    expect(
      [...partials].some((n) => n > 0 && n < SIZE),
      `partial sizes seen: ${[...partials]}`,
    ).toBe(true);
    const uploadPeak = peak;

    peak = rssOf(pid);
    const copy = path.join(work, 'copy.bin');
    const down = await curl(['-f', '-o', copy, `${base}/api/files/${entry.id}/content`], 300_000);
    clearInterval(sample);
    expect(down.code, down.stderr).toBe(0);
    expect(await sha256File(copy)).toBe(hash);
    console.log(
      `HTTP ${SIZE >> 20} MiB: upload ${uploadMs} ms (${((SIZE / 1048576 / uploadMs) * 1000).toFixed(0)} MiB/s); ` +
        `server RSS ${(baseline / 1048576).toFixed(0)} MiB before, peak ${(uploadPeak / 1048576).toFixed(0)} MiB ` +
        `during the upload, ${(peak / 1048576).toFixed(0)} MiB during the download`,
    );
    expect(uploadPeak - baseline).toBeLessThan(MAX_GROWTH);
    expect(peak - baseline).toBeLessThan(MAX_GROWTH);
  }, 300_000);
});
