/**
 * The node under test for `bench/telemetry.ts`, in its own process (`node telemetry-server.js`): a fresh data
 * directory, no per-sensor rate limit (the bench's sensors send far above a real sensor's rate on purpose),
 * and a write queue large enough for every sensor's requests in flight. Prints `port <n>`.
 * `node telemetry-server.js postgres <url> <nats>` runs it with `--storage postgres` on that database.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NexoNode } from '../src/node/node.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nexo-bench-telemetry-'));
const node = new NexoNode({
  host: '127.0.0.1',
  port: 0,
  dataDir,
  log: { level: 'warn' },
  telemetry: { rate: 0, maxQueued: 2_000_000 },
  http: { enabled: false },
  ...(process.argv[2] === 'postgres'
    ? {
        storage: 'postgres' as const,
        postgres: process.argv[3],
        nats: process.argv[4],
        cluster: `bench${process.pid}`,
      }
    : {}),
});
const { port } = await node.start();
process.stdout.write(`port ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
