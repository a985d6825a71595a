/**
 * Servers under test, run in a child process (`node servers.js <kind>`) so that the load generator and the
 * server each have a core, as they would on two machines. Prints `port <n>` when listening.
 */
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { NexoNode } from '../src/node/node.js';

/**
 * The ceiling: a raw Node TCP server echoing u32-length-prefixed frames, with one write per `framesPerWrite`
 * replies or per read of input, whichever comes first (nexo's policy, protocol §7.4.1, with the batch size as
 * a parameter). Which batch size is best differs from machine to machine (32 on the Intel VM of the first
 * measurements, 8-16 on an AMD one), so the bench runs several and counts the fastest: the ceiling is the raw
 * server at its best, not at nexo's setting.
 */
function rawEchoServer(framesPerWrite: number): Promise<number> {
  const server = net.createServer({ noDelay: true }, (socket) => {
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let offset = 0;
      const replies: Buffer[] = [];
      while (data.length - offset >= 4) {
        const length = data.readUInt32BE(offset);
        if (data.length - offset - 4 < length) break;
        replies.push(data.subarray(offset, offset + 4 + length));
        offset += 4 + length;
        if (replies.length === framesPerWrite) {
          socket.write(Buffer.concat(replies));
          replies.length = 0;
        }
      }
      pending = data.subarray(offset);
      if (replies.length > 0) socket.write(replies.length === 1 ? replies[0]! : Buffer.concat(replies));
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

/**
 * The fan-out ceiling: a raw Node TCP server that sends every u32-length-prefixed frame it receives to every
 * connected socket (the sender included), one write per socket per batch.
 */
function rawFanoutServer(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let offset = 0;
      while (data.length - offset >= 4) {
        const length = data.readUInt32BE(offset);
        if (data.length - offset - 4 < length) break;
        offset += 4 + length;
      }
      pending = data.subarray(offset);
      if (offset === 0) return;
      const frames = data.subarray(0, offset);
      for (const s of sockets) s.write(frames);
    });
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

/** A node with its HTTP gateway (for /ws) and chat limits raised for load. */
async function nexoWebServer(): Promise<string> {
  const node = new NexoNode({
    host: '127.0.0.1',
    port: 0,
    log: { level: 'warn' },
    http: { port: 0, maxConnectionsPerIp: 0 },
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'nexo-bench-')),
    chat: { rate: 100_000, queue: 100_000 },
  });
  const { port } = await node.start();
  return `${port} http ${node.httpAddress()!.port}`;
}

/**
 * A node with `--storage postgres` for the cross-node chat bench: `servers.js nexo-shared <postgres url>
 * <nats url> <cluster>`; two of them with the same arguments are two nodes of one cluster. Chat's per-member
 * rate is raised (the bench sends faster than a person types).
 */
async function nexoSharedServer(postgres: string, nats: string, cluster: string): Promise<number> {
  const node = new NexoNode({
    host: '127.0.0.1',
    port: 0,
    log: { level: 'warn' },
    http: { enabled: false },
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'nexo-bench-')),
    storage: 'postgres',
    postgres,
    nats,
    cluster,
    // Several nodes on one machine: HAProxy's agent-check port (5555 by default in cluster mode) is not needed.
    agent: { enabled: false },
    chat: { rate: 100_000, queue: 100_000 },
  });
  const { port } = await node.start();
  return port;
}

/**
 * A node for the metrics bench: `servers.js nexo-metrics on|off`. On: /metrics on its HTTP port and every
 * request timed (the default); off: `--no-metrics`. Telemetry unlimited per sensor (the bench reports fast).
 */
async function nexoMetricsServer(mode: string): Promise<string> {
  const node = new NexoNode({
    host: '127.0.0.1',
    port: 0,
    log: { level: 'warn' },
    http: { port: 0, metrics: mode === 'on' },
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'nexo-bench-')),
    telemetry: { rate: 0 },
  });
  const { port } = await node.start();
  return `${port} http ${node.httpAddress()!.port}`;
}

async function nexoServer(): Promise<number> {
  const node = new NexoNode({
    host: '127.0.0.1',
    port: 0,
    log: { level: 'warn' },
    maxClients: 0,
    http: { enabled: false },
  });
  const { port } = await node.start();
  return port;
}

const kind = process.argv[2];
const starters: Record<string, () => Promise<number | string>> = {
  raw: () => rawEchoServer(Number(process.argv[3] ?? 16)),
  nexo: nexoServer,
  'raw-fanout': rawFanoutServer,
  'nexo-web': nexoWebServer,
  'nexo-metrics': () => nexoMetricsServer(process.argv[3] ?? 'on'),
  'nexo-shared': () => nexoSharedServer(process.argv[3]!, process.argv[4]!, process.argv[5]!),
};
const start = kind === undefined ? undefined : starters[kind];
if (start === undefined) {
  console.error(`usage: servers.js ${Object.keys(starters).join('|')} (raw [frames per write])`);
  process.exit(2);
}
const port = await start();
process.stdout.write(`port ${port}\n`);
// A clean exit on SIGTERM lets `node --cpu-prof servers.js nexo` write its profile.
process.on('SIGTERM', () => process.exit(0));
