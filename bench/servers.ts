/**
 * Servers under test, run in a child process (`node servers.js <kind>`) so that the load generator and the
 * server each have a core, as they would on two machines. Prints `port <n>` when listening.
 */
import net from 'node:net';
import { NexoNode } from '../src/server/node.js';

/** The ceiling: a raw Node TCP server echoing u32-length-prefixed frames, one write per batch of replies. */
function rawEchoServer(): Promise<number> {
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
const port = kind === 'raw' ? await rawEchoServer() : kind === 'nexo' ? await nexoServer() : undefined;
if (port === undefined) {
  console.error('usage: servers.js raw|nexo');
  process.exit(2);
}
process.stdout.write(`port ${port}\n`);
// A clean exit on SIGTERM lets `node --cpu-prof servers.js nexo` write its profile.
process.on('SIGTERM', () => process.exit(0));
