/**
 * Servers for the files benchmark, each in its own process (`node file-servers.js <kind> [dataDir]`), so
 * the sender and the receiver each have a core. Prints `port <n>` when listening.
 *
 *   sink      raw TCP: reads every byte and drops it; answers one byte when the sender ends
 *   hashsink  raw TCP: SHA-256 of every byte; answers the 32-byte digest when the sender ends (the ceiling)
 *   nexo      a nexo node with its data directory at dataDir (uploads are written there), with its HTTP
 *             gateway on another port (prints `port <n> http <m>`)
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { NexoNode } from '../src/server/node.js';

function rawServer(hash: boolean): Promise<number> {
  const server = net.createServer((socket) => {
    const digest = hash ? createHash('sha256') : undefined;
    socket.on('data', (chunk: Buffer) => digest?.update(chunk));
    socket.on('end', () => socket.end(digest === undefined ? Buffer.from([1]) : digest.digest()));
    socket.on('error', () => {});
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

async function nexoServer(dataDir: string): Promise<string> {
  const node = new NexoNode({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    log: { level: 'warn' },
    http: { port: 0, maxConnectionsPerIp: 0 },
  });
  const { port } = await node.start();
  return `${port} http ${node.httpAddress()!.port}`;
}

const kind = process.argv[2];
const port =
  kind === 'sink'
    ? String(await rawServer(false))
    : kind === 'hashsink'
      ? String(await rawServer(true))
      : kind === 'nexo' && process.argv[3] !== undefined
        ? await nexoServer(process.argv[3])
        : undefined;
if (port === undefined) {
  console.error('usage: file-servers.js sink|hashsink|nexo <dataDir>');
  process.exit(2);
}
process.stdout.write(`port ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
