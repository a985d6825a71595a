/**
 * The client library's transfers against a real node over real sockets: byte-identical round trips,
 * corruption caught and re-sent, connections cut mid-transfer and resumed, deduplication under concurrency,
 * and backpressure on both sides.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NexoClient } from '../../src/client/client.js';
import { connect } from '../../src/client/index.js';
import { tcpSocketFactory } from '../../src/client/tcp.js';
import type { NexoNode } from '../../src/node/node.js';
import { filesService } from '../../src/services/files/index.js';
import { LocalFileStore } from '../../src/services/files/local-store.js';
import type { PartialFile } from '../../src/services/files/store.js';
import { calcService, echoService, greetService } from '../../src/services/index.js';
import { sha256, sha256File, storedBlobs, waitFor, writeRandomFile } from '../helpers/files.js';
import { startNode } from '../helpers/node.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

let node: NexoNode & { port: number };
let work: string;
const clients: NexoClient[] = [];

beforeAll(async () => {
  node = await startNode();
  work = mkdtempSync(path.join(os.tmpdir(), 'nexo-transfer-'));
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await node.close({ timeoutMs: 2000 });
  rmSync(node.options.dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

async function client(port = node.port): Promise<NexoClient> {
  const c = await connect({
    endpoints: [`127.0.0.1:${port}`],
    reconnect: { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 50 },
  });
  clients.push(c);
  return c;
}

function file(name: string, bytes: Uint8Array): string {
  const full = path.join(work, name);
  writeFileSync(full, bytes);
  return full;
}

describe('round trips', () => {
  it('files of 0, 1, chunk-1, chunk, chunk+1 bytes and a few MiB come back byte-identical', async () => {
    const c = await client();
    for (const size of [0, 1, 4095, 4096, 4097, 3 * 1024 * 1024 + 17]) {
      const bytes = randomBytes(size);
      const source = file(`rt-${size}.bin`, bytes);
      const up = await c.files.upload(source, { chunkSize: 4096 });
      expect(up).toMatchObject({ name: `rt-${size}.bin`, size, sha256: sha256(bytes), resumedFrom: 0 });
      const dest = path.join(work, `rt-${size}.out`);
      const down = await c.files.download(up.id, dest);
      expect(down.path).toBe(dest);
      expect(readFileSync(dest).equals(bytes), `size ${size}`).toBe(true);
      expect(existsSync(`${dest}.nexo-part`)).toBe(false);
      expect(existsSync(`${dest}.nexo-part.json`)).toBe(false);
    }
  });

  it('a stream uploads when its size and name are given; its type comes from the name', async () => {
    const c = await client();
    const bytes = randomBytes(700_000);
    const up = await c.files.upload(
      Readable.from([bytes.subarray(0, 1), bytes.subarray(1, 300_000), bytes.subarray(300_000)]),
      {
        name: 'clip.mp4',
        size: bytes.length,
      },
    );
    expect(up).toMatchObject({ sha256: sha256(bytes), type: 'video/mp4' });
    await expect(c.files.upload(Readable.from([bytes]), { name: 'x' })).rejects.toThrow(/needs options.size/);
  });

  it('downloads into a directory under a safe local name, and never overwrites unless asked', async () => {
    const c = await client();
    const bytes = randomBytes(1000);
    await c.files.upload(file('pw.bin', bytes), { name: '../../etc/passwd' });
    const dir = mkdtempSync(path.join(work, 'dl-'));
    const down = await c.files.download('../../etc/passwd', dir);
    expect(down.path).toBe(path.join(dir, 'passwd'));
    expect(readFileSync(down.path!).equals(bytes)).toBe(true);
    await expect(c.files.download('../../etc/passwd', dir)).rejects.toMatchObject({
      code: 'INVALID_ARGS',
      message: expect.stringMatching(/already exists/),
    });
    await c.files.download('../../etc/passwd', dir, { overwrite: true });
  });

  it('a download can go to a stream', async () => {
    const c = await client();
    const bytes = randomBytes(600_000);
    const up = await c.files.upload(file('to-stream.bin', bytes));
    const parts: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        parts.push(chunk);
        done();
      },
    });
    const result = await c.files.download(up.id, sink);
    expect(result.path).toBeUndefined();
    expect(Buffer.concat(parts).equals(bytes)).toBe(true);
  });
});

describe('integrity', () => {
  it('an upload chunk damaged in flight is caught by its CRC-32 and re-sent from the last good offset', async () => {
    const c = await client();
    const bytes = randomBytes(2 * 1024 * 1024);
    const retries: string[] = [];
    const up = await c.files.upload(file('damaged.bin', bytes), {
      chunkSize: 64 * 1024,
      testHooks: { corruptChunk: 5 },
      onRetry: (err) => retries.push((err as { code?: string }).code ?? ''),
    });
    expect(retries).toEqual(['FILES_CHUNK_CORRUPT']);
    expect(up).toMatchObject({ sha256: sha256(bytes), resumedFrom: 5 * 64 * 1024 });
    const dest = path.join(work, 'damaged.out');
    await c.files.download(up.id, dest);
    expect(sha256(readFileSync(dest))).toBe(sha256(bytes));
  });

  it('damage the checksum cannot see is caught by the SHA-256: the upload fails and nothing is stored', async () => {
    const c = await client();
    const bytes = randomBytes(1024 * 1024);
    const blobs = storedBlobs(node.options.dataDir);
    await expect(
      c.files.upload(file('lying.bin', bytes), {
        chunkSize: 64 * 1024,
        testHooks: { corruptChunk: 3, keepChecksum: true },
      }),
    ).rejects.toMatchObject({ code: 'FILES_HASH_MISMATCH', details: { expected: sha256(bytes) } });
    expect(storedBlobs(node.options.dataDir)).toEqual(blobs);
    expect((await c.files.list({ prefix: 'lying' })).total).toBe(0);
  });

  it('a download chunk damaged in flight is caught and fetched again; the file is right', async () => {
    const c = await client();
    const bytes = randomBytes(3 * 1024 * 1024);
    const up = await c.files.upload(file('dl-damage.bin', bytes));
    const retries: string[] = [];
    const dest = path.join(work, 'dl-damage.out');
    await c.files.download(up.id, dest, {
      testHooks: { corruptChunk: 4 },
      onRetry: (err) => retries.push((err as { code?: string }).code ?? ''),
    });
    expect(retries).toEqual(['FILES_CHUNK_CORRUPT']);
    expect(readFileSync(dest).equals(bytes)).toBe(true);
  });
});

describe('the same content twice', () => {
  it('two clients uploading it at once: one stored copy, two entries, both downloadable', async () => {
    const [a, b] = [await client(), await client()];
    const bytes = randomBytes(6 * 1024 * 1024);
    const source = file('twins.bin', bytes);
    const before = storedBlobs(node.options.dataDir).length;
    const [one, two] = await Promise.all([
      a.files.upload(source, { name: 'twin-a.bin', chunkSize: 128 * 1024 }),
      b.files.upload(source, { name: 'twin-b.bin', chunkSize: 128 * 1024 }),
    ]);
    expect(one.id).not.toBe(two.id);
    expect(one.sha256).toBe(two.sha256);
    expect([one.deduplicated, two.deduplicated].sort()).toEqual([false, true]);
    const blobs = storedBlobs(node.options.dataDir);
    expect(blobs.length).toBe(before + 1);
    expect(blobs.filter((h) => h === sha256(bytes))).toHaveLength(1);
    const names = (await a.files.list({ prefix: 'twin-' })).files.map((f) => f.name).sort();
    expect(names).toEqual(['twin-a.bin', 'twin-b.bin']);
    for (const entry of [one, two]) {
      const dest = path.join(work, `${entry.name}.out`);
      await b.files.download(entry.id, dest);
      expect(readFileSync(dest).equals(bytes)).toBe(true);
    }
  });
});

describe('broken connections', () => {
  let proxy: TcpProxy & { port: number };
  beforeAll(async () => {
    proxy = await TcpProxy.start(node.port, { rate: 40e6 });
  });
  afterAll(() => proxy.close());

  it('an upload whose connection is cut at ~40% reconnects and resumes from the server offset', async () => {
    const c = await client(proxy.port);
    const size = 12 * 1024 * 1024;
    const source = path.join(work, 'cut-up.bin');
    const hash = await writeRandomFile(source, size, 'cut-up');
    const starts: number[] = [];
    const upStart = proxy.up;
    const upload = c.files.upload(source, { onStart: (s) => starts.push(s.offset) });
    await waitFor(() => proxy.up - upStart > size * 0.4, 20_000, '40% sent');
    proxy.cutAll();
    const up = await upload;
    expect(up.sha256).toBe(hash);
    expect(starts).toHaveLength(2);
    expect(starts[0]).toBe(0);
    expect(starts[1]).toBeGreaterThan(size * 0.2);
    expect(starts[1]).toBeLessThan(size);
    expect(up.resumedFrom).toBe(starts[1]);
  });

  it('a download whose connection is cut at ~40% resumes, hashing what it already had', async () => {
    const c = await client(proxy.port);
    const size = 12 * 1024 * 1024;
    const source = path.join(work, 'cut-down.bin');
    const hash = await writeRandomFile(source, size, 'cut-down');
    const up = await c.files.upload(source);
    const dest = path.join(work, 'cut-down.out');
    let retried = 0;
    const downStart = proxy.down;
    const download = c.files.download(up.id, dest, { onRetry: () => retried++ });
    await waitFor(() => proxy.down - downStart > size * 0.4, 20_000, '40% received');
    proxy.cutAll();
    await download;
    expect(retried).toBe(1);
    expect(await sha256File(dest)).toBe(hash);
  });

  it('a download stopped half way (the process gave up) resumes from its partial file in a later call', async () => {
    const c = await client(proxy.port);
    const size = 8 * 1024 * 1024;
    const source = path.join(work, 'later.bin');
    const hash = await writeRandomFile(source, size, 'later');
    const up = await c.files.upload(source);
    const dest = path.join(work, 'later.out');
    const abort = new AbortController();
    const first = c.files.download(up.id, dest, {
      signal: abort.signal,
      onProgress: (p) => {
        if (p.bytes > size * 0.4) abort.abort();
      },
    });
    await expect(first).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(existsSync(`${dest}.nexo-part`)).toBe(true);
    expect(existsSync(dest)).toBe(false);
    const second = await c.files.download(up.id, dest);
    expect(second.resumedFrom).toBeGreaterThan(size * 0.3);
    expect(await sha256File(dest)).toBe(hash);
    // A partial of different content (the name now means another file) is started over, not mixed in.
    writeFileSync(`${dest}.nexo-part`, randomBytes(1000));
    writeFileSync(`${dest}.nexo-part.json`, JSON.stringify({ sha256: sha256(randomBytes(1)), size }));
    rmSync(dest);
    expect((await c.files.download(up.id, dest)).resumedFrom).toBe(0);
    expect(await sha256File(dest)).toBe(hash);
  });

  it('an upload interrupted in one process resumes in another from the uploadId it saved', async () => {
    const c = await client();
    const size = 4 * 1024 * 1024;
    const source = path.join(work, 'two-process.bin');
    const hash = await writeRandomFile(source, size, 'two-process');
    const abort = new AbortController();
    let uploadId = '';
    const first = await c.files
      .upload(source, {
        chunkSize: 64 * 1024,
        signal: abort.signal,
        onStart: (s) => {
          uploadId = s.uploadId;
        },
        onProgress: (p) => {
          if (p.bytes > size / 2) abort.abort();
        },
      })
      .catch((err: unknown) => err);
    expect(first).toMatchObject({ code: 'CANCELLED', details: { uploadId } });
    // The client stops at once; the server may still be writing chunks that were in flight.
    await expect.poll(async () => (await c.files.status(uploadId)).state).toBe('paused');
    const status = await c.files.status(uploadId);
    expect(status.offset).toBeGreaterThan(size / 4);
    const other = await client();
    const up = await other.files.upload(source, { uploadId });
    expect(up).toMatchObject({ sha256: hash, resumedFrom: status.offset });
  });
});

describe('backpressure', () => {
  it('a slow disk on the server slows the sender instead of filling the server memory', async () => {
    let appended = 0;
    let maxAhead = 0;
    const slow: NexoNode & { port: number } = await startNode(
      {},
      {
        services: [
          calcService,
          greetService,
          echoService,
          (host) => {
            // The real local store, with each append delayed: a disk slower than the network.
            const local = new LocalFileStore(path.join(host.options.dataDir, 'files'));
            const open = local.openPartial.bind(local);
            local.openPartial = async (id: string): Promise<PartialFile> => {
              const partial = await open(id);
              return {
                get size() {
                  return partial.size;
                },
                append: async (chunks) => {
                  await new Promise((r) => setTimeout(r, 4));
                  await partial.append(chunks);
                  for (const c of chunks) appended += c.length;
                  maxAhead = Math.max(maxAhead, slow.stats.bytesIn - appended);
                },
                sync: () => partial.sync(),
                close: () => partial.close(),
              };
            };
            return filesService(host, { store: local });
          },
        ],
      },
    );
    try {
      const c = await client(slow.port);
      const size = 24 * 1024 * 1024;
      const source = path.join(work, 'slow-disk.bin');
      const hash = await writeRandomFile(source, size, 'slow-disk');
      const up = await c.files.upload(source, { chunkSize: 128 * 1024 });
      expect(up.sha256).toBe(hash);
      // Received but not yet on disk: the connection's queue for the upload (4 × maxFrame), the verified
      // bytes waiting for the disk (2 MiB) and the batch being written, plus what one socket read holds.
      expect(maxAhead).toBeLessThan(10 * 1024 * 1024);
      expect(maxAhead).toBeGreaterThan(0);
    } finally {
      await slow.close({ timeoutMs: 2000 });
      rmSync(slow.options.dataDir, { recursive: true, force: true });
    }
  });

  it('a slow consumer on the client pauses the socket instead of buffering the download', async () => {
    const c = await client();
    const size = 16 * 1024 * 1024;
    const source = path.join(work, 'slow-sink.bin');
    const hash = await writeRandomFile(source, size, 'slow-sink');
    const up = await c.files.upload(source);
    let maxBuffered = 0;
    const parts: Buffer[] = [];
    const sink = new Writable({
      highWaterMark: 1024 * 1024,
      write(chunk: Buffer, _enc, done) {
        parts.push(chunk);
        setTimeout(done, 5); // at most ~50 MB/s: slower than loopback even on a busy machine
      },
    });
    const timer = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, sink.writableLength);
    }, 2);
    try {
      await c.files.download(up.id, sink);
    } finally {
      clearInterval(timer);
    }
    expect(sha256(Buffer.concat(parts))).toBe(hash);
    // The receiver pauses at 8 MiB queued; a socket read or two may still arrive after that.
    expect(maxBuffered).toBeGreaterThan(4 * 1024 * 1024);
    expect(maxBuffered).toBeLessThan(12 * 1024 * 1024);
  });
});

describe('long transfers and heartbeats', () => {
  it('transfers longer than several heartbeat periods neither time out nor retry', async () => {
    const quick = await startNode({ heartbeat: '1s' });
    const proxy = await TcpProxy.start(quick.port, { rate: 3e6 });
    try {
      const c = await client(proxy.port);
      // About 2.8 s each way through the proxy: the server PINGs a quiet peer after 1 s and drops it 1 s later
      // if nothing comes back, and during a download the client sends nothing at all.
      const size = 8 * 1024 * 1024;
      const source = path.join(work, 'heartbeat.bin');
      const hash = await writeRandomFile(source, size, 'heartbeat');
      const retries: unknown[] = [];
      const up = await c.files.upload(source, { onRetry: (e) => retries.push(e) });
      const dest = path.join(work, 'heartbeat.out');
      await c.files.download(up.id, dest, { onRetry: (e) => retries.push(e) });
      expect(retries.map((e) => (e as Error).message)).toEqual([]);
      expect(await sha256File(dest)).toBe(hash);
    } finally {
      await proxy.close();
      await quick.close({ timeoutMs: 2000 });
      rmSync(quick.options.dataDir, { recursive: true, force: true });
    }
  });
});

describe('usage and status', () => {
  it('reports stored and reserved bytes and the limits', async () => {
    const c = await client();
    const usage = await c.files.usage();
    expect(usage).toMatchObject({ quota: 0, maxUploads: 16, uploadsReceiving: 0 });
    expect(usage.storedBytes).toBeGreaterThan(0);
    expect(usage.freeBytes).toBeGreaterThan(0);
    await expect(c.files.status('AAAAAAAAAAAAAAAAAAAAAA')).rejects.toMatchObject({
      code: 'FILES_UPLOAD_NOT_FOUND',
    });
  });

  it('a client without reconnect reports the lost connection with the uploadId to resume', async () => {
    const proxy = await TcpProxy.start(node.port, { rate: 20e6 });
    try {
      const c = new NexoClient({
        endpoints: [`127.0.0.1:${proxy.port}`],
        socketFactory: tcpSocketFactory,
        reconnect: false,
      });
      clients.push(c);
      await c.connect();
      const source = path.join(work, 'no-reconnect.bin');
      await writeRandomFile(source, 4 * 1024 * 1024, 'no-reconnect');
      const upload = c.files.upload(source);
      await waitFor(() => proxy.up > 1024 * 1024, 10_000, 'some bytes');
      proxy.cutAll();
      await expect(upload).rejects.toMatchObject({
        code: 'CONNECTION_LOST',
        details: { uploadId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) },
      });
    } finally {
      await proxy.close();
    }
  });
});
