import net from 'node:net';
import type { ConduitHandler, TransportListener } from './types.js';

/** One listener for every socket's errors (a closure per socket costs each idle connection its bytes). */
export function ignoreSocketError(): void {}

export interface TcpListenOptions {
  host: string;
  port: number;
  backlog?: number;
}

/** Plain TCP: each accepted socket is a conduit. */
export function listenTcp(options: TcpListenOptions, onConduit: ConduitHandler): Promise<TransportListener> {
  // allowHalfOpen: a client that half-closes (`printf … | nc`) still gets the replies to what it sent; the
  // connection ends our side itself once those are written (spec §7.3.4, §8.4).
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    // Without a listener an ECONNRESET between accept and the node taking the socket would crash the process.
    socket.on('error', ignoreSocketError);
    onConduit({
      stream: socket,
      peer: {
        transport: 'tcp',
        address: socket.remoteAddress ?? 'unknown',
        port: socket.remotePort ?? 0,
        secure: false,
      },
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port, backlog: options.backlog ?? 511 }, () => {
      server.off('error', reject);
      server.on('error', () => {}); // accept errors (EMFILE) must not crash the node; the socket is dropped
      const bound = server.address() as net.AddressInfo;
      resolve({
        kind: 'tcp',
        address: () => ({ host: bound.address, port: bound.port }),
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
