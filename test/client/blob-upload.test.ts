import { createHash, randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NexoClient } from '../../src/client/client.js';
import { crc32 } from '../../src/client/hash/crc32.js';
import { Sha256 } from '../../src/client/hash/sha256.js';
import { connect } from '../../src/client/index.js';
import { nodeWebSocketFactory } from '../../src/client/ws-node.js';
import type { NexoNode } from '../../src/node/node.js';
import { waitFor } from '../helpers/files.js';
import { startNode } from '../helpers/node.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { httpPort } from '../helpers/transports.js';

/**
 * What the dashboard's Files page runs: uploads from a Blob with the TypeScript SHA-256 and CRC-32 (checked
 * here against Node's native ones, byte for byte), over WebSocket as in a browser, with resume after a cut
 * connection and retry after a damaged chunk.
 */
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('TypeScript SHA-256 and CRC-32', () => {
  it('equal Node’s for any bytes, however they are split into updates', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.nat({ max: 3000 }), { maxLength: 8 }),
        (bytes, cuts) => {
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const hash = new Sha256();
          let crc = 0;
          let at = 0;
          for (const point of [...points, bytes.length]) {
            hash.update(bytes.subarray(at, point));
            crc = crc32(bytes.subarray(at, point), crc);
            at = point;
          }
          expect(hex(hash.digest())).toBe(createHash('sha256').update(bytes).digest('hex'));
          expect(crc).toBe(zlibCrc32(bytes));
          expect(crc32(bytes)).toBe(zlibCrc32(bytes));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('known vectors, block edges, and copy() going on independently', () => {
    expect(hex(new Sha256().digest())).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(hex(new Sha256().update(Buffer.from('abc')).digest())).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(crc32(Buffer.from('hola')).toString(16)).toBe('6fa0f988'); // protocol.md §9 files
    for (const n of [55, 56, 57, 63, 64, 65, 119, 120, 128, 1_000_003]) {
      const bytes = randomBytes(n);
      expect(hex(new Sha256().update(bytes).digest()), `${n}`).toBe(
        createHash('sha256').update(bytes).digest('hex'),
      );
    }
    const a = randomBytes(100);
    const b = randomBytes(77);
    const running = new Sha256().update(a);
    const snapshot = running.copy();
    running.update(b);
    expect(hex(snapshot.digest())).toBe(createHash('sha256').update(a).digest('hex'));
    expect(hex(running.digest())).toBe(createHash('sha256').update(a).update(b).digest('hex'));
    expect(() => running.update(a)).toThrow();
  });
});

describe('uploads from a Blob', () => {
  let node: NexoNode & { port: number };
  beforeAll(async () => {
    node = await startNode({ http: { port: 0 } });
  });
  afterAll(() => node.close({ timeoutMs: 2000 }));

  it('a File uploads over WebSocket, hashed in TypeScript, and downloads back identical', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 7);
    const client = new NexoClient({
      endpoints: [`127.0.0.1:${httpPort(node)}`],
      socketFactory: nodeWebSocketFactory(),
      reconnect: false,
    });
    await client.connect();
    try {
      const progress: number[] = [];
      const entry = await client.files.uploadBlob(
        new File([bytes], 'from-a-browser.bin', { type: 'application/x-demo' }),
        {
          onProgress: (p) => progress.push(p.bytes),
        },
      );
      expect(entry).toMatchObject({
        name: 'from-a-browser.bin',
        size: bytes.length,
        type: 'application/x-demo',
        sha256: createHash('sha256').update(bytes).digest('hex'),
        resumedFrom: 0,
      });
      expect(progress.at(-1)).toBe(bytes.length);
      expect(progress.length).toBeGreaterThan(5);
      // A plain Blob needs a name; a damaged chunk is caught by its CRC and sent again.
      await expect(client.files.uploadBlob(new Blob([bytes]))).rejects.toThrow(/name/);
      const retried: string[] = [];
      const again = await client.files.uploadBlob(new Blob([bytes]), {
        name: 'damaged-once.bin',
        testHooks: { corruptChunk: 3 },
        onRetry: (err) => retried.push((err as { code?: string }).code ?? ''),
      });
      expect(retried).toEqual(['FILES_CHUNK_CORRUPT']);
      expect(again.sha256).toBe(entry.sha256);
    } finally {
      await client.close();
    }
  });

  it('a connection cut at ~40% reconnects and the Blob upload resumes from the node’s offset', async () => {
    const proxy = await TcpProxy.start(node.port, { rate: 30e6 });
    const client = await connect({
      endpoints: [`127.0.0.1:${proxy.port}`],
      reconnect: { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 50 },
    });
    try {
      const size = 8 * 1024 * 1024;
      const bytes = randomBytes(size);
      const starts: number[] = [];
      const upStart = proxy.up;
      const upload = client.files.uploadBlob(new Blob([bytes]), {
        name: 'cut.bin',
        onStart: (s) => starts.push(s.offset),
      });
      await waitFor(() => proxy.up - upStart > size * 0.4, 20_000, '40% sent');
      proxy.cutAll();
      const entry = await upload;
      expect(entry.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(starts).toHaveLength(2);
      expect(starts[1]).toBeGreaterThan(size * 0.2);
      expect(entry.resumedFrom).toBe(starts[1]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});
