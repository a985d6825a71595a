/**
 * The servers of bench/idle.ts, each in a process of its own, forked with `--expose-gc` and an IPC channel:
 *
 *   idle-servers.js raw <cert> <key>             a raw Node `net` server and a raw `tls` server (the node's
 *                                                certificate) that accept connections and hold them, reading
 *                                                and dropping whatever arrives: the ceiling
 *   idle-servers.js nexo <cert> <key> <dataDir>  a nexo node with its TLS listener (and its HTTP gateway, as
 *                                                the other benchmarks' nodes)
 *
 * Sends `{ tcp, tls }` (the ports) when listening; answers each `'measure'` message with `{ rss, heapUsed,
 * open }` (bytes, taken after two full garbage collections, so what is counted is what the connections
 * hold, not garbage their set-up left that the next collection frees; and the connections it holds), and
 * each `'count'` with `{ open }` alone.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import tls from 'node:tls';
import { NexoNode } from '../src/node/node.js';

export interface IdlePorts {
  tcp: number;
  tls: number;
}

export interface IdleMemory {
  rss: number;
  heapUsed: number;
  /** Connections the server holds open (a check that all of them were counted). */
  open: number;
}

let held = 0;
const hold = (socket: net.Socket) => {
  held++;
  socket.on('data', () => {});
  socket.on('error', () => {});
  socket.on('close', () => held--);
};

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

async function raw(cert: string, key: string): Promise<IdlePorts> {
  return {
    tcp: await listen(net.createServer(hold)),
    tls: await listen(tls.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, hold)),
  };
}

let node: NexoNode | undefined;

async function nexo(cert: string, key: string, dataDir: string): Promise<IdlePorts> {
  node = new NexoNode({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    log: { level: 'warn' },
    http: { port: 0, maxConnectionsPerIp: 0 },
    tls: { port: 0, cert, key },
  });
  const { port } = await node.start();
  return { tcp: port, tls: node.tlsAddress()!.port };
}

/** Resident memory of this process (VmRSS), in bytes. */
function rss(): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return Number(kb) * 1024;
}

const [kind, cert, key, dataDir] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (cert === undefined || key === undefined || (kind === 'nexo' && dataDir === undefined)) {
  console.error('usage: idle-servers.js raw <cert> <key> | nexo <cert> <key> <dataDir>');
  process.exit(2);
}
if (gc === undefined || process.send === undefined) {
  console.error('idle-servers.js runs forked by bench/idle.ts, with --expose-gc');
  process.exit(2);
}
const ports = kind === 'nexo' ? await nexo(cert, key, dataDir!) : await raw(cert, key);
function open(): number {
  const byTransport = node?.connectionsByTransport();
  return byTransport === undefined ? held : byTransport.tcp + byTransport.tls;
}

process.on('message', (message) => {
  if (message === 'count') process.send!({ open: open() });
  if (message !== 'measure') return;
  gc();
  gc();
  process.send!({ rss: rss(), heapUsed: process.memoryUsage().heapUsed, open: open() } satisfies IdleMemory);
});
process.send(ports);
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0)); // the benchmark is over (or died)
