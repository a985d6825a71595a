/**
 * The ceiling of bench/idle.ts, in a process of its own (`node idle-servers.js <cert> <key>`): a raw Node
 * `net` server and a raw `tls` server (the same certificate as the node's) that accept connections and
 * hold them, reading and dropping whatever arrives. Prints `port <tcp> tls <tls>` when listening.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import tls from 'node:tls';

const hold = (socket: net.Socket) => {
  socket.on('data', () => {});
  socket.on('error', () => {});
};

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

const [cert, key] = process.argv.slice(2);
if (cert === undefined || key === undefined) {
  console.error('usage: idle-servers.js <cert.pem> <key.pem>');
  process.exit(2);
}
const tcp = await listen(net.createServer(hold));
const secure = await listen(tls.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, hold));
process.stdout.write(`port ${tcp} tls ${secure}\n`);
process.on('SIGTERM', () => process.exit(0));
