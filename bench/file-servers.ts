/**
 * Servers for the files benchmark, each in its own process (`node file-servers.js <kind> [dataDir]`), so
 * the sender and the receiver each have a core. Prints `port <n>` when listening.
 *
 *   sink      raw TCP: reads every byte and drops it; answers one byte when the sender ends
 *   hashsink  raw TCP: SHA-256 of every byte; answers the 32-byte digest when the sender ends (the ceiling)
 *   disksink  raw TCP: SHA-256 of every byte, written to a file in dataDir and fsynced (a background
 *             fdatasync every 32 MiB that then drops the synced pages from the cache, as nexo does, then
 *             fsync) before the digest is answered: the ceiling of the same task with the disk, which
 *             nexo's uploads and downloads also pay for
 *   nexo      a nexo node with its data directory at dataDir (uploads are written there), with its HTTP
 *             gateway on another port (prints `port <n> http <m>`)
 *   nexo-pg   `nexo-pg <dataDir> <postgres url> <nats url>`: the same with `--storage postgres` (catalog and
 *             contents in that database; bench/files-shared.ts)
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { NexoNode } from '../src/node/node.js';
import { CacheDropper } from '../src/util/page-cache.js';

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

function diskServer(dir: string): Promise<number> {
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  const server = net.createServer((socket) => {
    const digest = createHash('sha256');
    const fd = fs.openSync(path.join(dir, `raw-${process.pid}-${n++}.bin`), 'w');
    const out = fs.createWriteStream('', { fd, autoClose: false });
    const cache = new CacheDropper(fd);
    let sinceSync = 0;
    socket.on('data', (chunk: Buffer) => {
      digest.update(chunk);
      if (!out.write(chunk)) socket.pause();
      sinceSync += chunk.length;
      if (sinceSync >= 32 * 1024 * 1024) {
        sinceSync = 0;
        // What the stream has written by now (not what it still buffers) is covered by this sync.
        const end = out.bytesWritten;
        fs.fdatasync(fd, () => void cache.drop(end));
      }
    });
    out.on('drain', () => socket.resume());
    socket.on('end', () =>
      out.end(() =>
        fs.fsync(fd, () => {
          cache.stop();
          fs.close(fd, () => socket.end(digest.digest()));
        }),
      ),
    );
    socket.on('error', () => {});
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

/**
 * A node; with `shared` on PostgreSQL and NATS, with `certs` (certificate and key files) also on its TLS
 * listener (then printed as `tls <port>`).
 */
async function nexoServer(
  dataDir: string,
  shared?: { postgres: string; nats: string },
  certs?: { cert: string; key: string },
): Promise<string> {
  const node = new NexoNode({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    log: { level: 'warn' },
    http: { port: 0, maxConnectionsPerIp: 0 },
    ...(shared === undefined
      ? {}
      : {
          storage: 'postgres' as const,
          postgres: shared.postgres,
          nats: shared.nats,
          cluster: `benchfiles${process.pid}`,
        }),
    ...(certs === undefined ? {} : { tls: { port: 0, cert: certs.cert, key: certs.key } }),
  });
  const { port } = await node.start();
  const tls = node.tlsAddress();
  return `${port} http ${node.httpAddress()!.port}${tls === undefined ? '' : ` tls ${tls.port}`}`;
}

const kind = process.argv[2];
const port =
  kind === 'sink'
    ? String(await rawServer(false))
    : kind === 'hashsink'
      ? String(await rawServer(true))
      : kind === 'disksink' && process.argv[3] !== undefined
        ? String(await diskServer(process.argv[3]))
        : kind === 'nexo' && process.argv[3] !== undefined
          ? await nexoServer(
              process.argv[3],
              undefined,
              process.argv[5] === undefined ? undefined : { cert: process.argv[4]!, key: process.argv[5] },
            )
          : kind === 'nexo-pg' && process.argv[5] !== undefined
            ? await nexoServer(process.argv[3]!, { postgres: process.argv[4]!, nats: process.argv[5] })
            : undefined;
if (port === undefined) {
  console.error(
    'usage: file-servers.js sink|hashsink|disksink <dir>|nexo <dataDir> [<cert> <key>]|nexo-pg <dataDir> <postgres> <nats>',
  );
  process.exit(2);
}
process.stdout.write(`port ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
