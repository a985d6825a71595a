import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NexoNode } from '../src/node/node.js';
import type { ServerOptionsInput } from '../src/options/options.js';

/** A real node on loopback ports the OS picks, with its own data directory, removed at stop. */
export async function fuzzNode(
  options: ServerOptionsInput = {},
): Promise<{ node: NexoNode; port: number; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nexo-fuzz-'));
  const node = new NexoNode({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    log: { level: 'silent' },
    http: { enabled: false },
    ...options,
  });
  const { port } = await node.start();
  return {
    node,
    port,
    async stop() {
      await node.close({ timeoutMs: 2000 });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
